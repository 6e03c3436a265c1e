"""sessions against the real PostgreSQL: bookings gated by consent and holds, the session life
cycle, what each role sees, and the events it consumes (delivered the way the consumer does)."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import date, datetime, timedelta, timezone
from urllib.parse import quote

import pytest
from sqlalchemy import func, select, text

from sessions.app import create_app
from sessions.models import AuditEntry, Clearance, ClientHolds, Consent, Inbox, Outbox, TreatmentSession
from shared.consumer import PoisonMessage, dispatch
from shared.events import Event, to_amqp
from tests.conftest import LOCATION, ORG, OTHER_LOCATION, token_for

pytestmark = pytest.mark.integration

SOAP = {
    "subjective": "stiff neck after long drives",
    "objective": "hypertonic left trapezius",
    "assessment": "postural strain",
    "plan": "fortnightly swedish, stretches",
}
AFTERCARE = ["Drink water", "Gentle neck rolls twice a day"]


@pytest.fixture
def sessions(build_service, make_database):
    return build_service("sessions", database_url=make_database())


@pytest.fixture
def http(sessions):
    return create_app(sessions).test_client()


# Events in, the way the consumer delivers them.


def deliver(service, routing_key: str, data: dict, *, org=ORG, location=LOCATION, event_id=None):
    event = Event(
        routing_key=routing_key,
        source="/intake",
        subject=data.get("consent_id") or data.get("client_id") or "unknown",
        org_id=org,
        location_id=location,
        data=data,
        id=event_id or str(uuid.uuid4()),
    )
    message = to_amqp(event)
    return dispatch(service, message.headers, message.content_type, message.body)


def grant(service, client_id: str, *, consent_id=None, version=1, techniques=("swedish",),
          areas=("neck", "shoulders", "upper_back"), excluded=("feet",), valid_until: date | None = None,
          location=LOCATION, event_id=None) -> str:  # fmt: skip
    consent_id = consent_id or str(uuid.uuid4())
    deliver(service, "consent.granted.v1", {
        "consent_id": consent_id,
        "client_id": client_id,
        "version": version,
        "scope": {"techniques": list(techniques), "areas": list(areas), "excluded_areas": list(excluded)},
        "granted_at": datetime.now(timezone.utc).isoformat(),
        "valid_until": valid_until.isoformat() if valid_until else None,
    }, location=location, event_id=event_id)  # fmt: skip
    return consent_id


def withdraw(service, client_id: str, consent_id: str, *, version=2, event_id=None):
    return deliver(service, "consent.withdrawn.v1", {
        "consent_id": consent_id,
        "client_id": client_id,
        "version": version,
        "withdrawn_at": datetime.now(timezone.utc).isoformat(),
    }, event_id=event_id)  # fmt: skip


def submit_intake(service, client_id: str, version: int, holds: list[str], *, event_id=None):
    return deliver(service, "intake.submitted.v1", {
        "client_id": client_id,
        "form_id": str(uuid.uuid4()),
        "version": version,
        "contraindications": [*holds, "diabetes"],
        "holds": holds,
    }, event_id=event_id)  # fmt: skip


# HTTP helpers.


def at(days: float = 1, hour: int = 10, minute: int = 0) -> str:
    moment = datetime.now(timezone.utc) + timedelta(days=days)
    return moment.replace(hour=hour, minute=minute, second=0, microsecond=0).isoformat()


def new_client() -> str:
    return str(uuid.uuid4())


def add_therapist(http, service, **changes) -> dict:
    body = {"display_name": "Sam", "location_id": LOCATION, "techniques": ["swedish", "deep_tissue"], **changes}
    response = http.post("/sessions/therapists", json=body, headers=token_for(service, "org_admin", locations=("*",)))
    assert response.status_code == 201, response.json
    return response.json


def booking(client_id: str, therapist_id: str, **changes) -> dict:
    return {
        "client_id": client_id,
        "therapist_id": therapist_id,
        "location_id": LOCATION,
        "starts_at": at(),
        "duration_minutes": 60,
        "technique": "swedish",
        "areas": ["neck", "shoulders"],
        **changes,
    }


def book(http, service, client_id, therapist_id, *, headers=None, **changes):
    return http.post(
        "/sessions/sessions",
        json=booking(client_id, therapist_id, **changes),
        headers=headers or token_for(service, "front_desk"),
    )


def booked(http, service, client_id, therapist_id, **changes) -> dict:
    response = book(http, service, client_id, therapist_id, **changes)
    assert response.status_code == 201, response.json
    return response.json


def as_therapist(service, therapist: dict) -> dict:
    return token_for(service, "therapist", sub=therapist["id"])


def act(http, service, session: dict, action: str, therapist: dict, body=None):
    return http.post(
        f"/sessions/sessions/{session['id']}/{action}", json=body, headers=as_therapist(service, therapist)
    )


def ready_client(http, service, therapist=None, **consent) -> tuple[str, dict]:
    """A client with a consent covering swedish on neck and shoulders, and a therapist."""
    client_id = new_client()
    grant(service, client_id, **consent)
    return client_id, therapist or add_therapist(http, service)


# Reading the database.


def outbox(service) -> list[tuple[str, dict]]:
    with service.sessions() as session:
        rows = session.execute(select(Outbox).order_by(Outbox.created_at)).scalars().all()
    return [(row.routing_key, json.loads(row.body)) for row in rows]


def outbox_keys(service) -> list[str]:
    return [key for key, _ in outbox(service)]


def count(service, model) -> int:
    with service.sessions() as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def stored_session(service, session_id: str) -> TreatmentSession:
    with service.sessions() as session:
        return session.get(TreatmentSession, session_id)


def audit_actions(service) -> list[str]:
    with service.sessions() as session:
        return list(session.execute(select(AuditEntry.action).order_by(AuditEntry.at)).scalars())


def problem_type(response) -> str:
    assert response.mimetype == "application/problem+json", response.data
    return response.json["type"].removeprefix("urn:rapport:problem:")


# The life cycle.


def test_a_session_runs_from_booking_to_completion_with_its_events(http, sessions):
    client_id, therapist = ready_client(http, sessions)
    session = booked(http, sessions, client_id, therapist["id"])
    assert session["status"] == "booked" and session["version"] == 1
    assert session["ends_at"] == (datetime.fromisoformat(session["starts_at"]) + timedelta(hours=1)).isoformat()

    started = act(http, sessions, session, "start", therapist)
    assert started.status_code == 200
    assert started.json["status"] == "in_progress" and started.json["version"] == 2
    check_in = act(http, sessions, session, "check-ins", therapist, {"comfort": 4, "pressure": "firmer"})
    assert check_in.status_code == 201 and check_in.json["pressure"] == "firmer"
    completed = act(http, sessions, session, "complete", therapist, {"notes": SOAP, "aftercare": AFTERCARE})
    assert completed.status_code == 200
    assert completed.json["status"] == "completed" and completed.json["version"] == 3

    events = outbox(sessions)
    assert [key for key, _ in events] == ["session.booked.v1", "session.started.v1", "session.completed.v1"]
    assert events[0][1] == {
        "session_id": session["id"],
        "client_id": client_id,
        "therapist_id": therapist["id"],
        "starts_at": session["starts_at"],
        "duration_minutes": 60,
        "technique": "swedish",
        "areas": ["neck", "shoulders"],
    }
    assert set(events[1][1]) == {"session_id", "client_id", "therapist_id", "started_at"}
    assert events[2][1]["check_in_count"] == 1
    assert set(events[2][1]) == {"session_id", "client_id", "therapist_id", "completed_at", "check_in_count"}


def test_events_carry_no_free_text_and_it_is_encrypted_at_rest(http, sessions):
    client_id, therapist = ready_client(http, sessions)
    done = booked(http, sessions, client_id, therapist["id"], starts_at=at(1, 9))
    act(http, sessions, done, "start", therapist)
    act(http, sessions, done, "check-ins", therapist, {"comfort": 2, "pressure": "lighter", "note": "feels cold"})
    act(http, sessions, done, "complete", therapist, {"notes": SOAP, "aftercare": AFTERCARE})
    halted = booked(http, sessions, client_id, therapist["id"], starts_at=at(1, 11))
    act(http, sessions, halted, "start", therapist)
    act(http, sessions, halted, "stop", therapist, {"requested_by": "client", "reason": "felt dizzy"})
    dropped = booked(http, sessions, client_id, therapist["id"], starts_at=at(1, 13))
    front_desk = token_for(sessions, "front_desk")
    cancel = http.post(f"/sessions/sessions/{dropped['id']}/cancel", json={"reason": "has the flu"}, headers=front_desk)
    assert cancel.status_code == 200 and cancel.json["cancel_reason"] == "clinic_request"

    secrets = ("trapezius", "postural", "long drives", "Drink water", "feels cold", "felt dizzy", "has the flu")
    with sessions.sessions() as session:
        wire = " ".join(row.body + row.headers for row in session.execute(select(Outbox)).scalars())
    with sessions.engine.connect() as connection:
        stored = " ".join(
            str(value)
            for row in connection.execute(
                text("SELECT notes, aftercare, stop_reason, cancel_note FROM sessions UNION ALL "
                     "SELECT note, NULL, NULL, NULL FROM check_ins")
            )
            for value in row
        )  # fmt: skip
    for secret in secrets:
        assert secret not in wire
        assert secret not in stored
    assert dict(outbox(sessions))["session.cancelled.v1"]["reason"] == "clinic_request"
    assert dict(outbox(sessions))["session.stopped.v1"]["requested_by"] == "client"


def test_reading_a_session_shows_check_ins_and_only_the_care_team_sees_notes(http, sessions):
    client_id, therapist = ready_client(http, sessions)
    session = booked(http, sessions, client_id, therapist["id"])
    act(http, sessions, session, "start", therapist)
    act(http, sessions, session, "check-ins", therapist, {"comfort": 3, "pressure": "ok", "note": "tender spot"})
    act(http, sessions, session, "check-ins", therapist, {"comfort": 5, "pressure": "ok"})
    act(http, sessions, session, "complete", therapist, {"notes": SOAP, "aftercare": AFTERCARE})
    url = f"/sessions/sessions/{session['id']}"

    for reader in (as_therapist(sessions, therapist), token_for(sessions, "manager")):
        full = http.get(url, headers=reader).json
        assert full["notes"] == SOAP and full["aftercare"] == AFTERCARE
        assert [c["note"] for c in full["check_ins"]] == ["tender spot", None]
    front_desk = http.get(url, headers=token_for(sessions, "front_desk")).json
    assert len(front_desk["check_ins"]) == 2
    assert not {"notes", "aftercare", "stop_reason", "cancel_note"} & set(front_desk)
    assert all("note" not in c for c in front_desk["check_ins"])
    own = http.get(url, headers=token_for(sessions, "client", sub=client_id)).json
    assert own["aftercare"] == AFTERCARE and "notes" not in own
    assert all("note" not in c for c in own["check_ins"])

    assert audit_actions(sessions) == [
        "write_check_in_note", "write_session_notes", "read_session_notes", "read_session_notes",
    ]  # fmt: skip


# Bad input.


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"shoe_size": 42}, "shoe_size"),
        ({"duration_minutes": 10}, "duration_minutes"),
        ({"duration_minutes": 241}, "duration_minutes"),
        ({"areas": []}, "areas"),
        ({"areas": ["elbow"]}, "areas"),
        ({"technique": "reiki"}, "technique"),
        ({"starts_at": "2030-01-01T10:00:00"}, "starts_at"),
        ({"starts_at": "next tuesday"}, "starts_at"),
        ({"starts_at": (datetime.now(timezone.utc) - timedelta(minutes=20)).isoformat()}, "starts_at"),
        ({"client_id": None}, "client_id"),
    ],
)
def test_bad_booking_input_is_a_problem_and_writes_nothing(http, sessions, changes, field):
    client_id, therapist = ready_client(http, sessions)
    body = {**booking(client_id, therapist["id"]), **changes}
    response = http.post("/sessions/sessions", json=body, headers=token_for(sessions, "front_desk"))
    assert response.status_code == 422
    assert problem_type(response) == "validation"
    assert field in response.json["errors"]
    assert count(sessions, TreatmentSession) == 0
    assert outbox_keys(sessions) == []


def test_a_session_fifteen_minutes_late_may_still_be_booked(http, sessions):
    client_id, therapist = ready_client(http, sessions)
    recent = (datetime.now(timezone.utc) - timedelta(minutes=10)).isoformat()
    assert book(http, sessions, client_id, therapist["id"], starts_at=recent).status_code == 201


def test_actions_reject_unknown_fields_and_bodies_that_are_not_json(http, sessions):
    client_id, therapist = ready_client(http, sessions)
    session = booked(http, sessions, client_id, therapist["id"])
    assert act(http, sessions, session, "start", therapist, {"force": True}).status_code == 422
    headers = {**token_for(sessions, "front_desk"), "Content-Type": "application/json"}
    assert http.post("/sessions/sessions", data="{nope", headers=headers).status_code == 400
    assert stored_session(sessions, session["id"]).status == "booked"
    assert outbox_keys(sessions) == ["session.booked.v1"]


# Consent, holds, therapists.


def test_booking_needs_a_consent_covering_the_technique_and_every_area(http, sessions):
    therapist = add_therapist(http, sessions)
    nobody = book(http, sessions, new_client(), therapist["id"])
    assert nobody.status_code == 409 and problem_type(nobody) == "consent-required"

    client_id = new_client()
    grant(sessions, client_id, areas=("neck", "shoulders", "feet"), excluded=("feet",))
    elsewhere = new_client()
    grant(sessions, elsewhere, location=OTHER_LOCATION)
    short_lived = new_client()
    grant(sessions, short_lived, valid_until=datetime.now(timezone.utc).date())
    for who, changes in (
        (client_id, {"technique": "deep_tissue"}),
        (client_id, {"areas": ["neck", "legs"]}),
        (client_id, {"areas": ["feet"]}),
        (elsewhere, {}),
        (short_lived, {"starts_at": at(days=2)}),
    ):
        response = book(http, sessions, who, therapist["id"], **changes)
        assert response.status_code == 409, (changes, response.json)
        assert problem_type(response) == "consent-required"
    assert count(sessions, TreatmentSession) == 0 and outbox_keys(sessions) == []

    ok = booked(http, sessions, client_id, therapist["id"], areas=["neck"])
    with sessions.sessions() as session:
        assert session.get(TreatmentSession, ok["id"]).consent_id == ok["consent_id"]


def test_uncleared_holds_block_booking_until_cleared_for_the_latest_form(http, sessions):
    client_id, therapist = ready_client(http, sessions)
    submit_intake(sessions, client_id, 1, ["dvt_risk", "acute_illness"])
    held = book(http, sessions, client_id, therapist["id"])
    assert held.status_code == 409 and problem_type(held) == "contraindication-hold"
    assert "dvt_risk" in held.json["detail"] and "acute_illness" in held.json["detail"]
    assert held.json["holds"] == ["dvt_risk", "acute_illness"]

    clear = f"/sessions/clients/{client_id}/clearances"
    by_therapist = as_therapist(sessions, therapist)
    cleared = http.post(clear, json={"contraindication": "dvt_risk", "note": "GP letter on file"}, headers=by_therapist)
    assert cleared.status_code == 201 and cleared.json["form_version"] == 1
    still = book(http, sessions, client_id, therapist["id"])
    assert problem_type(still) == "contraindication-hold"
    assert "acute_illness" in still.json["detail"] and "dvt_risk" not in still.json["detail"]
    assert still.json["holds"] == ["acute_illness"]
    http.post(clear, json={"contraindication": "acute_illness", "note": "recovered"}, headers=by_therapist)
    booked(http, sessions, client_id, therapist["id"])

    submit_intake(sessions, client_id, 2, ["dvt_risk"])
    again = book(http, sessions, client_id, therapist["id"], starts_at=at(days=2))
    assert problem_type(again) == "contraindication-hold" and "dvt_risk" in again.json["detail"]

    with sessions.engine.connect() as connection:
        assert "GP letter" not in connection.execute(text("SELECT string_agg(note, ' ') FROM clearances")).scalar_one()
    assert audit_actions(sessions) == ["write_clearance_note", "write_clearance_note"]


def test_clearing_needs_a_known_client_and_a_current_hold(http, sessions):
    client_id, therapist = ready_client(http, sessions)
    manager = token_for(sessions, "manager")
    body = {"contraindication": "dvt_risk", "note": "reviewed"}
    url = f"/sessions/clients/{client_id}/clearances"

    unknown = http.post(f"/sessions/clients/{new_client()}/clearances", json=body, headers=manager)
    assert unknown.status_code == 404
    no_holds = http.post(url, json=body, headers=manager)
    assert no_holds.status_code == 409 and problem_type(no_holds) == "no-such-hold"
    submit_intake(sessions, client_id, 1, ["dvt_risk"])
    not_a_hold = http.post(url, json={**body, "contraindication": "diabetes"}, headers=manager)
    assert problem_type(not_a_hold) == "no-such-hold"
    assert http.post(url, json=body, headers=manager).status_code == 201
    twice = http.post(url, json=body, headers=manager)
    assert twice.status_code == 409 and problem_type(twice) == "already-cleared"

    elsewhere = token_for(sessions, "manager", locations=(OTHER_LOCATION,))
    assert http.post(url, json=body, headers=elsewhere).status_code == 404
    assert http.post(url, json=body, headers=token_for(sessions, "front_desk")).status_code == 403
    no_note = http.post(url, json={"contraindication": "dvt_risk"}, headers=manager)
    assert no_note.status_code == 422 and "note" in no_note.json["errors"]
    assert count(sessions, Clearance) == 1


def test_the_therapist_must_be_known_active_local_and_qualified(http, sessions):
    client_id, therapist = ready_client(http, sessions)
    elsewhere = add_therapist(http, sessions, location_id=OTHER_LOCATION)
    admin = token_for(sessions, "org_admin", locations=("*",))

    unknown = book(http, sessions, client_id, str(uuid.uuid4()))
    assert unknown.status_code == 404
    not_visible = book(http, sessions, client_id, elsewhere["id"])
    assert not_visible.status_code == 404
    for response in (
        book(http, sessions, client_id, elsewhere["id"], headers=admin),
        book(http, sessions, client_id, therapist["id"], technique="hot_stone"),
    ):
        assert response.status_code == 409 and problem_type(response) == "therapist-unqualified"
    paused = http.patch(f"/sessions/therapists/{therapist['id']}", json={"active": False}, headers=admin)
    assert paused.status_code == 200 and paused.json["active"] is False
    inactive = book(http, sessions, client_id, therapist["id"])
    assert problem_type(inactive) == "therapist-unqualified"
    assert count(sessions, TreatmentSession) == 0


def test_a_therapist_cannot_be_double_booked(http, sessions):
    client_id, therapist = ready_client(http, sessions)
    other_client, _ = ready_client(http, sessions, therapist)
    first = booked(http, sessions, client_id, therapist["id"], starts_at=at(1, 10))
    overlapping = book(http, sessions, other_client, therapist["id"], starts_at=at(1, 10, 30))
    assert overlapping.status_code == 409 and problem_type(overlapping) == "therapist-unavailable"
    booked(http, sessions, other_client, therapist["id"], starts_at=at(1, 11))
    booked(http, sessions, other_client, therapist["id"], starts_at=at(1, 9, 30), duration_minutes=30)
    colleague = add_therapist(http, sessions, display_name="Kim")
    booked(http, sessions, other_client, colleague["id"], starts_at=at(1, 10, 30))

    http.post(f"/sessions/sessions/{first['id']}/cancel", json={}, headers=token_for(sessions, "front_desk"))
    booked(http, sessions, other_client, therapist["id"], starts_at=at(1, 10))


def test_concurrent_bookings_of_one_slot_let_exactly_one_through(http, sessions):
    therapist = add_therapist(http, sessions)
    clients = [new_client() for _ in range(4)]
    for client_id in clients:
        grant(sessions, client_id)
    app = create_app(sessions)
    barrier = threading.Barrier(len(clients))
    statuses: list[int] = []

    def attempt(client_id: str) -> None:
        web = app.test_client()
        body = booking(client_id, therapist["id"], starts_at=at(3, 15))
        barrier.wait()
        response = web.post("/sessions/sessions", json=body, headers=token_for(sessions, "front_desk"))
        statuses.append(response.status_code)

    threads = [threading.Thread(target=attempt, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(statuses) == [201, 409, 409, 409]
    assert count(sessions, TreatmentSession) == 1
    assert outbox_keys(sessions) == ["session.booked.v1"]


def test_an_idempotent_retry_books_once(http, sessions):
    client_id, therapist = ready_client(http, sessions)
    headers = {**token_for(sessions, "front_desk"), "Idempotency-Key": "book-1"}
    body = booking(client_id, therapist["id"])
    first = http.post("/sessions/sessions", json=body, headers=headers)
    second = http.post("/sessions/sessions", json=body, headers=headers)
    assert first.status_code == second.status_code == 201 and second.json == first.json
    assert count(sessions, TreatmentSession) == 1


# Transitions.


def test_only_the_allowed_transitions_happen(http, sessions):
    client_id, therapist = ready_client(http, sessions)
    session = booked(http, sessions, client_id, therapist["id"])
    for action, body, slug in (
        ("complete", {"notes": SOAP, "aftercare": []}, "invalid-transition"),
        ("stop", {"requested_by": "therapist"}, "invalid-transition"),
        ("check-ins", {"comfort": 3, "pressure": "ok"}, "not-in-progress"),
    ):
        response = act(http, sessions, session, action, therapist, body)
        assert response.status_code == 409 and problem_type(response) == slug
    assert act(http, sessions, session, "start", therapist).status_code == 200
    assert problem_type(act(http, sessions, session, "start", therapist)) == "invalid-transition"
    cancel = http.post(f"/sessions/sessions/{session['id']}/cancel", headers=token_for(sessions, "front_desk"))
    assert cancel.status_code == 409 and problem_type(cancel) == "invalid-transition"
    act(http, sessions, session, "complete", therapist, {"notes": SOAP, "aftercare": []})
    for action, body in (("stop", {"requested_by": "client"}), ("check-ins", {"comfort": 3, "pressure": "ok"})):
        assert act(http, sessions, session, action, therapist, body).status_code == 409
    assert stored_session(sessions, session["id"]).version == 3
    assert outbox_keys(sessions) == ["session.booked.v1", "session.started.v1", "session.completed.v1"]


def test_starting_checks_consent_and_holds_again(http, sessions, monkeypatch):
    client_id, therapist = ready_client(http, sessions)
    session = booked(http, sessions, client_id, therapist["id"])
    submit_intake(sessions, client_id, 1, ["recent_injury_or_surgery"])
    held = act(http, sessions, session, "start", therapist)
    assert held.status_code == 409 and problem_type(held) == "contraindication-hold"

    expiring_client = new_client()
    grant(sessions, expiring_client, valid_until=datetime.now(timezone.utc).date() + timedelta(days=2))
    expiring = booked(http, sessions, expiring_client, therapist["id"], starts_at=at(1, 14))
    later = datetime.now(timezone.utc) + timedelta(days=3)
    monkeypatch.setattr("sessions.operations.now", lambda: later)
    expired = act(http, sessions, expiring, "start", therapist)
    assert expired.status_code == 409 and problem_type(expired) == "consent-required"
    for found in (session, expiring):
        assert stored_session(sessions, found["id"]).status == "booked"
    assert "session.started.v1" not in outbox_keys(sessions)


def test_a_client_may_stop_their_session_but_only_as_the_client(http, sessions):
    client_id, therapist = ready_client(http, sessions)
    session = booked(http, sessions, client_id, therapist["id"])
    act(http, sessions, session, "start", therapist)
    url = f"/sessions/sessions/{session['id']}/stop"
    as_client = token_for(sessions, "client", sub=client_id)
    pretending = http.post(url, json={"requested_by": "therapist"}, headers=as_client)
    assert pretending.status_code == 422 and "requested_by" in pretending.json["errors"]
    stopped = http.post(url, json={"requested_by": "client", "reason": "too much pressure"}, headers=as_client)
    assert stopped.status_code == 200 and stopped.json["status"] == "stopped"
    assert stopped.json["stop_requested_by"] == "client"
    assert dict(outbox(sessions))["session.stopped.v1"]["requested_by"] == "client"


# Consent withdrawal and the events sessions consumes.


def test_withdrawal_cancels_booked_sessions_and_stops_the_one_in_progress(http, sessions):
    therapist = add_therapist(http, sessions)
    client_id = new_client()
    consent_id = grant(sessions, client_id)
    tomorrow = booked(http, sessions, client_id, therapist["id"], starts_at=at(1, 10))
    later = booked(http, sessions, client_id, therapist["id"], starts_at=at(5, 10))
    in_a_minute = (datetime.now(timezone.utc) + timedelta(minutes=1)).isoformat()
    now_on = booked(http, sessions, client_id, therapist["id"], starts_at=in_a_minute)
    act(http, sessions, now_on, "start", therapist)
    bystander, _ = ready_client(http, sessions, therapist)
    untouched = booked(http, sessions, bystander, therapist["id"], starts_at=at(2, 10))

    withdraw(sessions, client_id, consent_id)

    for found in (tomorrow, later):
        row = stored_session(sessions, found["id"])
        assert (row.status, row.cancel_reason, row.version) == ("cancelled", "consent_withdrawn", 2)
    stopped = stored_session(sessions, now_on["id"])
    assert (stopped.status, stopped.stop_requested_by) == ("stopped", "client")
    assert stored_session(sessions, untouched["id"]).status == "booked"
    cancelled = [data for key, data in outbox(sessions) if key == "session.cancelled.v1"]
    assert sorted(d["session_id"] for d in cancelled) == sorted([tomorrow["id"], later["id"]])
    assert {d["reason"] for d in cancelled} == {"consent_withdrawn"}
    assert [d["session_id"] for k, d in outbox(sessions) if k == "session.stopped.v1"] == [now_on["id"]]


def test_withdrawal_keeps_sessions_another_active_consent_covers(http, sessions):
    therapist = add_therapist(http, sessions)
    client_id = new_client()
    grant(sessions, client_id, areas=("neck",))
    wide = grant(sessions, client_id, areas=("neck", "legs"))
    neck = booked(http, sessions, client_id, therapist["id"], areas=["neck"], starts_at=at(1, 9))
    legs = booked(http, sessions, client_id, therapist["id"], areas=["legs"], starts_at=at(1, 11))
    withdraw(sessions, client_id, wide)
    assert stored_session(sessions, neck["id"]).status == "booked"
    assert stored_session(sessions, legs["id"]).status == "cancelled"
    refused = book(http, sessions, client_id, therapist["id"], areas=["legs"], starts_at=at(2))
    assert problem_type(refused) == "consent-required"


def test_a_withdrawal_seen_before_its_grant_wins(http, sessions):
    therapist = add_therapist(http, sessions)
    client_id, consent_id = new_client(), str(uuid.uuid4())
    withdraw(sessions, client_id, consent_id, version=2)
    grant(sessions, client_id, consent_id=consent_id, version=1)
    with sessions.sessions() as session:
        consent = session.get(Consent, consent_id)
        assert (consent.status, consent.version) == ("withdrawn", 2)
    refused = book(http, sessions, client_id, therapist["id"])
    assert refused.status_code == 409 and problem_type(refused) == "consent-required"


def test_a_stale_grant_does_not_overwrite_a_newer_one(http, sessions):
    therapist = add_therapist(http, sessions)
    client_id, consent_id = new_client(), str(uuid.uuid4())
    grant(sessions, client_id, consent_id=consent_id, version=2, areas=("neck", "legs"))
    grant(sessions, client_id, consent_id=consent_id, version=1, areas=("neck",))
    with sessions.sessions() as session:
        assert session.get(Consent, consent_id).areas == ["legs", "neck"]
    booked(http, sessions, client_id, therapist["id"], areas=["legs"])


def test_older_intake_forms_do_not_replace_newer_holds(sessions):
    client_id = new_client()
    submit_intake(sessions, client_id, 2, [])
    submit_intake(sessions, client_id, 1, ["dvt_risk"])
    with sessions.sessions() as session:
        holds = session.get(ClientHolds, client_id)
        assert (holds.form_version, holds.holds, holds.org_id) == (2, [], ORG)


def test_a_redelivered_event_changes_nothing_the_second_time(http, sessions):
    therapist, client_id = add_therapist(http, sessions), new_client()
    consent_id = grant(sessions, client_id)
    booked(http, sessions, client_id, therapist["id"])
    event_id = str(uuid.uuid4())
    first = withdraw(sessions, client_id, consent_id, event_id=event_id)
    again = withdraw(sessions, client_id, consent_id, event_id=event_id)
    assert (first.handled, first.duplicates) == (1, 0)
    assert (again.handled, again.duplicates) == (0, 1)
    assert outbox_keys(sessions).count("session.cancelled.v1") == 1

    holds_event = str(uuid.uuid4())
    submit_intake(sessions, client_id, 1, ["dvt_risk"], event_id=holds_event)
    assert submit_intake(sessions, client_id, 1, ["dvt_risk"], event_id=holds_event).duplicates == 1
    with sessions.sessions() as session:
        handled = session.execute(select(Inbox.event_id).where(Inbox.event_id.in_([event_id, holds_event]))).all()
    assert len(handled) == 2


GRANT = {
    "consent_id": "c1",
    "client_id": "k1",
    "version": 1,
    "scope": {"techniques": ["swedish"], "areas": ["neck"], "excluded_areas": []},
    "granted_at": "2026-11-27T10:00:00+00:00",
    "valid_until": None,
}


@pytest.mark.parametrize(
    "routing_key, data, org",
    [
        ("consent.granted.v1", {k: v for k, v in GRANT.items() if k != "scope"}, ORG),
        ("consent.granted.v1", {**GRANT, "version": "two"}, ORG),
        ("consent.granted.v1", {**GRANT, "version": "2"}, ORG),
        ("consent.granted.v1", {**GRANT, "scope": {"techniques": ["swedish"]}}, ORG),
        ("consent.granted.v1", GRANT, ""),
        ("consent.withdrawn.v1", {"consent_id": "c1", "client_id": "k1", "version": 2}, ORG),
        ("intake.submitted.v1", {"client_id": "k1", "form_id": "f1", "version": 1, "holds": "dvt_risk"}, ORG),
        ("session.booked.v1", {"session_id": "s1"}, ORG),
    ],
)
def test_events_that_can_never_be_processed_are_poison(sessions, routing_key, data, org):
    with pytest.raises(PoisonMessage):
        deliver(sessions, routing_key, data, org=org)
    assert count(sessions, Consent) == 0 and count(sessions, ClientHolds) == 0 and count(sessions, Inbox) == 0


def test_consumed_events_may_grow_new_fields(sessions):
    data = {**GRANT, "signature_method": "tablet", "scope": {**GRANT["scope"], "modalities": ["x"]}}
    assert deliver(sessions, "consent.granted.v1", data).handled == 1
    with sessions.sessions() as session:
        assert session.get(Consent, "c1").status == "active"


# Who sees and does what.


def test_another_location_organisation_or_client_sees_404(http, sessions):
    client_id, therapist = ready_client(http, sessions)
    session = booked(http, sessions, client_id, therapist["id"])
    url = f"/sessions/sessions/{session['id']}"
    strangers = (
        token_for(sessions, "manager", locations=(OTHER_LOCATION,)),
        token_for(sessions, "manager", org="another-org"),
        token_for(sessions, "client", sub=new_client()),
    )
    for headers in strangers:
        assert http.get(url, headers=headers).status_code == 404
        assert problem_type(http.post(f"{url}/cancel", json={}, headers=headers)) == "not-found"
        assert http.get("/sessions/sessions", headers=headers).json["items"] == []
    assert http.post(f"{url}/start", headers=strangers[0]).status_code == 404
    assert http.get(f"/sessions/therapists/{therapist['id']}", headers=strangers[0]).status_code == 404
    assert stored_session(sessions, session["id"]).status == "booked"


def test_a_client_books_and_cancels_only_for_themselves(http, sessions):
    client_id, therapist = ready_client(http, sessions)
    as_client = token_for(sessions, "client", sub=client_id)
    for_someone_else = book(http, sessions, new_client(), therapist["id"], headers=as_client)
    assert for_someone_else.status_code == 403
    own = book(http, sessions, client_id, therapist["id"], headers=as_client)
    assert own.status_code == 201
    cancel_url = f"/sessions/sessions/{own.json['id']}/cancel"
    cancelled = http.post(cancel_url, json={"reason": "work trip"}, headers=as_client)
    assert cancelled.status_code == 200 and cancelled.json["cancel_reason"] == "client_request"
    assert dict(outbox(sessions))["session.cancelled.v1"]["reason"] == "client_request"
    listed = http.get("/sessions/sessions", headers=as_client).json["items"]
    assert [s["id"] for s in listed] == [own.json["id"]]


@pytest.mark.parametrize(
    "role, method, path, body",
    [
        ("front_desk", "post", "/sessions/sessions/{session}/start", None),
        ("client", "post", "/sessions/sessions/{session}/start", None),
        ("therapist", "post", "/sessions/sessions/{session}/cancel", {}),
        ("therapist", "post", "/sessions/sessions", {}),
        ("client", "post", "/sessions/therapists", {}),
        ("therapist", "post", "/sessions/therapists", {}),
        ("front_desk", "patch", "/sessions/therapists/{therapist}", {"active": False}),
        ("client", "get", "/sessions/therapists", None),
        ("client", "post", "/sessions/clients/{client}/clearances", {}),
    ],
)
def test_roles_that_may_not_act_get_403_and_change_nothing(http, sessions, role, method, path, body):
    client_id, therapist = ready_client(http, sessions)
    session = booked(http, sessions, client_id, therapist["id"])
    headers = token_for(sessions, role, sub=client_id if role == "client" else None)
    url = path.format(session=session["id"], therapist=therapist["id"], client=client_id)
    response = getattr(http, method)(url, json=body, headers=headers)
    assert response.status_code == 403 and problem_type(response) == "forbidden"
    assert stored_session(sessions, session["id"]).version == 1
    assert outbox_keys(sessions) == ["session.booked.v1"]


def test_only_the_sessions_own_therapist_or_a_manager_runs_it(http, sessions):
    client_id, therapist = ready_client(http, sessions)
    colleague = add_therapist(http, sessions, display_name="Kim")
    session = booked(http, sessions, client_id, therapist["id"])
    assert act(http, sessions, session, "start", colleague).status_code == 403
    assert http.get(f"/sessions/sessions/{session['id']}", headers=as_therapist(sessions, colleague)).status_code == 200
    managed = http.post(f"/sessions/sessions/{session['id']}/start", headers=token_for(sessions, "manager"))
    assert managed.status_code == 200


def test_booking_at_a_location_the_token_does_not_grant_is_forbidden(http, sessions):
    client_id, therapist = ready_client(http, sessions)
    response = book(http, sessions, client_id, therapist["id"], location_id=OTHER_LOCATION)
    assert response.status_code == 403
    assert count(sessions, TreatmentSession) == 0


# Lists.


def test_sessions_list_newest_first_with_filters_and_pages(http, sessions):
    client_id, therapist = ready_client(http, sessions)
    colleague = add_therapist(http, sessions, display_name="Kim")
    first = booked(http, sessions, client_id, therapist["id"], starts_at=at(1))
    second = booked(http, sessions, client_id, therapist["id"], starts_at=at(2))
    third = booked(http, sessions, client_id, colleague["id"], starts_at=at(3))
    http.post(f"/sessions/sessions/{second['id']}/cancel", json={}, headers=token_for(sessions, "front_desk"))
    staff = token_for(sessions, "therapist")

    page = http.get("/sessions/sessions?limit=2", headers=staff).json
    assert [s["id"] for s in page["items"]] == [third["id"], second["id"]]
    assert "notes" not in page["items"][0] and "check_ins" not in page["items"][0]
    rest = http.get(f"/sessions/sessions?limit=2&cursor={page['next_cursor']}", headers=staff).json
    assert [s["id"] for s in rest["items"]] == [first["id"]] and rest["next_cursor"] is None

    def ids(query: str) -> list[str]:
        response = http.get(f"/sessions/sessions?{query}", headers=staff)
        assert response.status_code == 200, response.json
        return [s["id"] for s in response.json["items"]]

    assert ids(f"therapist_id={therapist['id']}") == [second["id"], first["id"]]
    assert ids("status=cancelled") == [second["id"]]
    assert ids(f"client_id={client_id}&location_id={LOCATION}") == [third["id"], second["id"], first["id"]]
    day_two, day_three = (quote(at(days, 0)) for days in (2, 3))
    assert ids(f"from={day_two}&to={day_three}") == [second["id"]]
    backwards = http.get(f"/sessions/sessions?from={day_three}&to={day_two}", headers=staff)
    assert backwards.status_code == 422
    assert http.get("/sessions/sessions?status=lost", headers=staff).status_code == 422
    assert http.get(f"/sessions/sessions?location_id={OTHER_LOCATION}", headers=staff).status_code == 403


def test_therapists_are_added_listed_and_changed_by_managers(http, sessions):
    manager = token_for(sessions, "manager")
    added = http.post(
        "/sessions/therapists",
        json={"display_name": "Ana", "location_id": LOCATION, "techniques": ["sports", "swedish", "sports"]},
        headers=manager,
    )
    assert added.status_code == 201 and added.json["techniques"] == ["sports", "swedish"] and added.json["active"]
    for bad in ({"display_name": "X", "location_id": LOCATION, "techniques": []},
                {"display_name": "X", "location_id": LOCATION, "techniques": ["reiki"]},
                {"display_name": "X", "location_id": LOCATION, "techniques": ["swedish"], "email": "x@y"}):  # fmt: skip
        assert http.post("/sessions/therapists", json=bad, headers=manager).status_code == 422
    elsewhere = {"display_name": "Bo", "location_id": OTHER_LOCATION, "techniques": ["swedish"]}
    assert http.post("/sessions/therapists", json=elsewhere, headers=manager).status_code == 403

    listed = http.get(f"/sessions/therapists?location_id={LOCATION}", headers=token_for(sessions, "front_desk")).json
    assert [t["id"] for t in listed["items"]] == [added.json["id"]]
    url = f"/sessions/therapists/{added.json['id']}"
    changed = http.patch(url, json={"techniques": ["hot_stone"]}, headers=manager)
    assert changed.status_code == 200 and changed.json["techniques"] == ["hot_stone"]
    assert http.patch(url, json={}, headers=manager).status_code == 422
    elsewhere = token_for(sessions, "manager", locations=(OTHER_LOCATION,))
    assert http.get("/sessions/therapists", headers=elsewhere).json["items"] == []
    assert http.get(url, headers=elsewhere).status_code == 404
