"""Poison messages among a steady stream of good ones, then ops at work with the real CLI.

followup's consumer (as `rapport serve followup consumer` runs it, in a thread so the test can
take its calendar down) gets, every round: an unparseable body, schema-invalid data, an unknown
``ce-specversion``, an unknown event version (``session.completed.v2``, bound to its queue), an
event its handler can never store (a too-long organisation id: PostgreSQL refuses it each time)
and one that fails only while the clinic calendar is down. Meanwhile good events keep arriving.
Each poison lands in the dead-letter queue with its error and attempt count after the bounded
retries; good events keep their latency; `rapport dlq list|show|replay` (subprocesses) let ops
inspect and replay, and a replayed event is processed once.
"""

from __future__ import annotations

import json
import statistics
import threading
import time

import pytest
from sqlalchemy import select

from followup.models import Followup
from shared.consumer import EventConsumer, Subscription, Subscriptions
from shared.events import to_amqp
from tests.reliability.harness import Broker, count, environment, eventually, session_completed
from tests.support.platforms import run_rapport

GOOD_EVERY = 0.05  # seconds between good events
GOOD_LATENCY_BOUND = 2.0  # seconds from publish to followup, poison or not


class Calendar:
    """The clinic calendar followup's handler needs; down for the events named here."""

    def __init__(self) -> None:
        self.down_for: set[str] = set()
        self.failed: dict = {}  # event id -> the event that failed for want of the calendar


@pytest.fixture
def followup(build_service, make_database, amqp_url):
    return build_service("followup", database_url=make_database(), broker_url=amqp_url, retry_delays=(0.1, 0.3))


@pytest.fixture
def consuming(followup):
    calendar = Calendar()
    real = followup.subscriptions.entries[0]

    def schedule_followup(uow, event, data):
        if data["session_id"] in calendar.down_for:
            raise RuntimeError("the clinic calendar is unreachable")
        real.handler(uow, event, data)

    followup.subscriptions = Subscriptions(
        Subscription(real.event, real.schema, schedule_followup), *followup.subscriptions.entries[1:]
    )
    stop = threading.Event()
    consumer = EventConsumer(followup)
    thread = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
    thread.start()
    broker = Broker(followup)
    eventually(lambda: broker.queue("rapport.followup")[1] == 1, 20, "the consumer to subscribe")
    yield consumer, broker, calendar
    stop.set()
    thread.join(timeout=10)
    broker.close()


def _poison_round(broker: Broker, calendar: Calendar) -> dict[str, tuple[str, int]]:
    """Publish one of each poison; returns event id -> (expected error text, expected attempts)."""
    expected = {}

    unparseable = session_completed()
    broker.raw(b"{not json", to_amqp(unparseable).headers, routing_key="session.completed.v1", message_id=unparseable.id)
    expected[unparseable.id] = ("unreadable CloudEvent", 1)

    invalid = session_completed()
    broker.raw(b'{"session_id": 42}', to_amqp(invalid).headers, routing_key="session.completed.v1", message_id=invalid.id)
    expected[invalid.id] = ("invalid session.completed.v1 data", 1)

    future_spec = session_completed()
    message = to_amqp(future_spec)
    broker.raw(message.body, {**message.headers, "ce-specversion": "2.0"}, routing_key="session.completed.v1", message_id=future_spec.id)
    expected[future_spec.id] = ("unsupported specversion '2.0'", 1)

    v2 = session_completed()
    message = to_amqp(v2)
    broker.raw(message.body, {**message.headers, "ce-type": "rapport.session.completed.v2"}, routing_key="session.completed.v2", message_id=v2.id)
    expected[v2.id] = ("no handler for rapport.session.completed.v2", 1)

    unstorable = session_completed()
    unstorable = type(unstorable)(**{**unstorable.__dict__, "org_id": "o" * 100})
    broker.publish_event(unstorable)
    expected[unstorable.id] = ("DataError", 3)

    needs_calendar = session_completed()
    calendar.down_for.add(needs_calendar.data["session_id"])
    calendar.failed[needs_calendar.id] = needs_calendar
    broker.publish_event(needs_calendar)
    expected[needs_calendar.id] = ("RuntimeError: the clinic calendar is unreachable", 3)
    return expected


