"""The host's view of the four services: the only code that imports all of them."""

from __future__ import annotations

import importlib
import os
from typing import Mapping

from shared.broker import connect, declare_topology
from shared.config import SERVICES, Settings
from shared.service import Service


def build(name: str, settings: Settings | None = None) -> Service:
    return importlib.import_module(f"{name}.app").build(settings)


def create_app(service: Service):
    return importlib.import_module(f"{service.name}.app").create_app(service)


def declare_all(services: Mapping[str, Service]) -> None:
    """Declare the exchanges and every consumer's queues before anything is published.

    Run before any relay starts so that no event finds its consumer's queue missing.
    """
    for service in services.values():
        with connect(service.settings) as connection:
            connection.ensure_connection(max_retries=3, timeout=service.settings.connect_timeout)
            declare_topology(connection, service.subscriptions.topology(service))


def settings_for(name: str, environ: Mapping[str, str] = os.environ, **overrides) -> Settings:
    return Settings.from_env(name, environ, **overrides)


__all__ = ["SERVICES", "build", "create_app", "declare_all", "settings_for"]
