"""Quorum queues (RAPPORT_QUEUE_TYPE=quorum), as compose and clusters run them, on the real
RabbitMQ 3.10: declared identically every time, with an explicit delivery limit and at-least-once
dead-lettering, so a message that keeps killing its consumer ends up parked, not redelivered
forever and not dropped."""

from __future__ import annotations

import subprocess
import threading
from urllib.parse import unquote, urlsplit

import amqp
import pytest
from sqlalchemy import select

from followup.models import Followup
from followup.subscriptions import SUBSCRIPTIONS
from shared.broker import QueueTopology, connect, declare_topology
from shared.config import Settings
from shared.consumer import EventConsumer
from shared.events import to_amqp
from tests.integration.test_consumer import completed
from tests.support.platforms import wait_for

pytestmark = pytest.mark.integration

DELIVERY_LIMIT = 2


@pytest.fixture
def quorum_settings(amqp_url, tmp_path) -> Settings:
    return Settings.from_env(
        "followup",
        {
            "RAPPORT_VAR_DIR": str(tmp_path / "var"),
            "RAPPORT_JWT_SECRET": "quorum-" + "x" * 32,
            "RAPPORT_BROKER_URL": amqp_url,
            "RAPPORT_QUEUE_TYPE": "quorum",
            "RAPPORT_DELIVERY_LIMIT": str(DELIVERY_LIMIT),
            "RAPPORT_HEARTBEAT": "5",
        },
    )


def _queue_types(amqp_url: str) -> dict[str, str]:
    vhost = unquote(urlsplit(amqp_url).path.lstrip("/")) or "/"
    listed = subprocess.run(
        ["rabbitmqctl", "list_queues", "-q", "--no-table-headers", "-p", vhost, "name", "type"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    return dict(line.split()[:2] for line in listed.splitlines() if len(line.split()) >= 2)


def _publish(settings: Settings, event) -> None:
    message = to_amqp(event)
    with connect(settings) as connection:
        connection.ensure_connection(max_retries=3)
        channel = connection.connection.channel()
        channel.basic_publish_confirm(
            amqp.Message(message.body, content_type="application/json", delivery_mode=2,
                         message_id=event.id, application_headers=message.headers),
            exchange="rapport.events", routing_key=message.routing_key, confirm_timeout=10,
        )  # fmt: skip


def test_quorum_topology_is_declared_identically_with_a_delivery_limit(quorum_settings, amqp_url):
    topology = QueueTopology.for_service(quorum_settings, SUBSCRIPTIONS.bindings())
    main = next(q for q in topology.queues() if q.name == topology.main)
    assert main.queue_arguments["x-queue-type"] == "quorum"
    assert main.queue_arguments["x-delivery-limit"] == DELIVERY_LIMIT
    assert main.queue_arguments["x-dead-letter-strategy"] == "at-least-once"
    assert main.queue_arguments["x-overflow"] == "reject-publish"
    for _ in range(2):  # a second declaration (another process, a restart) must not clash
        with connect(quorum_settings) as connection:
            connection.ensure_connection(max_retries=3)
            declare_topology(connection, topology)
    types = _queue_types(amqp_url)
    assert {q.name for q in topology.queues()} <= set(types)
    assert {types[q.name] for q in topology.queues()} == {"quorum"}


def test_a_message_that_keeps_killing_its_consumer_is_dead_lettered_after_the_limit(quorum_settings):
    """Each delivery is taken and then the consumer's connection dies without an ack (a crash
    mid-message). Past the delivery limit RabbitMQ dead-letters the message into the DLQ."""
    topology = QueueTopology.for_service(quorum_settings, SUBSCRIPTIONS.bindings())
    with connect(quorum_settings) as connection:
        connection.ensure_connection(max_retries=3)
        declare_topology(connection, topology)
    event = completed()
    _publish(quorum_settings, event)

    deliveries = 0
    for _ in range(DELIVERY_LIMIT + 5):  # bounded: a missing limit would show as too many
        crashing = amqp.Connection(**_params(quorum_settings))
        crashing.connect()
        channel = crashing.channel(1)
        message = wait_for(
            lambda: channel.basic_get(topology.main, no_ack=False) or _dead_lettered(topology, quorum_settings),
            10, "the message to be redelivered or dead-lettered",
        )  # fmt: skip
        if message == "dead-lettered":
            crashing.collect()
            break
        assert message.properties["message_id"] == event.id
        deliveries += 1
        crashing.collect()  # dies holding the unacked delivery
    assert deliveries == DELIVERY_LIMIT + 1, f"delivered {deliveries} times with a limit of {DELIVERY_LIMIT}"

    with connect(quorum_settings) as connection:
        connection.ensure_connection(max_retries=3)
        channel = connection.connection.channel()
        parked = wait_for(lambda: channel.basic_get(topology.dead_letter, no_ack=True), 10, "the message in the DLQ")
    assert parked.properties["message_id"] == event.id
    assert parked.body == to_amqp(event).body
    death = parked.properties["application_headers"]["x-death"][0]
    assert death["reason"] == "delivery_limit" and death["queue"] == topology.main


def _params(settings: Settings) -> dict:
    parts = urlsplit(settings.broker_url)
    return {
        "host": f"{parts.hostname}:{parts.port or 5672}",
        "userid": unquote(parts.username or "guest"),
        "password": unquote(parts.password or "guest"),
        "virtual_host": unquote(parts.path.lstrip("/")) or "/",
        "connect_timeout": 5,
    }


def _counts(settings: Settings, queue: str) -> tuple[int, int]:
    """(ready messages, consumers) of ``queue``; (0, 0) while it does not exist yet."""
    probe = amqp.Connection(**_params(settings))
    probe.connect()
    try:
        _, ready, consumers = probe.channel().queue_declare(queue, passive=True)
        return ready, consumers
    except amqp.exceptions.NotFound:
        return 0, 0
    finally:
        probe.collect()


def _dead_lettered(topology: QueueTopology, settings: Settings):
    return "dead-lettered" if _counts(settings, topology.dead_letter)[0] else None


def test_the_consumer_works_on_quorum_queues(build_service, make_database, amqp_url):
    followup = build_service("followup", database_url=make_database(), broker_url=amqp_url,
                             queue_type="quorum", delivery_limit=DELIVERY_LIMIT, heartbeat=5)  # fmt: skip
    consumer = EventConsumer(followup)
    stop = threading.Event()
    thread = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
    thread.start()
    try:
        main = f"rapport.{followup.name}"
        wait_for(lambda: _counts(followup.settings, main)[1], 15, "the consumer to declare its quorum queues and consume")
        event = completed()
        _publish(followup.settings, event)

        def scheduled():
            query = select(Followup).where(Followup.session_id == event.data["session_id"])
            with followup.sessions() as session:
                return session.execute(query).scalar_one_or_none()

        assert wait_for(scheduled, 15, "the followup scheduled from a quorum queue")
    finally:
        stop.set()
        thread.join(timeout=15)
    assert set(_queue_types(amqp_url).values()) == {"quorum"}
