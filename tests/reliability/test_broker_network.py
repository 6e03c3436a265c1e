"""Network faults between services and the broker, through a loopback TCP proxy.

intake's outbox relay publishes through one proxy and sessions' consumer consumes through
another; both proxies front the shared RabbitMQ (a fresh vhost per test) and only the proxies are
broken. Each test writes events before, during and after the fault and proves:

- a dead connection is noticed within 2 heartbeats, by the consumer and by the publisher;
- both come back on their own within 10 s after the fault ends;
- no outbox row is marked published without a broker confirm (a staff app reading the broker
  directly has every row marked published), and nothing written is lost.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import uuid

import pika
import pytest
from sqlalchemy import select

from intake.app import create_app as create_intake_app
from intake.models import Outbox
from rapport.dlq import DeadLetters
from sessions.models import Inbox
from shared.broker import BrokerUnavailable, ConfirmedPublisher, broker_reachable, connect, declare_topology
from shared.events import AmqpMessage
from shared.runner import run_consumer, run_relay
from tests.conftest import token_for
from tests.support.platforms import wait_for
from tests.support.tcp_proxy import TcpProxy

HEARTBEAT = 2  # seconds; short so that a test waits little for detection
CONNECT_TIMEOUT = 2.0
RECOVERY_BOUND = 10.0  # seconds after the fault ends by which everything flows again

CLIENT = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com",
          "location_id": "loc-a", "preferred_channel": "email"}  # fmt: skip
FORM = {
    "goals": ["less back pain"],
    "preferences": {"pressure": "medium", "focus_areas": ["upper_back"], "avoid_areas": []},
    "health_history": {"conditions": [], "medications": []},
}


class StaffApp:
    """Reads the broker directly (no proxy): what really arrived on ``rapport.events``."""

    def __init__(self, amqp_url: str) -> None:
        self.connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        self.channel = self.connection.channel()
        self.queue = f"staff-app-{uuid.uuid4().hex[:8]}"
        self.channel.queue_declare(self.queue, exclusive=True)
        self.channel.queue_bind(self.queue, "rapport.events", routing_key="#")
        self.received: list[str] = []

    def ids(self) -> list[str]:
        while True:
            method, properties, _ = self.channel.basic_get(self.queue, auto_ack=True)
            if method is None:
                return self.received
            self.received.append(properties.message_id)

    def close(self) -> None:
        self.connection.close()


class Platform:
    """intake (writes, relay through ``relay_proxy``) and sessions (consumer through
    ``consumer_proxy``), each loop in its own thread as in `rapport serve`."""

    def __init__(self, intake, sessions, relay_proxy: TcpProxy, consumer_proxy: TcpProxy) -> None:
        self.intake, self.sessions = intake, sessions
        self.relay_proxy, self.consumer_proxy = relay_proxy, consumer_proxy
        self.http = create_intake_app(intake).test_client()
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=run_relay, args=(intake, self.stop), daemon=True),
            threading.Thread(target=run_consumer, args=(sessions, self.stop), daemon=True),
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=15)

    def write(self) -> str:
        """Register a client and take their intake form: returns the intake.submitted event id."""
        staff = token_for(self.intake, "front_desk")
        client = self.http.post("/intake/clients", json=CLIENT, headers=staff)
        assert client.status_code == 201, client.text
        form = self.http.post(f"/intake/clients/{client.json['id']}/intake-forms", json=FORM, headers=staff)
        assert form.status_code == 201, form.text
        with self.intake.sessions() as session:
            return session.execute(
                select(Outbox.id).where(
                    Outbox.routing_key == "intake.submitted.v1", Outbox.headers.contains(client.json["id"])
                )
            ).scalar_one()

    def outbox(self) -> dict[str, tuple[str, str]]:
        """id → (status, exchange) of every outbox row."""
        with self.intake.sessions() as session:
            return {i: (s, e) for i, s, e in session.execute(select(Outbox.id, Outbox.status, Outbox.exchange))}

    def handled(self) -> set[str]:
        with self.sessions.sessions() as session:
            return set(session.execute(select(Inbox.event_id).where(Inbox.handler == "record_holds")).scalars())

    def drained(self, submitted: list[str]) -> bool:
        pending = [i for i, (status, _) in self.outbox().items() if status == "pending"]
        return not pending and set(submitted) <= self.handled()


@pytest.fixture
def platform(build_service, make_database, amqp_url):
    with TcpProxy.fronting(amqp_url) as relay_proxy, TcpProxy.fronting(amqp_url) as consumer_proxy:
        tuning = dict(heartbeat=HEARTBEAT, connect_timeout=CONNECT_TIMEOUT, confirm_timeout=10.0)
        intake = build_service("intake", database_url=make_database(), broker_url=relay_proxy.url(amqp_url), **tuning)
        sessions = build_service(
            "sessions", database_url=make_database(), broker_url=consumer_proxy.url(amqp_url), **tuning
        )
        direct = dataclasses.replace(sessions.settings, broker_url=amqp_url)
        with connect(direct) as connection:  # its queue exists before anything is published
            declare_topology(connection, sessions.subscriptions.topology(sessions))
        staff_app = StaffApp(amqp_url)
        running = Platform(intake, sessions, relay_proxy, consumer_proxy)
        running.staff_app = staff_app
        running.start()
        try:
            yield running
        finally:
            running.close()
            staff_app.close()


def _flowing(platform: Platform, count: int = 2) -> list[str]:
    """Write ``count`` events and wait until they were published and handled."""
    ids = [platform.write() for _ in range(count)]
    wait_for(lambda: platform.drained(ids), 15, "events to flow before the fault")
    return ids


def _nothing_lost(platform: Platform, submitted: list[str]) -> dict:
    """Every row published, every intake.submitted handled, every published row at the staff app."""
    rows = platform.outbox()
    pending = [i for i, (status, _) in rows.items() if status == "pending"]
    assert pending == [], f"outbox rows never published: {pending}"
    missing = set(submitted) - platform.handled()
    assert not missing, f"events the consumer never handled: {missing}"
    public = {i for i, (status, exchange) in rows.items() if status == "published" and exchange == "rapport.events"}
    wait_for(lambda: public <= set(platform.staff_app.ids()), 5, "the staff app to read every published row")
    arrived = platform.staff_app.ids()
    return {"events": len(submitted), "rows_published": len(public), "lost": len(public - set(arrived)),
            "duplicates_at_staff_app": len(arrived) - len(set(arrived))}  # fmt: skip


def _recover(platform: Platform, healed_at: float, submitted: list[str]) -> dict:
    wait_for(lambda: platform.drained(submitted), RECOVERY_BOUND + 5, "publishing and consuming to resume")
    drained_after = time.monotonic() - healed_at
    figures = {"recovered_s": drained_after}
    for role, proxy in (("relay", platform.relay_proxy), ("consumer", platform.consumer_proxy)):
        answered = proxy.answered_after(healed_at)
        assert answered, f"the {role} never opened a new connection after the fault"
        figures[f"{role}_reconnect_s"] = min(c.replied_at for c in answered) - healed_at
        assert figures[f"{role}_reconnect_s"] <= RECOVERY_BOUND
    assert drained_after <= RECOVERY_BOUND, f"took {drained_after:.1f}s after the fault to flow again"
    return figures


class RelayWarnings(logging.Handler):
    """The relay's "broker unavailable" warnings: why each publish was given up."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_blackhole_is_noticed_within_two_heartbeats_and_unconfirmed_rows_stay_pending(platform, profile, record_fault):
    """Sockets stay open but nothing passes: only heartbeats can tell. Rows written just after the
    fault starts are published onto the dead connection and never confirmed."""
    warnings = RelayWarnings()
    logging.getLogger("rapport.runner").addHandler(warnings)
    try:
        _blackhole_rounds(platform, profile, record_fault, warnings)
    finally:
        logging.getLogger("rapport.runner").removeHandler(warnings)


