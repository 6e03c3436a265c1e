"""The two ways an end-to-end test meets Rapport: embedded, and `make up` (through nginx)."""

from __future__ import annotations

import secrets

import pytest

from tests.support import platforms
from tests.support.platforms import (
    EmlMailbox,
    Platform,
    log_tail,
    start_embedded,
    wait_ready,
)


@pytest.fixture
def embedded_platform(tmp_path):
    var = tmp_path / "var"
    secret = secrets.token_urlsafe(32)
    process, base_url = start_embedded(var, secret)
    try:
        wait_ready(base_url, timeout=60)
        yield Platform(base_url=base_url, secret=secret, var=var, mailbox=EmlMailbox(var / "mail"))
    except BaseException:
        print(log_tail(tmp_path / "embedded.log"))
        raise
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except Exception:
            process.kill()


@pytest.fixture
def distributed_platform(tmp_path, pg_server, amqp_url):
    """`rapport up` (what `make up` runs) on this machine's PostgreSQL and RabbitMQ, with nginx,
    its own databases, vhost and ports, and a real SMTP server receiving notify's mail."""
    with platforms.distributed_platform(tmp_path / "var", pg_server, amqp_url, "rapport_e2e") as platform:
        platform.amqp_url = amqp_url
        yield platform
