"""followup against the real PostgreSQL: events in, check-ins out, answers and escalations."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from followup.app import create_app
from followup.jobs import release_due_followups
from followup.models import AuditEntry, Followup, Inbox, Outbox, Response
from shared.clock import now
from shared.consumer import Outcome, PoisonMessage, dispatch
from shared.events import Event, to_amqp
from tests.conftest import LOCATION, ORG, OTHER_LOCATION, token_for

pytestmark = pytest.mark.integration

DELAY = timedelta(hours=1)
CALM = {"wellbeing": 4, "pain_before": 6, "pain_after": 3, "soreness": "mild", "adverse_reaction": False}


@pytest.fixture
def followup(build_service, make_database):
    return build_service("followup", database_url=make_database(), followup_delay=DELAY)


@pytest.fixture
def http(followup):
    return create_app(followup).test_client()


def deliver(service, routing_key: str, data: dict, *, org=ORG, location=LOCATION, event_id=None) -> Outcome:
    event = Event(
        routing_key=routing_key,
        source="/sessions" if routing_key.startswith("session.") else "/intake",
        subject=data.get("session_id") or data.get("consent_id") or "subject",
        org_id=org,
        location_id=location,
        data=data,
        **({"id": event_id} if event_id else {}),
    )
    message = to_amqp(event)
    return dispatch(service, message.headers, message.content_type, message.body)


def completed(client_id: str, *, at: datetime, session_id: str | None = None) -> dict:
    return {
        "session_id": session_id or str(uuid.uuid4()),
        "client_id": client_id,
        "therapist_id": "therapist-1",
        "completed_at": at.isoformat(),
        "check_in_count": 2,
    }


def complete_session(service, client_id: str, *, ago: timedelta = timedelta(minutes=5), **envelope) -> str:
    """Deliver session.completed; returns the followup's id."""
    data = completed(client_id, at=now() - ago)
    deliver(service, "session.completed.v1", data, **envelope)
    with service.sessions() as session:
        return session.execute(select(Followup.id).where(Followup.session_id == data["session_id"])).scalar_one()


def withdrawn(client_id: str, *, at: datetime) -> dict:
    return {"consent_id": str(uuid.uuid4()), "client_id": client_id, "version": 2, "withdrawn_at": at.isoformat()}


def stored(service, followup_id: str) -> Followup:
    with service.sessions() as session:
        return session.get(Followup, followup_id)


def published(service, routing_key: str | None = None) -> list[tuple[str, dict]]:
    query = select(Outbox).order_by(Outbox.created_at)
    if routing_key:
        query = query.where(Outbox.routing_key == routing_key)
    with service.sessions() as session:
        return [(row.routing_key, json.loads(row.body)) for row in session.execute(query).scalars()]


def count(service, model) -> int:
    with service.sessions() as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def audit_actions(service) -> list[str]:
    with service.sessions() as session:
        return list(session.execute(select(AuditEntry.action).order_by(AuditEntry.at)).scalars())


def respond(http, service, followup_id: str, body: dict, role: str = "client", **token):
    return http.post(
        f"/followup/followups/{followup_id}/responses", json=body, headers=token_for(service, role, **token)
    )


# -- scheduling and falling due -------------------------------------------------------------


def test_a_completed_session_schedules_one_followup_even_when_delivered_twice(http, followup):
    client_id = str(uuid.uuid4())
    completed_at = now() - timedelta(minutes=10)
    data = completed(client_id, at=completed_at)
    event_id = str(uuid.uuid4())
    assert deliver(followup, "session.completed.v1", data, event_id=event_id).handled == 1
    assert deliver(followup, "session.completed.v1", data, event_id=event_id).duplicates == 1
    assert deliver(followup, "session.completed.v1", data).handled == 1  # replayed under a new id

    items = http.get("/followup/followups", headers=token_for(followup, "manager")).json["items"]
    assert len(items) == 1
    item = items[0]
    assert item["status"] == "scheduled" and item["version"] == 1
    assert item["session_id"] == data["session_id"] and item["client_id"] == client_id
    assert item["location_id"] == LOCATION
    assert datetime.fromisoformat(item["due_at"]) == completed_at + DELAY
    assert published(followup) == [
        (
            "followup.scheduled.v1",
            {
                "followup_id": item["id"],
                "session_id": data["session_id"],
                "client_id": client_id,
                "due_at": (completed_at + DELAY).isoformat(),
                "version": 1,
            },
        )
    ]
    with followup.sessions() as session:
        assert session.execute(select(Followup.org_id)).scalar_one() == ORG


