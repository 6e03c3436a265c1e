"""Broker connections belong to the process and thread that use them.

gunicorn forks its workers from a master; a py-amqp connection made before the fork would be
shared by every worker, and its frames interleaved. So importing a service and building its app
(what the master and each worker do) must open no broker connection, and the readiness probe
must open its own and close it again.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from rapport import gunicorn_conf
from tests.support.platforms import wait_for
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.integration

SERVICES = ("intake", "sessions", "followup", "notify")


def test_gunicorn_builds_apps_in_each_worker_not_in_the_master():
    assert gunicorn_conf.preload_app is False


def test_importing_and_building_every_app_opens_no_broker_connection(amqp_url, tmp_path):
    with TcpProxy.fronting(amqp_url) as broker:
        script = textwrap.dedent(
            f"""
            import importlib
            for name in {SERVICES!r}:
                app = importlib.import_module(name + ".app").create_app()
                assert app is not None
            """
        )
        env = {
            **os.environ,
            "RAPPORT_BROKER_URL": broker.url(amqp_url),
            "RAPPORT_DATABASE_URL": f"sqlite:///{tmp_path}/any.db",
            "RAPPORT_VAR_DIR": str(tmp_path / "var"),
            "RAPPORT_JWT_SECRET": "fork-" + "x" * 32,
        }
        built = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
        assert built.returncode == 0, built.stderr
        assert broker.connections == [], "a broker connection was opened at import or app build"


def test_the_readiness_probe_opens_its_own_connection_and_closes_it(build_service, amqp_url):
    with TcpProxy.fronting(amqp_url) as broker:
        sessions = build_service("sessions", broker_url=broker.url(amqp_url))
        from sessions.app import create_app

        http = create_app(sessions).test_client()
        assert broker.connections == []
        assert http.get("/sessions/readyz").status_code == 200
        assert len(broker.connections) == 1
        wait_for(lambda: broker.connections[0].client_closed_at, 5, "the probe's connection to be closed")
