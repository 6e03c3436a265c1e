"""The real PostgreSQL and RabbitMQ the integration and end-to-end tests use.

Where a Docker engine answers, testcontainers starts throwaway servers; otherwise the tests use
the servers named by the environment (this machine kind starts both before every run). Under
CI (``CI=true``) a missing server fails the run instead of skipping tests.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid
from contextlib import contextmanager
from typing import Iterator
from urllib.parse import quote, urlsplit

import pytest

PG_URL = os.environ.get("RAPPORT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP_URL = os.environ.get("RAPPORT_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(what: str, why: str) -> None:
    message = f"{what} is not reachable ({why})"
    if in_ci():
        pytest.fail(f"{message}; CI needs it, so this is a failure, not a skip", pytrace=False)
    pytest.skip(message)


def docker_engine_answers() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        result = subprocess.run(["docker", "info"], capture_output=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def _port_open(url: str, default_port: int) -> str | None:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), 3):
            return None
    except OSError as error:
        return str(error)


@contextmanager
def postgres_server() -> Iterator[str]:
    """URL of a PostgreSQL server on which tests may create and drop databases."""
    if docker_engine_answers():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:15", driver=None) as container:
            yield container.get_connection_url()
        return
    problem = _port_open(PG_URL, 5432)
    if problem:
        unavailable(f"PostgreSQL at {PG_URL}", problem)
    yield PG_URL


@contextmanager
def rabbitmq_server() -> Iterator[tuple[str, bool]]:
    """(AMQP URL, whether vhosts can be made with rabbitmqctl)."""
    if docker_engine_answers():
        from testcontainers.rabbitmq import RabbitMqContainer

        with RabbitMqContainer("rabbitmq:3.10") as container:
            params = container.get_connection_params()
            yield f"amqp://guest:guest@{params.host}:{params.port}/%2F", False
        return
    problem = _port_open(AMQP_URL, 5672)
    if problem:
        unavailable(f"RabbitMQ at {AMQP_URL}", problem)
    yield AMQP_URL, shutil.which("rabbitmqctl") is not None


def create_database(server_url: str, name: str) -> str:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    base = server_url.rsplit("/", 1)[0]
    return f"{base}/{name}"


def drop_database(server_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def isolated_vhost(server_url: str, can_make_vhosts: bool) -> Iterator[str]:
    """A fresh vhost for one test run, so its queues and events meet no one else's."""
    if not can_make_vhosts:
        yield server_url
        return
    vhost = f"rapport-test-{uuid.uuid4().hex[:10]}"
    run = lambda *args: subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=60)  # noqa: E731
    run("add_vhost", vhost)
    try:
        user = urlsplit(server_url).username or "guest"
        run("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
        base = server_url.rsplit("/", 1)[0]
        yield f"{base}/{quote(vhost, safe='')}"
    finally:
        subprocess.run(["rabbitmqctl", "delete_vhost", vhost], capture_output=True, timeout=60)


def new_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"
