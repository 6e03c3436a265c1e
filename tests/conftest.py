"""Fixtures shared by the cross-service tests: real servers, fresh databases, built services."""

from __future__ import annotations

import importlib
from typing import Callable

import pytest

from shared.auth import mint
from shared.config import Settings
from shared.service import Service
from tests.support import servers

ORG = "org-test"
LOCATION = "loc-a"
OTHER_LOCATION = "loc-b"


@pytest.fixture(scope="session")
def pg_server():
    with servers.postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def rabbitmq_server():
    with servers.rabbitmq_server() as server:
        yield server


@pytest.fixture
def amqp_url(rabbitmq_server):
    """A fresh vhost per test: its exchanges, queues and events meet no other test's."""
    url, can_make_vhosts = rabbitmq_server
    with servers.isolated_vhost(url, can_make_vhosts) as isolated:
        yield isolated


@pytest.fixture
def make_database(pg_server) -> Callable[[str], str]:
    """Creates a fresh PostgreSQL database per call; all are dropped after the test."""
    created: list[str] = []

    def make(prefix: str = "rapport_t") -> str:
        name = servers.new_name(prefix)
        created.append(name)
        return servers.create_database(pg_server, name)

    yield make
    for name in created:
        servers.drop_database(pg_server, name)


@pytest.fixture
def build_service(tmp_path, monkeypatch) -> Callable[..., Service]:
    """Builds a service from its composition root with a migrated database.

    ``build_service("sessions", database_url=..., broker_url=..., followup_delay=...)``
    """
    monkeypatch.setenv("RAPPORT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("RAPPORT_JWT_SECRET", "test-secret-" + "x" * 32)
    built: list[Service] = []

    def build(name: str, **overrides) -> Service:
        overrides.setdefault("database_url", f"sqlite:///{tmp_path}/{name}.db")
        overrides.setdefault("retry_delays", (0.1, 0.2))
        overrides.setdefault("relay_poll_interval", 0.02)
        settings = Settings.from_env(name, **overrides)
        service = importlib.import_module(f"{name}.app").build(settings)
        service.migrate()
        built.append(service)
        return service

    yield build
    for service in built:
        service.close()


def token_for(service: Service, role: str, *, sub: str | None = None, locations=(LOCATION,), org=ORG) -> dict:
    """Authorization header for a role in the test organisation."""
    token = mint(service.settings.jwt_secret, role=role, org=org, locations=list(locations), sub=sub)
    return {"Authorization": f"Bearer {token}"}
