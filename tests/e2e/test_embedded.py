"""The trust flow in embedded mode (`make run`): one process, SQLite, in-process broker."""

from __future__ import annotations

import pytest

from tests.e2e.flow import run_trust_flow, run_withdrawal_flow

pytestmark = pytest.mark.e2e


def test_the_whole_trust_flow_embedded(embedded_platform):
    ids = run_trust_flow(embedded_platform)
    run_withdrawal_flow(embedded_platform, ids)
    eml = sorted((embedded_platform.var / "mail").glob("*.eml"))
    assert len(eml) >= 8, "every message is kept as an .eml file under var/mail"
    for database in ("intake", "sessions", "followup", "notify"):
        assert (embedded_platform.var / f"{database}.db").exists(), "one SQLite database per service"


def test_the_gateway_answers_problems_for_what_no_service_serves(embedded_platform):
    response = embedded_platform.session.get(embedded_platform.base_url + "/nowhere")
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/problem+json"
    for service in ("intake", "sessions", "followup", "notify"):
        spec = embedded_platform.session.get(f"{embedded_platform.base_url}/{service}/openapi.json").json()
        assert spec["info"]["title"] == f"Rapport {service}"


def test_every_event_the_flow_published_matches_the_asyncapi_document(embedded_platform):
    import json
    import sqlite3

    from tests.support import asyncapi

    run_trust_flow(embedded_platform)
    document = asyncapi.load()
    seen, problems = set(), []
    for service in ("intake", "sessions", "followup", "notify"):
        with sqlite3.connect(embedded_platform.var / f"{service}.db") as db:
            rows = db.execute("SELECT routing_key, headers, body FROM outbox WHERE exchange = 'rapport.events'").fetchall()
        for routing_key, headers, body in rows:
            seen.add(routing_key)
            problems += asyncapi.problems(document, routing_key, json.loads(headers), json.loads(body))
    assert problems == []
    assert len(seen) >= 11, sorted(seen)
