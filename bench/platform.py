"""Platforms the benchmarks run against: `rapport up` (what `make up` runs) on this machine's
PostgreSQL and RabbitMQ, in its own vhost, databases and ports; and `rapport run` (embedded).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote, urlsplit

import psycopg
import requests

from shared.auth import mint
from tests.support.platforms import free_port, free_port_run

RAPPORT = str(Path(sys.executable).with_name("rapport"))
SERVICES = ("intake", "sessions", "followup", "notify")
PG_URL = os.environ.get("RAPPORT_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP_URL = os.environ.get("RAPPORT_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
ORG = "bench-org"
LOCATION = "bench-loc"


class Vhost:
    """A RabbitMQ vhost of the benchmark's own (rabbitmqctl), deleted afterwards."""

    def __init__(self, server_url: str = AMQP_URL) -> None:
        self.name = f"rapport-bench-{uuid.uuid4().hex[:8]}"
        self.server_url = server_url
        self.url = server_url

    def __enter__(self) -> "Vhost":
        if shutil.which("rabbitmqctl") is None:
            raise RuntimeError("rabbitmqctl is needed to make the benchmark's own vhost")
        run = lambda *a: subprocess.run(["rabbitmqctl", *a], check=True, capture_output=True, timeout=60)  # noqa: E731
        run("add_vhost", self.name)
        user = urlsplit(self.server_url).username or "guest"
        run("set_permissions", "-p", self.name, user, ".*", ".*", ".*")
        self.url = f"{self.server_url.rsplit('/', 1)[0]}/{quote(self.name, safe='')}"
        return self

    def __exit__(self, *_exc) -> None:
        subprocess.run(["rabbitmqctl", "delete_vhost", self.name], capture_output=True, timeout=60)


def drop_database(name: str) -> None:
    with psycopg.connect(PG_URL, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Distributed:
    """`rapport up` with the benchmark's environment; stop() takes everything down again."""

    def __init__(self, root: Path, amqp_url: str, *, consumers: int = 1, extra_env: dict | None = None) -> None:
        self.root = root
        self.var = root / "var"
        self.secret = secrets.token_urlsafe(32)
        self.prefix = f"rapport_bench_{uuid.uuid4().hex[:8]}_"
        self.gateway_port = free_port()
        self.port_base = free_port_run(4)
        self.amqp_url = amqp_url
        self.consumers = consumers
        self.env = dict(os.environ)
        self.env.update(
            RAPPORT_VAR_DIR=str(self.var),
            RAPPORT_JWT_SECRET=self.secret,
            RAPPORT_GATEWAY_PORT=str(self.gateway_port),
            RAPPORT_PG_URL=PG_URL,
            RAPPORT_BROKER_URL=amqp_url,
            RAPPORT_DB_PREFIX=self.prefix,
            RAPPORT_SERVICE_PORT_BASE=str(self.port_base),
            RAPPORT_CONSUMERS=str(consumers),
            RAPPORT_LOG_LEVEL="WARNING",
        )
        self.env.pop("RAPPORT_SMTP_URL", None)
        self.env.update(extra_env or {})
        self.base_url = f"http://127.0.0.1:{self.gateway_port}"

    def start(self) -> "Distributed":
        self.root.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([RAPPORT, "up"], env=self.env, capture_output=True, text=True, timeout=240)
        if done.returncode != 0:
            self.stop()
            raise RuntimeError(f"rapport up failed: {done.stdout}\n{done.stderr}")
        return self

    def stop(self) -> None:
        subprocess.run([RAPPORT, "down"], env=self.env, capture_output=True, timeout=120)
        for service in SERVICES:
            drop_database(self.database(service))

    def __enter__(self) -> "Distributed":
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()

    def database(self, service: str) -> str:
        return f"{self.prefix}{service}"

    def db_url(self, service: str) -> str:
        return f"{PG_URL.rsplit('/', 1)[0]}/{self.database(service)}"

    def token(self, role: str = "manager", sub: str | None = None, ttl: int = 4 * 3600) -> str:
        return mint(self.secret, role=role, org=ORG, locations=[LOCATION], sub=sub, ttl_seconds=ttl)

    def pids(self) -> dict[str, int]:
        found = {}
        for pid_file in sorted((self.var / "run").glob("*.pid")):
            try:
                found[pid_file.stem] = int(pid_file.read_text().strip())
            except ValueError:
                pass
        return found


class Embedded:
    """`rapport run` (what `make run` runs) with its own RAPPORT_VAR_DIR and gateway port."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.var = root / "var"
        self.secret = secrets.token_urlsafe(32)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ)
        for key in list(self.env):
            if key.startswith("RAPPORT_") and key not in ("RAPPORT_LOG_FORMAT",):
                self.env.pop(key)
        self.env.update(
            RAPPORT_VAR_DIR=str(self.var), RAPPORT_JWT_SECRET=self.secret,
            RAPPORT_GATEWAY_PORT=str(self.port), RAPPORT_LOG_LEVEL="WARNING",
        )  # fmt: skip
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "Embedded":
        if self.root.exists():
            shutil.rmtree(self.root)
        self.root.mkdir(parents=True)
        log = open(self.root / "embedded.log", "wb")
        self.process = subprocess.Popen(
            [RAPPORT, "run", "--port", str(self.port)], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if all(requests.get(f"{self.base_url}/{s}/readyz", timeout=2).status_code == 200 for s in SERVICES):
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.3)
        self.__exit__()
        raise RuntimeError("embedded platform not ready after 90s")

    def __exit__(self, *_exc) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def token(self, role: str = "manager", sub: str | None = None, ttl: int = 4 * 3600) -> str:
        return mint(self.secret, role=role, org=ORG, locations=[LOCATION], sub=sub, ttl_seconds=ttl)