def _cli(followup, *args: str) -> str:
    result = run_rapport(["dlq", *args], environment(followup), timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_poison_is_parked_with_error_and_attempts_good_events_keep_flowing_ops_replay_once(
    followup, consuming, profile, record_fault
):
    consumer, broker, calendar = consuming
    broker.channel.queue_bind("rapport.followup", "rapport.events", "session.completed.v2")
    rounds = profile.pick(2, 10)

    published_at: dict[str, float] = {}
    stop_stream = threading.Event()

    def good_stream() -> None:
        stream = Broker(followup)
        try:
            while not stop_stream.is_set():
                event = session_completed()
                published_at[event.data["session_id"]] = time.time()
                stream.publish_event(event)
                stop_stream.wait(GOOD_EVERY)
        finally:
            stream.close()

    streamer = threading.Thread(target=good_stream, daemon=True)
    streamer.start()
    expected: dict[str, tuple[str, int]] = {}
    try:
        time.sleep(0.3)
        for _ in range(rounds):
            expected.update(_poison_round(broker, calendar))
            time.sleep(0.2)
        eventually(lambda: broker.queue("rapport.followup.dlq")[0] == len(expected), 30, "every poison to be parked")
        time.sleep(0.3)
    finally:
        stop_stream.set()
        streamer.join(timeout=10)
    eventually(lambda: count(followup, Followup) == len(published_at), 20, "every good event to be handled")

    with followup.sessions() as session:
        created = dict(session.execute(select(Followup.session_id, Followup.created_at)).all())
    latencies = [created[s].timestamp() - t for s, t in published_at.items()]

    listed = [json.loads(line) for line in _cli(followup, "list", "followup", "--limit", "1000").splitlines()]
    by_id = {row["event_id"]: row for row in listed}
    assert set(by_id) == set(expected), "exactly the poison is parked, each once"
    for event_id, (error, attempts) in expected.items():
        assert error in by_id[event_id]["error"], by_id[event_id]
        assert by_id[event_id]["attempts"] == attempts, by_id[event_id]
    fixable = [e for e, (error, _) in expected.items() if error.startswith("RuntimeError")]
    shown = json.loads(_cli(followup, "show", "followup", fixable[0]))
    assert shown["headers"]["x-rapport-attempts"] == 3 and "calendar" in shown["headers"]["x-rapport-error"]

    calendar.down_for.clear()  # the calendar is back: ops replay what it parked
    before = count(followup, Followup)
    for event_id in fixable:
        assert f"replayed 1: {event_id}" in _cli(followup, "replay", "followup", event_id)
    eventually(lambda: count(followup, Followup) == before + len(fixable), 20, "the replayed events")
    again = run_rapport(["dlq", "replay", "followup", fixable[0]], environment(followup), timeout=60)
    assert again.returncode != 0 and "nothing replayed" in again.stderr
    handled = consumer.stats["handled"]
    for event_id in fixable:  # published once more by mistake: absorbed by the inbox
        broker.publish_event(calendar.failed[event_id])
    eventually(lambda: consumer.stats["duplicates"] >= len(fixable), 20, "the duplicates to be absorbed")
    assert consumer.stats["handled"] == handled
    assert count(followup, Followup) == before + len(fixable)
    assert broker.queue("rapport.followup.dlq")[0] == len(expected) - len(fixable)

    assert max(latencies) < GOOD_LATENCY_BOUND, f"good events held up by poison: max {max(latencies):.2f}s"
    record_fault(
        "poison-messages",
        fault="poison messages: unparseable, schema-invalid, unknown specversion, unknown event version, handler always failing",
        injected=f"{rounds} rounds of 6 poison messages amid a good event every {GOOD_EVERY}s; `rapport dlq` CLI to list, show, replay",
        times=len(expected),
        parked=len(expected),
        lost=0,
        good_events=len(published_at),
        good_latency_p50_s=round(statistics.median(latencies), 3),
        good_latency_max_s=round(max(latencies), 3),
        replayed_processed_once=len(fixable),
    )