def _blackhole_rounds(platform, profile, record_fault, warnings: RelayWarnings) -> None:
    rounds = profile.pick(1, 3)
    published_in_blackhole = 0
    detections: dict[str, list[float]] = {"relay": [], "consumer": []}
    recoveries, submitted = [], _flowing(platform)
    for _ in range(rounds):
        started = platform.relay_proxy.blackhole()
        platform.consumer_proxy.blackhole()
        during = [platform.write() for _ in range(3)]
        submitted += during
        for role, proxy in (("relay", platform.relay_proxy), ("consumer", platform.consumer_proxy)):
            victims = proxy.open_at(started)
            assert victims, f"the {role} had no connection open when the fault started"
            wait_for(
                lambda: all(c.client_closed_at for c in victims), 2 * HEARTBEAT + 3, f"the {role} to drop its dead connection"
            )
            detections[role].append(max(c.client_closed_at for c in victims) - started)
        time.sleep(max(0.0, started + 2 * HEARTBEAT + 0.5 - time.monotonic()))
        statuses = platform.outbox()
        published_in_blackhole += sum(1 for i in during if statuses[i][0] != "pending")
        healed = platform.relay_proxy.heal()
        platform.consumer_proxy.heal()
        recoveries.append(_recover(platform, healed, submitted))
    figures = _nothing_lost(platform, submitted)
    unconfirmed = [m for m in warnings.messages if "no frame from the broker" in m]
    assert unconfirmed, "no publish was caught in flight by the blackhole; the test did not test that"
    for role, seconds in detections.items():
        assert max(seconds) <= 2 * HEARTBEAT, f"the {role} noticed the blackhole after {max(seconds):.1f}s"
    record_fault(
        "broker-network-blackhole",
        fault="Network blackhole between services and broker (sockets open, no bytes)",
        injected=f"TCP proxy drops every byte both ways for {2 * HEARTBEAT + 0.5:.1f}s; heartbeat {HEARTBEAT}s",
        times=rounds,
        relay_detect_max_s=max(detections["relay"]),
        consumer_detect_max_s=max(detections["consumer"]),
        detect_bound_s=2 * HEARTBEAT,
        reconnect_max_s=max(max(r["relay_reconnect_s"], r["consumer_reconnect_s"]) for r in recoveries),
        drained_after_heal_max_s=max(r["recovered_s"] for r in recoveries),
        publishes_given_up_unconfirmed=len(unconfirmed),
        marked_published_during_blackhole=published_in_blackhole,
        **figures,
    )
    assert published_in_blackhole == 0, "a row was marked published while no confirm could come"
    assert figures["lost"] == 0


