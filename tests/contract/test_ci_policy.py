"""In CI a missing PostgreSQL or RabbitMQ fails the run; on a laptop it skips."""

from __future__ import annotations

import pytest

from tests.support import servers


def test_a_missing_server_fails_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI needs it"):
        servers.unavailable("PostgreSQL at nowhere", "connection refused")


def test_a_missing_server_skips_outside_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        servers.unavailable("RabbitMQ at nowhere", "connection refused")


def test_the_ci_entry_point_exports_ci_and_runs_make_test():
    from pathlib import Path

    script = (Path(__file__).resolve().parents[2] / ".ci" / "run").read_text()
    assert "export CI=true" in script and "make test" in script
