"""Embedded mode: the four services in one process, each with its own SQLite database under
``var/``, talking only through an in-process broker (kombu ``memory://``), behind an in-process
gateway.

What this mode does not promise: the in-process broker keeps messages in memory, so events
published but not yet consumed when the process stops are gone (the outbox rows are already
marked published). Use the local distributed mode, or compose, for anything that must survive
a crash.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Mapping

from werkzeug.serving import make_server

from rapport import services as host
from rapport.gateway import Gateway
from shared.config import SERVICES, var_dir
from shared.runner import run_consumer, run_relay
from shared.service import Service

log = logging.getLogger("rapport.embedded")


def embedded_settings_overrides(name: str, environ: Mapping[str, str]) -> dict:
    base = var_dir(environ)
    template = environ.get("RAPPORT_DATABASE_URL", "")
    database_url = template.format(service=name) if "{service}" in template else f"sqlite:///{base / name}.db"
    return {"database_url": database_url, "broker_url": environ.get("RAPPORT_BROKER_URL", "memory://")}


class EmbeddedPlatform:
    def __init__(self, environ: Mapping[str, str] = os.environ) -> None:
        self.environ = environ
        self.stop = threading.Event()
        self.services: dict[str, Service] = {}
        self.threads: list[threading.Thread] = []
        self.server = None

    def prepare(self) -> None:
        for name in SERVICES:
            settings = host.settings_for(name, self.environ, **embedded_settings_overrides(name, self.environ))
            service = host.build(name, settings)
            service.migrate()
            self.services[name] = service
        host.declare_all(self.services)

    def start_workers(self) -> None:
        for service in self.services.values():
            for role, target in (("relay", run_relay), ("consumer", run_consumer)):
                thread = threading.Thread(
                    target=target, args=(service, self.stop), name=f"{service.name}-{role}", daemon=True
                )
                thread.start()
                self.threads.append(thread)

    def serve(self, host_address: str, port: int) -> None:
        gateway = Gateway({name: host.create_app(svc) for name, svc in self.services.items()})
        self.server = make_server(host_address, port, gateway, threaded=True)
        self.server.serve_forever()

    def shutdown(self) -> None:
        self.stop.set()
        if self.server is not None:
            threading.Thread(target=self.server.shutdown, daemon=True).start()
        for thread in self.threads:
            thread.join(timeout=5)
        for service in self.services.values():
            service.close()


def run(host_address: str, port: int, banner) -> None:
    platform = EmbeddedPlatform()
    platform.prepare()
    platform.start_workers()

    def _stop(_signum, _frame):
        platform.shutdown()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    banner(f"http://{host_address}:{port}", var_dir())
    try:
        platform.serve(host_address, port)
    finally:
        platform.shutdown()