@pytest.mark.parametrize("fault", ["reset", "refuse"])
def test_reset_or_refused_connections_come_back_on_their_own(fault, platform, profile, record_fault):
    """``reset``: every connection gets an RST mid-stream. ``refuse``: the same, and new
    connections are refused for a while. Either way nothing is published meanwhile and both loops
    reconnect within 10 s of the fault ending."""
    rounds = profile.pick(1, 3)
    outage = 3.0 if fault == "refuse" else 0.0
    published_while_refused = 0
    recoveries, submitted = [], _flowing(platform)
    for _ in range(rounds):
        started = getattr(platform.relay_proxy, fault)()
        getattr(platform.consumer_proxy, fault)()
        during = [platform.write() for _ in range(3)]
        submitted += during
        if outage:
            time.sleep(max(0.0, started + outage - time.monotonic()))
            statuses = platform.outbox()
            published_while_refused += sum(1 for i in during if statuses[i][0] != "pending")
            healed = platform.relay_proxy.heal()
            platform.consumer_proxy.heal()
        else:
            healed = started
        recoveries.append(_recover(platform, healed, submitted))
    figures = _nothing_lost(platform, submitted)
    record_fault(
        f"broker-network-{fault}",
        fault={"reset": "Connections to the broker reset mid-stream (RST)",
               "refuse": "Broker refuses connections (and open ones are reset)"}[fault],  # fmt: skip
        injected=f"TCP proxy: {fault}" + (f" for {outage:.0f}s" if outage else "") + f"; heartbeat {HEARTBEAT}s",
        times=rounds,
        reconnect_max_s=max(max(r["relay_reconnect_s"], r["consumer_reconnect_s"]) for r in recoveries),
        drained_after_fault_max_s=max(r["recovered_s"] for r in recoveries),
        **({"marked_published_while_refused": published_while_refused} if outage else {}),
        **figures,
    )
    assert published_while_refused == 0, "a row was marked published while the broker was unreachable"
    assert figures["lost"] == 0