def test_the_due_job_releases_only_due_followups_and_only_once(followup):
    due_id = complete_session(followup, "client-a", ago=DELAY + timedelta(minutes=1))
    later_id = complete_session(followup, "client-b", ago=timedelta(minutes=1))
    assert "release-due-followups" in [job.name for job in followup.jobs]

    assert release_due_followups(followup) == 1
    assert release_due_followups(followup) == 0

    due, later = stored(followup, due_id), stored(followup, later_id)
    assert (due.status, due.version) == ("due", 2) and due.due_emitted_at is not None
    assert (later.status, later.version, later.due_emitted_at) == ("scheduled", 1, None)
    assert published(followup, "followup.due.v1") == [
        (
            "followup.due.v1",
            {"followup_id": due_id, "session_id": due.session_id, "client_id": "client-a", "version": 2},
        )
    ]


def test_the_due_job_skips_followups_another_relay_has_claimed(followup):
    followup_id = complete_session(followup, "client-a", ago=DELAY * 2)
    with followup.sessions() as other_relay:
        other_relay.execute(select(Followup).where(Followup.id == followup_id).with_for_update()).scalar_one()
        assert release_due_followups(followup) == 0
        other_relay.rollback()
    assert release_due_followups(followup) == 1
    assert len(published(followup, "followup.due.v1")) == 1


# -- answering ------------------------------------------------------------------------------


def test_a_client_answers_their_own_followup(http, followup):
    followup_id = complete_session(followup, "client-a", ago=DELAY * 2)
    release_due_followups(followup)
    answer = respond(http, followup, followup_id, {**CALM, "would_rebook": True}, sub="client-a")
    assert answer.status_code == 201, answer.json
    assert answer.json["status"] == "completed" and answer.json["escalation_reasons"] == []
    assert answer.json["version"] == 3 and answer.json["responded_at"]
    assert answer.json["response"]["wellbeing"] == 4 and answer.json["response"]["would_rebook"] is True
    assert answer.json["response"]["responded_by"] == "client-a"

    seen = http.get(f"/followup/followups/{followup_id}", headers=token_for(followup, "client", sub="client-a"))
    assert seen.status_code == 200 and seen.json["response"]["pain_after"] == 3
    assert [key for key, _ in published(followup)] == [
        "followup.scheduled.v1",
        "followup.due.v1",
        "followup.responded.v1",
    ]
    assert published(followup, "followup.responded.v1")[0][1] == {
        "followup_id": followup_id,
        "session_id": stored(followup, followup_id).session_id,
        "client_id": "client-a",
        "wellbeing": 4,
        "pain_after": 3,
        "status": "completed",
        "version": 3,
    }
    assert audit_actions(followup) == ["write_response", "read_response"]


@pytest.mark.parametrize(
    "changes, reasons",
    [
        ({"adverse_reaction": True}, ["adverse_reaction"]),
        ({"soreness": "severe"}, ["severe_soreness"]),
        ({"concerns": "My lower back has felt numb since."}, ["client_concern"]),
        (
            {"adverse_reaction": True, "soreness": "severe", "concerns": "Dizzy and bruised."},
            ["adverse_reaction", "severe_soreness", "client_concern"],
        ),
    ],
)
def test_warning_signs_escalate_the_followup(http, followup, changes, reasons):
    followup_id = complete_session(followup, "client-a")
    answer = respond(http, followup, followup_id, {**CALM, **changes}, sub="client-a")
    assert answer.status_code == 201
    assert answer.json["status"] == "escalated" and answer.json["escalation_reasons"] == reasons
    assert [key for key, _ in published(followup)][1:] == ["followup.responded.v1", "followup.escalated.v1"]
    escalated = published(followup, "followup.escalated.v1")[0][1]
    assert escalated["reasons"] == reasons and escalated["therapist_id"] == "therapist-1"
    assert published(followup, "followup.responded.v1")[0][1]["status"] == "escalated"


