"""The trust flow in the local distributed mode (`make up`): gunicorn, consumers and relays
per service, PostgreSQL, RabbitMQ, nginx — watched by a staff app written with plain pika."""

from __future__ import annotations

import json
import uuid

import pika
import pytest

from tests.e2e.flow import run_trust_flow, run_withdrawal_flow
from tests.support.platforms import wait_for

pytestmark = pytest.mark.e2e

PRIVATE = ("Maya", "Okafor", "maya.client@example.com", "mild hypertension", "at a desk", "trapezius",
           "tight shoulders", "bruising", "lighter pressure", "drink water", "changed my mind")  # fmt: skip


class StaffApp:
    def __init__(self, amqp_url: str) -> None:
        self.connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        self.channel = self.connection.channel()
        self.queue = f"staff-app-{uuid.uuid4().hex[:8]}"
        self.channel.queue_declare(self.queue, exclusive=True)
        self.channel.queue_bind(self.queue, "rapport.events", routing_key="#")
        self.received: list = []

    def poll(self) -> list:
        while True:
            method, properties, body = self.channel.basic_get(self.queue, auto_ack=True)
            if method is None:
                return self.received
            self.received.append((method.routing_key, properties, body))

    def keys(self) -> set[str]:
        return {key for key, _, _ in self.poll()}


def test_the_whole_trust_flow_through_nginx_with_a_pika_staff_app(distributed_platform):
    staff_app = StaffApp(distributed_platform.amqp_url)
    try:
        ids = run_trust_flow(distributed_platform)
        run_withdrawal_flow(distributed_platform, ids)
        expected = {
            "client.registered.v1", "intake.submitted.v1", "consent.granted.v1", "consent.withdrawn.v1",
            "session.booked.v1", "session.started.v1", "session.completed.v1", "session.cancelled.v1",
            "followup.scheduled.v1", "followup.due.v1", "followup.responded.v1", "followup.escalated.v1",
            "notification.sent.v1",
        }  # fmt: skip
        wait_for(lambda: expected <= staff_app.keys(), 20, f"the staff app to see {sorted(expected)}")
        for routing_key, properties, body in staff_app.received:
            headers = properties.headers
            assert headers["ce-type"] == f"rapport.{routing_key}"
            assert headers["ce-specversion"] == "1.0" and headers["ce-id"] and headers["ce-subject"]
            assert headers["ce-orgid"] == "e2e-org" and headers["ce-locationid"] == "loc-1"
            assert properties.content_type == "application/json" and properties.delivery_mode == 2
            text = body.decode() + json.dumps(headers)
            for secret in PRIVATE:
                assert secret not in text, f"{routing_key} carries {secret!r}"
    finally:
        staff_app.connection.close()

    mail = distributed_platform.mailbox.messages()
    assert any("front-desk@loc-1.example.com" in str(m["To"]) for m in mail), "the SMTP server got the staff alert"


def test_gateway_limits_and_problems_come_from_nginx(distributed_platform):
    base = distributed_platform.base_url
    headers = {**distributed_platform.token("front_desk"), "Content-Type": "application/json"}
    too_big = distributed_platform.session.post(f"{base}/intake/clients", data=b"x" * (2 * 1024 * 1024), headers=headers)
    assert too_big.status_code == 413
    assert too_big.headers["Content-Type"].startswith("application/problem+json")
    assert too_big.json()["type"] == "urn:rapport:problem:body-too-large"
    nowhere = distributed_platform.session.get(f"{base}/nowhere")
    assert nowhere.status_code == 404 and nowhere.json()["type"] == "urn:rapport:problem:not-found"
    assert distributed_platform.session.get(f"{base}/intake/clients").status_code == 401
