"""The outbox relay on the real RabbitMQ, read by a staff app written with plain pika."""

from __future__ import annotations

import json
import time
import uuid

import pika
import pytest
from sqlalchemy import select, update

from intake.app import create_app
from intake.models import Outbox
from shared.broker import BrokerUnavailable, ConfirmedPublisher
from shared.relay import OutboxRelay
from tests.conftest import token_for

pytestmark = pytest.mark.integration

CLIENT = {
    "first_name": "Grace",
    "last_name": "Hopper",
    "email": "grace@example.com",
    "phone": "+1 555 0100",
    "location_id": "loc-a",
    "preferred_channel": "email",
}
FORM = {
    "goals": ["sleep better"],
    "preferences": {"pressure": "light", "focus_areas": ["neck"], "avoid_areas": []},
    "health_history": {"conditions": ["shingles"], "medications": ["heparin"]},
}


class StaffApp:
    """What a staff app does with pika alone: its own queue bound to the events it wants."""

    def __init__(self, amqp_url: str, binding_key: str = "#") -> None:
        self.connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        self.channel = self.connection.channel()
        self.channel.exchange_declare("rapport.events", exchange_type="topic", durable=True, passive=False)
        self.queue = f"staff-app-{uuid.uuid4().hex[:8]}"
        self.channel.queue_declare(self.queue, exclusive=True)
        self.channel.queue_bind(self.queue, "rapport.events", routing_key=binding_key)

    def drain(self, expected: int, timeout: float = 10.0) -> list:
        received = []
        deadline = time.monotonic() + timeout
        while len(received) < expected and time.monotonic() < deadline:
            method, properties, body = self.channel.basic_get(self.queue, auto_ack=True)
            if method is None:
                self.connection.sleep(0.05)
                continue
            received.append((method, properties, body))
        return received

    def close(self) -> None:
        self.connection.close()


@pytest.fixture
def intake(build_service, make_database, amqp_url):
    return build_service("intake", database_url=make_database(), broker_url=amqp_url)


@pytest.fixture
def staff_app(amqp_url):
    app = StaffApp(amqp_url)
    yield app
    app.close()


def test_a_pika_staff_app_reads_cloudevents_with_exact_headers_and_no_personal_data(intake, staff_app):
    http = create_app(intake).test_client()
    headers = {**token_for(intake, "front_desk"), "X-Correlation-ID": "desk-42"}
    client = http.post("/intake/clients", json=CLIENT, headers=headers).json
    http.post(f"/intake/clients/{client['id']}/intake-forms", json=FORM, headers=headers)

    relay = OutboxRelay(intake, ConfirmedPublisher(intake.settings))
    assert relay.run_once() == 3  # two public events and the private contact card
    received = staff_app.drain(expected=2)

    assert [m.routing_key for m, _, _ in received] == ["client.registered.v1", "intake.submitted.v1"]
    method, properties, body = received[0]
    ce = properties.headers
    assert ce["ce-specversion"] == "1.0"
    assert ce["ce-type"] == "rapport.client.registered.v1"
    assert ce["ce-source"] == "/intake"
    assert ce["ce-subject"] == client["id"]
    assert ce["ce-orgid"] == "org-test" and ce["ce-locationid"] == "loc-a"
    assert ce["ce-correlationid"] == "desk-42"
    assert str(uuid.UUID(ce["ce-id"])) == ce["ce-id"]
    assert ce["ce-time"].endswith("Z")
    assert properties.content_type == "application/json"
    assert properties.delivery_mode == 2
    assert json.loads(body) == {"client_id": client["id"], "location_id": "loc-a", "preferred_channel": "email"}
    everything = b" ".join(body + json.dumps(p.headers).encode() for _, p, body in received)
    for secret in (b"Grace", b"Hopper", b"grace@example.com", b"555 0100", b"shingles", b"heparin", b"sleep better"):
        assert secret not in everything
    assert staff_app.drain(expected=1, timeout=0.5) == []  # the contact card never reaches it


def test_rows_are_marked_only_after_confirms(intake):
    http = create_app(intake).test_client()
    http.post("/intake/clients", json=CLIENT, headers=token_for(intake, "front_desk"))
    relay = OutboxRelay(intake, ConfirmedPublisher(intake.settings))
    relay.run_once()
    with intake.sessions() as session:
        statuses = dict(session.execute(select(Outbox.routing_key, Outbox.status)).all())
    # Nobody binds client.* in this vhost here: the broker confirms and returns them as unroutable.
    assert statuses == {"client.registered.v1": "unrouted", "client.contact.v1": "unrouted"}


def test_a_broker_outage_delays_events_but_never_fails_the_request(intake, staff_app):
    http = create_app(intake).test_client()
    response = http.post("/intake/clients", json=CLIENT, headers=token_for(intake, "front_desk"))
    assert response.status_code == 201

    dead_broker = intake.settings.__class__(**{**intake.settings.__dict__, "broker_url": "amqp://guest:guest@127.0.0.1:1/%2F", "connect_timeout": 1.0})
    with pytest.raises(BrokerUnavailable):
        OutboxRelay(intake, ConfirmedPublisher(dead_broker)).run_once()
    with intake.sessions() as session:
        rows = session.execute(select(Outbox)).scalars().all()
    assert {row.status for row in rows} == {"pending"}
    assert all(row.claimed_by is None for row in rows), "released for the next attempt"

    assert OutboxRelay(intake, ConfirmedPublisher(intake.settings)).run_once() == 2
    assert [m.routing_key for m, _, _ in staff_app.drain(expected=1)] == ["client.registered.v1"]


def test_rows_left_claimed_by_a_dead_relay_are_republished_after_the_lease(intake, staff_app):
    http = create_app(intake).test_client()
    http.post("/intake/clients", json=CLIENT, headers=token_for(intake, "front_desk"))
    dead = OutboxRelay(intake, ConfirmedPublisher(intake.settings))
    claimed = dead.claim()  # ... and the process dies before publishing or marking
    assert len(claimed) == 2
    survivor = OutboxRelay(intake, ConfirmedPublisher(intake.settings))
    assert survivor.run_once() == 0, "still leased to the dead relay"
    with intake.sessions() as session:
        session.execute(update(Outbox).values(claimed_until=Outbox.created_at))  # the lease runs out
        session.commit()
    assert survivor.run_once() == 2
    assert [m.routing_key for m, _, _ in staff_app.drain(expected=1)] == ["client.registered.v1"]