def test_blank_concerns_do_not_escalate(http, followup):
    followup_id = complete_session(followup, "client-a")
    answer = respond(http, followup, followup_id, {**CALM, "concerns": "   "}, sub="client-a")
    assert answer.json["status"] == "completed" and answer.json["response"]["concerns"] is None


def test_concerns_are_encrypted_at_rest_and_read_only_by_clinicians(http, followup):
    concern = "Sharp pain in my left shoulder when lifting"
    followup_id = complete_session(followup, "client-a")
    by_phone = respond(http, followup, followup_id, {**CALM, "concerns": concern}, "front_desk", sub="desk-1")
    assert by_phone.status_code == 201
    assert by_phone.json["response"]["responded_by"] == "desk-1"
    assert by_phone.json["response"]["responded_by_role"] == "front_desk"
    assert "concerns" not in by_phone.json["response"]

    with followup.engine.connect() as connection:
        assert concern not in connection.execute(text("SELECT concerns FROM responses")).scalar_one()
    outbox_text = " ".join(json.dumps(data) for _, data in published(followup))
    assert "shoulder" not in outbox_text

    path = f"/followup/followups/{followup_id}"
    for role, sub in (("therapist", None), ("manager", None), ("client", "client-a")):
        assert http.get(path, headers=token_for(followup, role, sub=sub)).json["response"]["concerns"] == concern
    assert "concerns" not in http.get(path, headers=token_for(followup, "front_desk")).json["response"]
    assert audit_actions(followup) == ["write_response"] + ["read_response"] * 4


def test_a_therapist_may_not_record_a_response(http, followup):
    followup_id = complete_session(followup, "client-a")
    refused = respond(http, followup, followup_id, CALM, "therapist")
    assert refused.status_code == 403
    assert refused.json["type"] == "urn:rapport:problem:forbidden"
    assert count(followup, Response) == 0 and stored(followup, followup_id).status == "scheduled"


def test_a_followup_takes_one_response(http, followup):
    followup_id = complete_session(followup, "client-a")
    assert respond(http, followup, followup_id, CALM, sub="client-a").status_code == 201
    again = respond(http, followup, followup_id, {**CALM, "adverse_reaction": True}, "manager")
    assert again.status_code == 409
    assert again.mimetype == "application/problem+json"
    assert again.json["type"] == "urn:rapport:problem:followup-closed"
    assert count(followup, Response) == 1
    assert len(published(followup, "followup.responded.v1")) == 1
    assert published(followup, "followup.escalated.v1") == []


@pytest.mark.parametrize(
    "body, field",
    [
        ({**CALM, "wellbeing": 0}, "wellbeing"),
        ({**CALM, "wellbeing": 6}, "wellbeing"),
        ({**CALM, "wellbeing": "4"}, "wellbeing"),
        ({**CALM, "wellbeing": 3.5}, "wellbeing"),
        ({**CALM, "wellbeing": True}, "wellbeing"),
        ({**CALM, "pain_after": 11}, "pain_after"),
        ({**CALM, "pain_before": -1}, "pain_before"),
        ({**CALM, "soreness": "agonising"}, "soreness"),
        ({**CALM, "adverse_reaction": "yes"}, "adverse_reaction"),
        ({**CALM, "concerns": "x" * 5001}, "concerns"),
        ({**CALM, "mood": "great"}, "mood"),
        ({k: v for k, v in CALM.items() if k != "adverse_reaction"}, "adverse_reaction"),
        ({k: v for k, v in CALM.items() if k != "pain_after"}, "pain_after"),
    ],
)
def test_bad_answers_are_a_problem_and_change_nothing(http, followup, body, field):
    followup_id = complete_session(followup, "client-a")
    response = respond(http, followup, followup_id, body, sub="client-a")
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert field in response.json["errors"]
    assert count(followup, Response) == 0 and audit_actions(followup) == []
    assert stored(followup, followup_id).status == "scheduled"
    assert [key for key, _ in published(followup)] == ["followup.scheduled.v1"]


