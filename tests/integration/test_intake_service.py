"""intake against the real PostgreSQL: what a front desk, a therapist and a client see."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, text

from intake.app import create_app
from intake.models import AuditEntry, Client, Outbox
from tests.conftest import LOCATION, OTHER_LOCATION, token_for

pytestmark = pytest.mark.integration

NEW_CLIENT = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada@example.com",
    "location_id": LOCATION,
    "preferred_channel": "email",
}
FORM = {
    "goals": ["less neck tension"],
    "concerns": "desk job",
    "preferences": {"pressure": "medium", "focus_areas": ["neck"], "avoid_areas": ["feet"]},
    "health_history": {"conditions": ["deep vein thrombosis"], "medications": ["apixaban"]},
}
CONSENT = {
    "scope": {"techniques": ["swedish"], "areas": ["neck", "shoulders"], "excluded_areas": ["feet"]},
    "form_version": "consent-2026-01",
    "signature": {"signed_name": "Ada Lovelace"},
}


@pytest.fixture
def intake(build_service, make_database):
    return build_service("intake", database_url=make_database())


@pytest.fixture
def http(intake):
    return create_app(intake).test_client()


def outbox_keys(service) -> list[str]:
    with service.sessions() as session:
        return list(session.execute(select(Outbox.routing_key).order_by(Outbox.created_at)).scalars())


def register(http, intake, **changes):
    response = http.post("/intake/clients", json={**NEW_CLIENT, **changes}, headers=token_for(intake, "front_desk"))
    assert response.status_code == 201, response.json
    return response.json


def test_the_consent_flow_writes_rows_and_events_together(http, intake):
    client = register(http, intake)
    staff = token_for(intake, "therapist")
    form = http.post(f"/intake/clients/{client['id']}/intake-forms", json=FORM, headers=staff)
    assert form.status_code == 201
    assert form.json["contraindications"] == ["dvt_risk", "anticoagulants"]
    assert form.json["holds"] == ["dvt_risk"]
    consent = http.post(f"/intake/clients/{client['id']}/consents", json=CONSENT, headers=staff)
    assert consent.status_code == 201
    assert consent.json["status"] == "active" and consent.json["version"] == 1
    withdrawn = http.post(f"/intake/consents/{consent.json['id']}/withdraw", json={"reason": "moving"}, headers=staff)
    assert withdrawn.status_code == 200
    assert withdrawn.json["status"] == "withdrawn" and withdrawn.json["version"] == 2
    again = http.post(f"/intake/consents/{consent.json['id']}/withdraw", json={}, headers=staff)
    assert again.status_code == 409
    assert again.json["type"] == "urn:rapport:problem:already-withdrawn"
    assert outbox_keys(intake) == [
        "client.registered.v1",
        "client.contact.v1",
        "intake.submitted.v1",
        "consent.granted.v1",
        "consent.withdrawn.v1",
    ]


def test_public_events_carry_no_personal_or_health_details(http, intake):
    client = register(http, intake)
    http.post(f"/intake/clients/{client['id']}/intake-forms", json=FORM, headers=token_for(intake, "therapist"))
    with intake.sessions() as session:
        rows = session.execute(select(Outbox).where(Outbox.exchange == "rapport.events")).scalars().all()
    bodies = " ".join(row.body + row.headers for row in rows)
    for secret in ("Ada", "Lovelace", "ada@example.com", "thrombosis", "apixaban", "desk job"):
        assert secret not in bodies


def test_health_history_is_encrypted_at_rest_and_reads_are_audited(http, intake):
    client = register(http, intake)
    http.post(f"/intake/clients/{client['id']}/intake-forms", json=FORM, headers=token_for(intake, "therapist"))
    with intake.engine.connect() as connection:
        stored = connection.execute(text("SELECT health_history FROM intake_forms")).scalar_one()
    assert "thrombosis" not in stored
    front_desk = http.get(f"/intake/clients/{client['id']}/intake-forms/latest", headers=token_for(intake, "front_desk"))
    assert "health_history" not in front_desk.json
    therapist = http.get(f"/intake/clients/{client['id']}/intake-forms/latest", headers=token_for(intake, "therapist"))
    assert therapist.json["health_history"]["conditions"] == ["deep vein thrombosis"]
    with intake.sessions() as session:
        actions = session.execute(select(AuditEntry.action).order_by(AuditEntry.at)).scalars().all()
    assert actions == ["write_health_history", "read_health_history"]


@pytest.mark.parametrize(
    "body, status, field",
    [
        ({**NEW_CLIENT, "preferred_channel": "pigeon"}, 422, "preferred_channel"),
        ({**NEW_CLIENT, "shoe_size": 42}, 422, "shoe_size"),
        ({k: v for k, v in NEW_CLIENT.items() if k != "email"}, 422, "email"),
        ({**NEW_CLIENT, "email": 12}, 422, "email"),
    ],
)
def test_bad_input_is_a_problem_and_writes_nothing(http, intake, body, status, field):
    response = http.post("/intake/clients", json=body, headers=token_for(intake, "front_desk"))
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    assert field in response.json["errors"]
    assert outbox_keys(intake) == []


def test_malformed_and_oversized_bodies(http, intake):
    headers = {**token_for(intake, "front_desk"), "Content-Type": "application/json"}
    assert http.post("/intake/clients", data="{not json", headers=headers).status_code == 400
    big = json.dumps({**NEW_CLIENT, "first_name": "x" * (1024 * 1024)})
    too_large = http.post("/intake/clients", data=big, headers=headers)
    assert too_large.status_code == 413
    assert too_large.json["type"] == "urn:rapport:problem:body-too-large"
    with intake.sessions() as session:
        assert session.execute(select(func.count()).select_from(Client)).scalar() == 0


def test_another_location_or_organisation_sees_404(http, intake):
    client = register(http, intake)
    elsewhere = token_for(intake, "manager", locations=(OTHER_LOCATION,))
    other_org = token_for(intake, "manager", org="another-org")
    for headers in (elsewhere, other_org):
        response = http.get(f"/intake/clients/{client['id']}", headers=headers)
        assert response.status_code == 404
        assert response.json["type"] == "urn:rapport:problem:not-found"
    listed = http.get("/intake/clients", headers=elsewhere)
    assert listed.json["items"] == []


def test_a_client_sees_only_themselves(http, intake):
    ada = register(http, intake)
    bob = register(http, intake, first_name="Bob", email="bob@example.com")
    as_ada = token_for(intake, "client", sub=ada["id"])
    assert http.get(f"/intake/clients/{ada['id']}", headers=as_ada).status_code == 200
    assert http.get(f"/intake/clients/{bob['id']}", headers=as_ada).status_code == 404
    assert [c["id"] for c in http.get("/intake/clients", headers=as_ada).json["items"]] == [ada["id"]]
    assert http.post("/intake/clients", json=NEW_CLIENT, headers=as_ada).status_code == 403


def test_tokens_that_are_missing_forged_or_expired_are_refused(http, intake):
    assert http.get("/intake/clients").status_code == 401
    forged = {"Authorization": "Bearer " + token_for(intake, "manager")["Authorization"].split()[1][:-4] + "AAAA"}
    assert http.get("/intake/clients", headers=forged).status_code == 401
    from shared.auth import mint

    expired = mint(intake.settings.jwt_secret, role="manager", org="o", locations=["l"], ttl_seconds=-10)
    response = http.get("/intake/clients", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401 and "expired" in response.json["detail"]


def test_idempotency_key_replays_the_first_answer(http, intake):
    headers = {**token_for(intake, "front_desk"), "Idempotency-Key": "register-ada-1"}
    first = http.post("/intake/clients", json=NEW_CLIENT, headers=headers)
    second = http.post("/intake/clients", json=NEW_CLIENT, headers=headers)
    assert second.status_code == 201 and second.json == first.json
    assert second.headers["Idempotent-Replayed"] == "true"
    different = http.post("/intake/clients", json={**NEW_CLIENT, "first_name": "Eve"}, headers=headers)
    assert different.status_code == 422
    assert different.json["type"] == "urn:rapport:problem:idempotency-key-reused"
    assert outbox_keys(intake).count("client.registered.v1") == 1


def test_consent_needs_an_intake_form_and_a_coherent_scope(http, intake):
    client = register(http, intake)
    staff = token_for(intake, "front_desk")
    no_form = http.post(f"/intake/clients/{client['id']}/consents", json=CONSENT, headers=staff)
    assert no_form.status_code == 409 and no_form.json["type"] == "urn:rapport:problem:intake-required"
    http.post(f"/intake/clients/{client['id']}/intake-forms", json=FORM, headers=staff)
    overlapping = {**CONSENT, "scope": {**CONSENT["scope"], "excluded_areas": ["neck"]}}
    response = http.post(f"/intake/clients/{client['id']}/consents", json=overlapping, headers=staff)
    assert response.status_code == 422
    unknown_area = {**CONSENT, "scope": {**CONSENT["scope"], "areas": ["elbow"]}}
    assert http.post(f"/intake/clients/{client['id']}/consents", json=unknown_area, headers=staff).status_code == 422
