"""Consent events delivered out of order through the real broker to sessions' consumers.

Each consent gets a history (grant v1, withdrawal v2, new grant v3, ...). A withdrawal is
published before the grant it withdraws, a stale grant after a newer one, and the rest of the
histories shuffled and consumed by two competing `rapport serve sessions consumer` processes.
sessions' consent projection must end at the state the highest aggregate version says.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timezone

from sqlalchemy import select

from rapport.services import declare_all
from sessions.models import Consent
from shared.events import Event
from tests.reliability.harness import LOCATION, ORG, Broker, RapportProcess, count, eventually

TECHNIQUES = ["swedish", "deep_tissue", "sports", "prenatal"]
AREAS = ["neck", "back", "shoulders", "legs", "feet"]


def consent_event(consent_id: str, client_id: str, version: int) -> Event:
    """Odd versions grant (each with its own scope), even versions withdraw."""
    at = datetime.now(timezone.utc).isoformat()
    if version % 2 == 0:
        kind, data = "consent.withdrawn.v1", {"withdrawn_at": at}
    else:
        kind = "consent.granted.v1"
        data = {
            "scope": {
                "techniques": [TECHNIQUES[version % len(TECHNIQUES)]],
                "areas": [AREAS[version % len(AREAS)]],
                "excluded_areas": [],
            },
            "granted_at": at,
            "valid_until": None,
        }
    return Event(
        routing_key=kind, source="/intake", subject=consent_id, org_id=ORG, location_id=LOCATION,
        data={"consent_id": consent_id, "client_id": client_id, "version": version, **data},
    )  # fmt: skip


def expected(last: Event) -> tuple:
    if last.routing_key == "consent.withdrawn.v1":
        return ("withdrawn", last.data["version"], None)
    return ("active", last.data["version"], last.data["scope"]["techniques"])


def test_the_highest_aggregate_version_wins_whatever_the_delivery_order(
    build_service, make_database, amqp_url, tmp_path, profile, record_fault
):
    sessions = build_service("sessions", database_url=make_database(), broker_url=amqp_url)
    declare_all({"sessions": sessions})
    rng = random.Random(7)
    histories: dict[str, list[Event]] = {}
    for index in range(profile.pick(30, 200)):
        consent_id, client_id = str(uuid.uuid4()), str(uuid.uuid4())
        length = [2, 2, 3, 4][index % 4]
        histories[consent_id] = [consent_event(consent_id, client_id, v) for v in range(1, length + 1)]
    ids = list(histories)
    first_half, second_half = ids[: len(ids) // 2], ids[len(ids) // 2 :]
    # First half: every history exactly reversed (the withdrawal, or the newer grant, comes first).
    ordered = [event for c in first_half for event in reversed(histories[c])]
    # Second half: shuffled together, for competing consumers to race on.
    shuffled = [event for c in second_half for event in histories[c]]
    rng.shuffle(shuffled)

    broker = Broker(sessions)
    try:
        with RapportProcess(sessions, "consumer", tmp_path) as first:
            eventually(lambda: broker.queue("rapport.sessions")[1] == 1, 20, "the consumer to subscribe")
            for event in ordered:
                broker.publish_event(event)
            with RapportProcess(sessions, "consumer", tmp_path) as second:
                eventually(lambda: broker.queue("rapport.sessions")[1] == 2, 20, "the second consumer")
                for event in shuffled:
                    broker.publish_event(event)
                eventually(lambda: count(sessions, Consent) == len(histories), 60, "every consent projected")
                eventually(lambda: broker.queue("rapport.sessions") == (0, 2), 30, "the queue to drain")
                for process in (first, second):
                    assert process.process.poll() is None, process.tail()
        parked = broker.queue("rapport.sessions.dlq")[0]
    finally:
        broker.close()

    with sessions.sessions() as session:
        found = {
            c.consent_id: (c.status, c.version, c.techniques if c.status == "active" else None)
            for c in session.execute(select(Consent)).scalars()
        }
    wrong = {c: (found.get(c), expected(max(h, key=lambda e: e.data["version"]))) for c, h in histories.items()}
    wrong = {c: pair for c, pair in wrong.items() if pair[0] != pair[1]}
    assert parked == 0, "no consent event may be parked"
    assert wrong == {}, f"{len(wrong)} consents ended in a stale state, e.g. {list(wrong.items())[:3]}"
    events = len(ordered) + len(shuffled)
    record_fault(
        "out-of-order-consent-events",
        fault="consent events out of order (withdrawal before its grant, stale grant after a newer one)",
        injected="half the histories published newest first, half shuffled across 2 competing sessions consumers",
        times=events,
        consents=len(histories),
        stale_final_states=len(wrong),
        parked=parked,
    )
