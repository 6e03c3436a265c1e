"""A real consumer (followup's) on the real RabbitMQ and PostgreSQL: poison messages are parked
with their error, failing handlers are retried then parked, duplicates change nothing, parked
messages can be replayed — and good messages keep flowing throughout."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timezone

import amqp
import pytest
from sqlalchemy import func, select

from followup.models import Followup
from rapport.dlq import DeadLetters
from shared.broker import connect
from shared.consumer import ATTEMPTS_HEADER, ERROR_HEADER, EventConsumer, Subscription, Subscriptions
from shared.events import Event, to_amqp
from tests.support.platforms import wait_for

pytestmark = pytest.mark.integration


def completed(session_id: str | None = None, **data_changes) -> Event:
    session_id = session_id or str(uuid.uuid4())
    data = {
        "session_id": session_id,
        "client_id": str(uuid.uuid4()),
        "therapist_id": str(uuid.uuid4()),
        "completed_at": datetime.now(timezone.utc).isoformat(),
        "check_in_count": 1,
        **data_changes,
    }
    return Event(
        routing_key="session.completed.v1", source="/sessions", subject=session_id,
        org_id="org-test", location_id="loc-a", data=data,
    )  # fmt: skip


class Broker:
    """Publishes raw bytes the way anything on the network could."""

    def __init__(self, settings) -> None:
        self.connection = connect(settings)
        self.connection.ensure_connection(max_retries=3)
        self.channel = self.connection.connection.channel()

    def publish_event(self, event: Event) -> None:
        message = to_amqp(event)
        self.raw(message.body, message.headers, exchange="rapport.events", routing_key=message.routing_key)

    def raw(self, body: bytes, headers: dict, *, exchange: str = "rapport.events", routing_key: str = "session.completed.v1") -> None:
        self.channel.basic_publish_confirm(
            amqp.Message(body, content_type="application/json", delivery_mode=2, application_headers=headers),
            exchange=exchange, routing_key=routing_key,
        )  # fmt: skip

    def close(self) -> None:
        self.connection.release()


@pytest.fixture
def followup(build_service, make_database, amqp_url):
    return build_service("followup", database_url=make_database(), broker_url=amqp_url)


@pytest.fixture
def running(followup):
    """followup's consumer in a thread, as `rapport serve followup consumer` runs it."""
    stop = threading.Event()
    consumer = EventConsumer(followup)
    thread = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
    thread.start()
    broker = Broker(followup.settings)
    # The dead-letter queue is declared last: once it exists the whole topology does.
    wait_for(lambda: _queue_exists(broker, "rapport.followup.dlq"), 10, "the consumer to declare its queues")
    yield consumer, broker
    stop.set()
    thread.join(timeout=10)
    broker.close()


def _queue_exists(broker: Broker, name: str) -> bool:
    try:
        broker.connection.connection.channel().queue_declare(name, passive=True)
        return True
    except amqp.exceptions.NotFound:
        return False


def followups(service) -> int:
    with service.sessions() as session:
        return session.execute(select(func.count()).select_from(Followup)).scalar()


def test_poison_is_parked_with_its_error_and_good_messages_keep_flowing(followup, running):
    consumer, broker = running
    broker.raw(b"{not json", {"ce-id": str(uuid.uuid4())})
    bad = completed()
    broker.raw(b'{"session_id": 42}', to_amqp(bad).headers)  # schema-invalid data
    broker.raw(to_amqp(completed()).body, {**to_amqp(completed()).headers, "ce-type": "rapport.session.completed.v9"})
    broker.publish_event(completed())

    wait_for(lambda: followups(followup) == 1, 15, "the good event to be handled")
    parked = wait_for(lambda: (found := DeadLetters(followup.settings).list()) and len(found) == 3 and found, 15, "three parked messages")
    errors = sorted(p.error for p in parked)
    assert any("missing CloudEvents headers" in e for e in errors)
    assert any("invalid session.completed.v1 data" in e for e in errors)
    assert any("no handler for rapport.session.completed.v9" in e for e in errors)
    wait_for(lambda: consumer.stats["parked"] == 3, 5, f"the consumer to count what it parked: {consumer.stats}")
    assert consumer.stats["handled"] == 1


def test_a_duplicate_delivery_changes_nothing(followup, running):
    consumer, broker = running
    event = completed()
    broker.publish_event(event)
    broker.publish_event(event)
    broker.publish_event(event)
    wait_for(lambda: consumer.stats["handled"] + consumer.stats["duplicates"] == 3, 15, "three deliveries")
    assert followups(followup) == 1
    assert consumer.stats == {"handled": 1, "duplicates": 2, "retried": 0, "parked": 0}


def test_a_handler_that_keeps_failing_is_retried_then_parked_then_replayed_once(followup, running):
    consumer, broker = running
    calls = []
    real = followup.subscriptions.entries[0]

    def schedule_followup(uow, event, data):
        calls.append(event.id)
        if len(calls) <= 3:
            raise RuntimeError("the clinic calendar is unreachable")
        real.handler(uow, event, data)

    followup.subscriptions = Subscriptions(Subscription(real.event, real.schema, schedule_followup), *followup.subscriptions.entries[1:])
    event = completed()
    broker.publish_event(event)

    parked = wait_for(lambda: DeadLetters(followup.settings).list(), 15, "the message to be parked")
    assert len(calls) == 3, "first attempt plus the two configured retries"
    assert parked[0].event_id == event.id
    assert parked[0].attempts == 3
    assert "RuntimeError: the clinic calendar is unreachable" in parked[0].error
    assert followups(followup) == 0

    assert DeadLetters(followup.settings).replay(event.id) == [event.id]
    wait_for(lambda: followups(followup) == 1, 15, "the replayed message to be handled")
    assert DeadLetters(followup.settings).list() == []
    assert DeadLetters(followup.settings).replay(everything=True) == []
    broker.publish_event(event)  # replayed again by mistake: absorbed by the inbox
    wait_for(lambda: consumer.stats["duplicates"] == 1, 15, "the duplicate to be absorbed")
    assert followups(followup) == 1


def test_parked_messages_carry_their_attempts_and_error_headers(followup, running):
    _, broker = running
    broker.raw(b"[]", to_amqp(completed()).headers)
    parked = wait_for(lambda: DeadLetters(followup.settings).list(), 15, "the message to be parked")
    assert parked[0].headers[ATTEMPTS_HEADER] == 1
    assert "event data must be a JSON object" in parked[0].headers[ERROR_HEADER]