def test_a_retried_response_with_the_same_idempotency_key_is_recorded_once(http, followup):
    followup_id = complete_session(followup, "client-a")
    headers = {**token_for(followup, "client", sub="client-a"), "Idempotency-Key": "answer-1"}
    path = f"/followup/followups/{followup_id}/responses"
    first = http.post(path, json=CALM, headers=headers)
    second = http.post(path, json=CALM, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json == first.json and second.headers["Idempotent-Replayed"] == "true"
    assert count(followup, Response) == 1
    assert len(published(followup, "followup.responded.v1")) == 1


# -- scope ----------------------------------------------------------------------------------


def test_another_location_organisation_or_client_sees_404_and_changes_nothing(http, followup):
    followup_id = complete_session(followup, "client-a")
    path = f"/followup/followups/{followup_id}"
    outsiders = [
        token_for(followup, "manager", locations=(OTHER_LOCATION,)),
        token_for(followup, "manager", org="another-org"),
        token_for(followup, "client", sub="client-b"),
    ]
    for headers in outsiders:
        seen = http.get(path, headers=headers)
        assert seen.status_code == 404 and seen.json["type"] == "urn:rapport:problem:not-found"
        answered = http.post(f"{path}/responses", json=CALM, headers=headers)
        assert answered.status_code == 404
        assert http.get("/followup/followups", headers=headers).json["items"] == []
    assert http.get("/followup/followups/no-such-id", headers=token_for(followup, "manager")).status_code == 404
    assert count(followup, Response) == 0 and stored(followup, followup_id).status == "scheduled"


def test_listing_filters_pages_and_validates(http, followup):
    first = complete_session(followup, "client-a", ago=DELAY * 3)
    second = complete_session(followup, "client-b", ago=DELAY * 2)
    third = complete_session(followup, "client-a", ago=timedelta(minutes=1))
    elsewhere = complete_session(followup, "client-c", location=OTHER_LOCATION)
    release_due_followups(followup)
    manager = token_for(followup, "manager")

    page = http.get("/followup/followups?limit=2", headers=manager).json
    assert [item["id"] for item in page["items"]] == [third, second]
    rest = http.get(f"/followup/followups?limit=2&cursor={page['next_cursor']}", headers=manager).json
    assert [item["id"] for item in rest["items"]] == [first] and rest["next_cursor"] is None

    by_client = http.get("/followup/followups?client_id=client-a", headers=manager).json["items"]
    assert [item["id"] for item in by_client] == [third, first]
    due = http.get("/followup/followups?status=due", headers=manager).json["items"]
    assert [item["id"] for item in due] == [second, first]
    own = http.get("/followup/followups", headers=token_for(followup, "client", sub="client-a")).json["items"]
    assert [item["id"] for item in own] == [third, first]
    everywhere = token_for(followup, "org_admin", locations=("*",))
    assert len(http.get("/followup/followups", headers=everywhere).json["items"]) == 4
    there = http.get(f"/followup/followups?location_id={OTHER_LOCATION}", headers=everywhere).json["items"]
    assert [item["id"] for item in there] == [elsewhere]
    assert "response" not in page["items"][0]

    for query, status in (
        ("status=lost", 422),
        ("limit=0", 422),
        ("cursor=nonsense", 422),
        ("colour=red", 422),
        (f"location_id={OTHER_LOCATION}", 403),
    ):
        answer = http.get(f"/followup/followups?{query}", headers=manager)
        assert answer.status_code == status, query
        assert answer.mimetype == "application/problem+json"


# -- cancellation ---------------------------------------------------------------------------


def test_a_cancelled_session_cancels_its_unanswered_followup(http, followup):
    followup_id = complete_session(followup, "client-a", ago=DELAY * 2)
    release_due_followups(followup)
    session_id = stored(followup, followup_id).session_id
    cancelled = {"session_id": session_id, "client_id": "client-a", "reason": None, "cancelled_at": now().isoformat()}
    assert deliver(followup, "session.cancelled.v1", cancelled).handled == 1

    row = stored(followup, followup_id)
    assert (row.status, row.cancel_reason, row.version) == ("cancelled", "session_cancelled", 3)
    assert row.cancelled_at is not None
    assert published(followup, "followup.cancelled.v1") == [
        (
            "followup.cancelled.v1",
            {
                "followup_id": followup_id,
                "session_id": session_id,
                "client_id": "client-a",
                "reason": "session_cancelled",
                "version": 3,
            },
        )
    ]
    late = respond(http, followup, followup_id, CALM, sub="client-a")
    assert late.status_code == 409 and late.json["type"] == "urn:rapport:problem:followup-closed"
    assert release_due_followups(followup) == 0


def test_a_cancellation_after_the_answer_keeps_the_answer(http, followup):
    followup_id = complete_session(followup, "client-a")
    assert respond(http, followup, followup_id, CALM, sub="client-a").status_code == 201
    session_id = stored(followup, followup_id).session_id
    cancelled = {"session_id": session_id, "client_id": "client-a", "reason": None, "cancelled_at": now().isoformat()}
    deliver(followup, "session.cancelled.v1", cancelled)
    deliver(followup, "consent.withdrawn.v1", withdrawn("client-a", at=now()))
    assert stored(followup, followup_id).status == "completed"
    assert published(followup, "followup.cancelled.v1") == []


def test_a_cancellation_from_another_organisation_changes_nothing(followup):
    followup_id = complete_session(followup, "client-a")
    session_id = stored(followup, followup_id).session_id
    cancelled = {"session_id": session_id, "client_id": "client-a", "reason": None, "cancelled_at": now().isoformat()}
    deliver(followup, "session.cancelled.v1", cancelled, org="another-org")
    deliver(followup, "consent.withdrawn.v1", withdrawn("client-a", at=now()), org="another-org")
    assert stored(followup, followup_id).status == "scheduled"


def test_a_withdrawn_consent_cancels_the_clients_unanswered_followups(http, followup):
    answered = complete_session(followup, "client-a", ago=DELAY * 3)
    due = complete_session(followup, "client-a", ago=DELAY * 2)
    release_due_followups(followup)
    scheduled = complete_session(followup, "client-a", location=OTHER_LOCATION)
    someone_else = complete_session(followup, "client-b")
    assert respond(http, followup, answered, CALM, sub="client-a").status_code == 201

    withdrawal = withdrawn("client-a", at=now())
    event_id = str(uuid.uuid4())
    assert deliver(followup, "consent.withdrawn.v1", withdrawal, event_id=event_id).handled == 1
    assert deliver(followup, "consent.withdrawn.v1", withdrawal, event_id=event_id).duplicates == 1

    assert stored(followup, answered).status == "completed"
    assert stored(followup, someone_else).status == "scheduled"
    for followup_id in (due, scheduled):
        row = stored(followup, followup_id)
        assert (row.status, row.cancel_reason) == ("cancelled", "consent_withdrawn")
    reasons = {data["followup_id"]: data["reason"] for _, data in published(followup, "followup.cancelled.v1")}
    assert reasons == {due: "consent_withdrawn", scheduled: "consent_withdrawn"}


def test_a_session_completion_arriving_after_the_withdrawal_gets_no_live_followup(followup):
    deliver(followup, "consent.withdrawn.v1", withdrawn("client-a", at=now() - timedelta(minutes=30)))
    late = complete_session(followup, "client-a", ago=timedelta(hours=2))
    row = stored(followup, late)
    assert (row.status, row.cancel_reason) == ("cancelled", "consent_withdrawn")
    assert published(followup, "followup.scheduled.v1") == []
    assert [data["followup_id"] for _, data in published(followup, "followup.cancelled.v1")] == [late]

    under_new_consent = complete_session(followup, "client-a", ago=timedelta(minutes=5))
    assert stored(followup, under_new_consent).status == "scheduled"
    assert release_due_followups(followup) == 0


# -- events that can never be handled -------------------------------------------------------


def _without_key(data: dict, key: str) -> dict:
    return {k: v for k, v in data.items() if k != key}


@pytest.mark.parametrize(
    "routing_key, data",
    [
        ("session.completed.v1", _without_key(completed("client-a", at=datetime.fromisoformat("2026-11-27T10:00:00+00:00")), "completed_at")),
        ("session.completed.v1", {**completed("client-a", at=datetime.fromisoformat("2026-11-27T10:00:00+00:00")), "completed_at": "2026-11-27T10:00:00"}),
        ("session.completed.v1", {**completed("client-a", at=datetime.fromisoformat("2026-11-27T10:00:00+00:00")), "session_id": "s" * 65}),
        ("session.completed.v1", {**completed("client-a", at=datetime.fromisoformat("2026-11-27T10:00:00+00:00")), "check_in_count": "two"}),
        ("session.cancelled.v1", {"session_id": "s-1", "client_id": "client-a", "cancelled_at": "2026-11-27T10:00:00+00:00"}),
        ("consent.withdrawn.v1", {"consent_id": "c-1", "client_id": "client-a", "withdrawn_at": "yesterday", "version": 2}),
        ("consent.granted.v1", {"consent_id": "c-1"}),
    ],
)  # fmt: skip
def test_events_that_can_never_be_handled_are_poison_and_change_nothing(followup, routing_key, data):
    with pytest.raises(PoisonMessage):
        deliver(followup, routing_key, data)
    assert count(followup, Followup) == 0 and count(followup, Inbox) == 0 and count(followup, Outbox) == 0


def test_an_event_naming_no_organisation_is_poison(followup):
    message = to_amqp(
        Event(
            routing_key="session.completed.v1",
            source="/sessions",
            subject="s-1",
            org_id=ORG,
            location_id=LOCATION,
            data=completed("client-a", at=now()),
        )
    )
    headers = {k: v for k, v in message.headers.items() if k != "ce-orgid"}
    with pytest.raises(PoisonMessage, match="organisation"):
        dispatch(followup, headers, message.content_type, message.body)
    assert count(followup, Followup) == 0 and count(followup, Inbox) == 0


# -- progress -------------------------------------------------------------------------------


def test_progress_shows_answered_sessions_in_order_with_a_trend(http, followup):
    pains = {timedelta(days=3): 7, timedelta(days=1): 5, timedelta(days=2): 6}
    for ago, pain_after in pains.items():
        followup_id = complete_session(followup, "client-a", ago=ago)
        answer = {**CALM, "pain_before": 8, "pain_after": pain_after}
        assert respond(http, followup, followup_id, answer, sub="client-a").status_code == 201
    complete_session(followup, "client-a")
    complete_session(followup, "client-a", location=OTHER_LOCATION)

    progress = http.get("/followup/clients/client-a/progress", headers=token_for(followup, "therapist"))
    assert progress.status_code == 200
    assert progress.json["sessions"] == 4
    assert [point["pain_after"] for point in progress.json["points"]] == [7, 6, 5]
    assert progress.json["trend"] == "improving"
    point = progress.json["points"][0]
    assert set(point) == {"session_id", "completed_at", "pain_before", "pain_after", "wellbeing"}
    assert point["pain_before"] == 8 and point["wellbeing"] == 4
    completed_ats = [datetime.fromisoformat(p["completed_at"]) for p in progress.json["points"]]
    assert completed_ats == sorted(completed_ats)
    assert audit_actions(followup).count("read_response") == 3

    own = http.get("/followup/clients/client-a/progress", headers=token_for(followup, "client", sub="client-a"))
    assert own.json == progress.json
    for role in ("front_desk", "manager"):
        assert http.get("/followup/clients/client-a/progress", headers=token_for(followup, role)).status_code == 200


def test_progress_outside_the_callers_scope_reads_as_nothing(http, followup):
    followup_id = complete_session(followup, "client-a")
    respond(http, followup, followup_id, CALM, sub="client-a")
    nothing = {"sessions": 0, "points": [], "trend": "unknown"}
    for headers in (
        token_for(followup, "client", sub="client-b"),
        token_for(followup, "manager", locations=(OTHER_LOCATION,)),
        token_for(followup, "manager", org="another-org"),
    ):
        answer = http.get("/followup/clients/client-a/progress", headers=headers)
        assert answer.status_code == 200 and answer.json == nothing
    unknown = http.get("/followup/clients/nobody/progress", headers=token_for(followup, "manager"))
    assert unknown.json == nothing
    one = http.get("/followup/clients/client-a/progress", headers=token_for(followup, "manager")).json
    assert (one["sessions"], len(one["points"]), one["trend"]) == (1, 1, "unknown")


# -- the service's own surface --------------------------------------------------------------


def test_the_openapi_document_and_health_answer(http):
    assert http.get("/followup/healthz").json == {"status": "ok", "service": "followup"}
    paths = http.get("/followup/openapi.json").json["paths"]
    assert {
        "/followup/followups",
        "/followup/followups/{followup_id}",
        "/followup/followups/{followup_id}/responses",
        "/followup/clients/{client_id}/progress",
    } <= set(paths)
    assert http.get("/followup/followups").status_code == 401
