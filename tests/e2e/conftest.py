"""The two ways an end-to-end test meets Rapport: embedded, and `make up` (through nginx)."""

from __future__ import annotations

import secrets

import pytest

from tests.support import servers
from tests.support.platforms import (
    EmlMailbox,
    Platform,
    SmtpMailbox,
    common_environment,
    free_port,
    free_port_run,
    log_tail,
    run_rapport,
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
    var = tmp_path / "var"
    secret = secrets.token_urlsafe(32)
    prefix = servers.new_name("rapport_e2e") + "_"
    mailbox = SmtpMailbox()
    mailbox.start()
    gateway_port = free_port()
    env = common_environment(var, secret, gateway_port)
    env.update(
        RAPPORT_PG_URL=pg_server,
        RAPPORT_BROKER_URL=amqp_url,
        RAPPORT_DB_PREFIX=prefix,
        RAPPORT_SERVICE_PORT_BASE=str(free_port_run(4)),
        RAPPORT_SMTP_URL=mailbox.url,
        RAPPORT_WEB_WORKERS="1",
    )
    started = run_rapport(["up"], env, timeout=180)
    try:
        if started.returncode != 0:
            logs = "\n".join(f"--- {p.name}\n{log_tail(p, 30)}" for p in sorted((var / "log").glob("*.log")))
            pytest.fail(f"rapport up failed:\n{started.stdout}\n{started.stderr}\n{logs}")
        platform = Platform(base_url=f"http://127.0.0.1:{gateway_port}", secret=secret, var=var, mailbox=mailbox)
        platform.amqp_url = amqp_url
        platform.env = env
        yield platform
    finally:
        run_rapport(["down"], env, timeout=60)
        mailbox.stop()
        for service in ("intake", "sessions", "followup", "notify"):
            servers.drop_database(pg_server, f"{prefix}{service}")