def test_added_latency_slows_events_but_breaks_no_connection(platform, profile, record_fault):
    """Latency below the heartbeat must not be mistaken for a dead broker."""
    latency = 0.3
    count = profile.pick(4, 12)
    submitted = _flowing(platform)
    started = time.monotonic()
    platform.relay_proxy.latency = platform.consumer_proxy.latency = latency
    before = {id(c) for c in platform.relay_proxy.open_at(started) + platform.consumer_proxy.open_at(started)}
    during = [platform.write() for _ in range(count)]
    submitted += during
    wait_for(lambda: platform.drained(submitted), 30, "events to flow through the slow network")
    took = time.monotonic() - started
    time.sleep(2 * HEARTBEAT)  # long enough for a wrongly impatient heartbeat check to fire
    dropped = [c for c in platform.relay_proxy.connections + platform.consumer_proxy.connections
               if id(c) in before and c.client_closed_at is not None]  # fmt: skip
    platform.relay_proxy.heal()
    platform.consumer_proxy.heal()
    figures = _nothing_lost(platform, submitted)
    record_fault(
        "broker-network-latency",
        fault="Added network latency between services and broker",
        injected=f"TCP proxy delays every chunk by {latency}s each way; heartbeat {HEARTBEAT}s",
        times=count,
        connections_dropped=len(dropped),
        events_through_latency=len(during),
        seconds_to_deliver_all=took,
        **figures,
    )
    assert dropped == [], "a slow but live connection was taken for dead"
    assert figures["lost"] == 0


SHORT_CONNECT = 1.0


def test_nothing_waits_forever_on_a_silent_broker(build_service, make_database, amqp_url, record_fault):
    """A publish waiting for confirms, an ops tool and a readiness probe all give up in bounded
    time when the broker goes silent (blackhole before or after the connection is made)."""
    with TcpProxy.fronting(amqp_url) as proxy:
        intake = build_service("intake", database_url=make_database(), broker_url=proxy.url(amqp_url),
                               heartbeat=HEARTBEAT, connect_timeout=SHORT_CONNECT, confirm_timeout=30.0)  # fmt: skip
        settings = intake.settings
        publisher = ConfirmedPublisher(settings)
        message = AmqpMessage(body=b"{}", headers={}, content_type="application/json",
                              message_id=str(uuid.uuid4()), routing_key="nobody.listens.v1", exchange="rapport.events")  # fmt: skip
        assert publisher.publish([message]).unrouted == {message.message_id}
        proxy.blackhole()
        began = time.monotonic()
        with pytest.raises(BrokerUnavailable):
            publisher.publish([message])
        publish_gave_up = time.monotonic() - began
        publisher.close()

        began = time.monotonic()
        with pytest.raises(Exception):
            DeadLetters(dataclasses.replace(settings, service="sessions")).list()
        dlq_gave_up = time.monotonic() - began

        began = time.monotonic()
        assert broker_reachable(settings) is False
        probe_gave_up = time.monotonic() - began
    record_fault(
        "broker-silent-bounds",
        fault="Broker silent mid-publish, at connect (publisher, dlq tool, readiness probe)",
        injected=f"TCP proxy blackhole; heartbeat {HEARTBEAT}s, connect timeout {SHORT_CONNECT}s, confirm timeout 30s",
        times=1,
        publish_gave_up_s=publish_gave_up,
        dlq_list_gave_up_s=dlq_gave_up,
        readyz_probe_gave_up_s=probe_gave_up,
    )
    assert publish_gave_up <= 2 * HEARTBEAT, "a publish waited on a silent broker for longer than 2 heartbeats"
    assert dlq_gave_up <= SHORT_CONNECT + 2 * HEARTBEAT + 1
    assert probe_gave_up <= SHORT_CONNECT + 1
