"""The broker is killed (SIGKILL) and restarted, repeatedly, while clients keep writing.

`rapport up` runs the four services (gunicorn, consumers, relays, nginx) on their own PostgreSQL
databases and a dedicated RabbitMQ node (tests/support/rabbit_node.py); a background thread
registers clients and completes sessions through the gateway the whole time. Afterwards the
services' own databases and the broker must show: every HTTP write answered, every outbox row
delivered to every handler subscribed to it (nothing lost), one followup per completed session
and one delivery and one mail per notification (nothing done twice), nothing parked.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections import Counter

import psycopg
import pytest

from tests.e2e.flow import at, expect
from tests.support import rabbit_node, servers
from tests.support.platforms import (
    SERVICES,
    Platform,
    distributed_platform,
    log_tail,
    wait_for,
)

HEARTBEAT = 2
COMPLETE_EVERY = 8  # registrations per session completed
DRAIN_BOUND = 120.0  # seconds after the last restart by which everything must have arrived...
STALL_BOUND = 20.0  # ... and no stretch this long may pass without one more event arriving


@pytest.fixture
def node():
    why = rabbit_node.available()
    if why:
        servers.unavailable("a dedicated RabbitMQ node", why)
    with rabbit_node.rabbit_node() as running:
        yield running


@pytest.fixture
def platform(tmp_path, pg_server, node):
    """`rapport up` pointed at the dedicated node, with its own databases and ports."""
    with distributed_platform(
        tmp_path / "var", pg_server, node.url, "rapport_chaos",
        RAPPORT_HEARTBEAT=str(HEARTBEAT), RAPPORT_CONNECT_TIMEOUT="2", RAPPORT_FOLLOWUP_DELAY="1",
    ) as running:  # fmt: skip
        yield running


class ClinicLoad:
    """Front desk and therapists at work: a client registered, then a session started and
    completed, over and over, until stopped. Every answer must be 2xx."""

    def __init__(self, p: Platform, bookings: list[str], therapist_id: str, pause: float) -> None:
        self.p, self.bookings, self.therapist_id, self.pause = p, list(bookings), therapist_id, pause
        self.writes = 0
        self.steps = 0
        self.completed: list[str] = []
        self.failures: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                self._step()
            except Exception as error:  # recorded, asserted on by the test
                self.failures.append(repr(error))
            self.stop.wait(self.pause)

    def _step(self) -> None:
        n = self.writes
        expect(self.p.call("POST", "/intake/clients", role="front_desk", json={
            "first_name": f"Client{n}", "last_name": "Load", "email": f"client{n}@example.com",
            "location_id": self.p.location, "preferred_channel": "email",
        }), 201)  # fmt: skip
        self.writes += 1
        self.steps += 1
        if not self.bookings or self.steps % COMPLETE_EVERY:
            return
        session_id = self.bookings.pop(0)
        therapist = {"role": "therapist", "sub": self.therapist_id}
        expect(self.p.call("POST", f"/sessions/sessions/{session_id}/start", **therapist), 200)
        self.writes += 1
        expect(self.p.call("POST", f"/sessions/sessions/{session_id}/complete", **therapist, json={
            "notes": {"subjective": "s", "objective": "o", "assessment": "a", "plan": "p"}, "aftercare": ["rest"],
        }), 200)  # fmt: skip
        self.writes += 1
        self.completed.append(session_id)


def _prepare(p: Platform, sessions: int) -> tuple[list[str], str]:
    """One consenting client with ``sessions`` bookings, and their therapist."""
    client = expect(p.call("POST", "/intake/clients", role="front_desk", json={
        "first_name": "Rae", "last_name": "Kim", "email": "rae@example.com",
        "location_id": p.location, "preferred_channel": "email",
    }), 201)  # fmt: skip
    expect(p.call("POST", f"/intake/clients/{client['id']}/intake-forms", role="client", sub=client["id"], json={
        "goals": ["relax"], "preferences": {"pressure": "medium", "focus_areas": ["upper_back"], "avoid_areas": []},
        "health_history": {"conditions": [], "medications": []},
    }), 201)  # fmt: skip
    expect(p.call("POST", f"/intake/clients/{client['id']}/consents", role="client", sub=client["id"], json={
        "scope": {"techniques": ["swedish"], "areas": ["upper_back"], "excluded_areas": []},
        "form_version": "consent-v3", "signature": {"signed_name": "Rae Kim"},
    }), 201)  # fmt: skip
    therapist = expect(p.call("POST", "/sessions/therapists", json={
        "display_name": "Lee", "location_id": p.location, "techniques": ["swedish"],
    }), 201)  # fmt: skip

    def book(minutes: int):
        response = p.call("POST", "/sessions/sessions", role="front_desk", json={
            "client_id": client["id"], "therapist_id": therapist["id"], "location_id": p.location,
            "starts_at": at(minutes), "duration_minutes": 60, "technique": "swedish", "areas": ["upper_back"],
        })  # fmt: skip
        if response.status_code == 409 and "consent" in response.text:
            return None  # sessions has not heard of the consent yet
        return expect(response, 201)["id"]

    first = wait_for(lambda: book(60), 30, "sessions to learn of the consent")
    return [first] + [book(60 + 90 * i) for i in range(1, sessions)], therapist["id"]


def _rows(url: str, query: str) -> list[tuple]:
    with psycopg.connect(url, connect_timeout=5) as connection:
        return connection.execute(query).fetchall()


def _subscribers() -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(exchange, routing key) → [(service, handler)] from each service's subscription table."""
    found: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for service in SERVICES:
        for entry in importlib.import_module(f"{service}.subscriptions").SUBSCRIPTIONS.entries:
            found.setdefault((entry.exchange, entry.event), []).append((service, entry.name))
    return found


class Ledger:
    """What the services' own databases say happened."""

    def __init__(self, databases: dict[str, str]) -> None:
        self.databases = databases
        self.subscribers = _subscribers()

    def take(self) -> dict:
        outbox = {
            s: _rows(u, "SELECT id, exchange, routing_key, status, attempts FROM outbox") for s, u in self.databases.items()
        }
        inbox = {s: set(_rows(u, "SELECT event_id, handler FROM inbox")) for s, u in self.databases.items()}
        expected = {
            (service, event_id, handler)
            for rows in outbox.values()
            for event_id, exchange, key, _status, _attempts in rows
            for service, handler in self.subscribers.get((exchange, key), [])
        }
        delivered = {(s, e, h) for s, e, h in expected if (e, h) in inbox[s]}
        notify, followup = self.databases["notify"], self.databases["followup"]
        return {
            "outbox_rows": sum(len(rows) for rows in outbox.values()),
            "pending": sum(1 for rows in outbox.values() for r in rows if r[3] == "pending"),
            "unrouted_with_subscribers": sum(
                1 for rows in outbox.values() for r in rows if r[3] == "unrouted" and (r[1], r[2]) in self.subscribers
            ),
            "republished": sum(1 for rows in outbox.values() for r in rows if r[4] > 1),
            "expected": len(expected),
            "delivered": len(delivered),
            "lost": sorted(expected - delivered)[:20],
            "scheduled_followups": _rows(followup, "SELECT count(*) FROM followups WHERE status = 'scheduled'")[0][0],
            "followups_per_session": dict(_rows(followup, "SELECT session_id, count(*) FROM followups GROUP BY session_id")),
            "pending_deliveries": _rows(notify, "SELECT count(*) FROM deliveries WHERE status = 'pending'")[0][0],
            "deliveries_sent": _rows(notify, "SELECT count(*) FROM deliveries WHERE status = 'sent' AND channel = 'email'")[0][0],
            "duplicate_deliveries": _rows(notify, """
                SELECT count(*) FROM (SELECT 1 FROM deliveries WHERE webhook_id IS NULL
                GROUP BY event_id, template, recipient_kind HAVING count(*) > 1) d""")[0][0],
        }  # fmt: skip

    @staticmethod
    def drained_in(now: dict) -> bool:
        quiet = now["scheduled_followups"] == 0 and now["pending_deliveries"] == 0
        return now["pending"] == 0 and not now["lost"] and quiet


def _consumers_back(node: rabbit_node.RabbitNode, since: float) -> float:
    """Seconds from the restart until every consuming service is attached to its queue again."""
    queues = {f"rapport.{s}" for s in ("sessions", "followup", "notify")}
    wait_for(
        lambda: all(node.consumers(q) >= 1 for q in queues), 30, "every consumer to reconnect", interval=0.05
    )
    return time.monotonic() - since


def _drain(ledger: Ledger, node: rabbit_node.RabbitNode, since: float) -> tuple[dict | None, dict[str, float]]:
    """Wait (bounded) until everything arrived; note when the outboxes emptied (and how many
    messages the consumers still had queued then), when every handler had every event, and when
    the followups and mails that follow had happened."""
    milestones: dict[str, float] = {}
    progress, progressed_at = None, time.monotonic()
    while time.monotonic() - since < DRAIN_BOUND and time.monotonic() - progressed_at < STALL_BOUND:
        now = ledger.take()
        elapsed = time.monotonic() - since
        state = (now["delivered"], now["pending"], now["scheduled_followups"], now["pending_deliveries"])
        if state != progress:
            progress, progressed_at = state, time.monotonic()
        if now["pending"] == 0 and "outbox_empty" not in milestones:
            milestones["outbox_empty"] = elapsed
            milestones["queued_when_outbox_empty"] = sum(
                n for q, n in node.queue_depths().items() if q.startswith("rapport.") and not q.endswith(".dlq")
            )
        if not now["lost"]:
            milestones.setdefault("handlers_caught_up", elapsed)
        if ledger.drained_in(now):
            milestones["drained"] = elapsed
            return now, milestones
        time.sleep(0.5)
    return None, milestones


def test_broker_killed_under_load_loses_nothing_and_does_nothing_twice(platform, node, profile, record_fault):
    kills = profile.pick(2, 5)
    bookings, therapist_id = _prepare(platform, sessions=profile.pick(15, 60))
    load = ClinicLoad(platform, bookings, therapist_id, pause=profile.pick(0.15, 0.1))
    ledger = Ledger(platform.databases)
    restarts: list[float] = []
    reconnects: list[float] = []
    load.thread.start()
    try:
        for _ in range(kills):
            time.sleep(0.5)  # load flows while the broker is up and every consumer attached
            node.kill()
            time.sleep(0.5)  # ... and while it is down (and for the whole restart)
            restarts.append(node.start())
            last_restart = time.monotonic()
            reconnects.append(_consumers_back(node, last_restart))
        time.sleep(1.0)
    finally:
        load.stop.set()
        load.thread.join(timeout=30)
    final, milestones = _drain(ledger, node, last_restart)
    if final is None:
        final = ledger.take()
        logs = "\n".join(
            f"--- {p.name}\n{log_tail(p, 15)}" for p in sorted((platform.var / "log").glob("*-[cr]*.log"))
        )
        pytest.fail(
            f"not drained after the last restart (bounds: {DRAIN_BOUND:.0f}s, {STALL_BOUND:.0f}s without progress): "
            f"{final}\n"
            f"queues: {node.queue_depths()}\nmilestones: {milestones}\n{logs}"
        )
    drain_seconds = milestones["drained"]

    wait_for(lambda: len(platform.mailbox.messages()) >= final["deliveries_sent"], 10, "mail of every sent delivery")
    mail_ids = Counter(str(m["Message-ID"]) for m in platform.mailbox.messages())
    followups = final["followups_per_session"]
    duplicate_side_effects = (
        sum(n - 1 for n in followups.values() if n > 1)
        + final["duplicate_deliveries"]
        + sum(n - 1 for n in mail_ids.values() if n > 1)
    )
    parked = {q: n for q, n in node.queue_depths().items() if q.endswith(".dlq") and n}
    absorbed = sum(
        path.read_text(errors="replace").count("redelivered event absorbed by the inbox")
        for path in (platform.var / "log").glob("*-consumer.log")
    )
    record_fault(
        "broker-killed",
        fault="RabbitMQ node killed (SIGKILL) and restarted under load",
        injected=f"kill -9 of the node's beam process, restart on the same data; heartbeat {HEARTBEAT}s",
        times=kills,
        broker_kills=node.kills,
        restart_s_max=max(restarts),
        consumers_reconnected_s_max=max(reconnects),
        http_writes=load.writes,
        http_failures=len(load.failures),
        sessions_completed=len(load.completed),
        events_expected_outbox_rows=final["outbox_rows"],
        deliveries_expected=final["expected"],
        deliveries_to_handlers=final["delivered"],
        lost=len(final["lost"]),
        unrouted_with_subscribers=final["unrouted_with_subscribers"],
        rows_republished=final["republished"],
        redeliveries_absorbed_by_inbox=absorbed,
        duplicate_side_effects=duplicate_side_effects,
        parked=sum(parked.values()),
        mails=sum(mail_ids.values()),
        drain_s_after_last_restart=drain_seconds,
        outbox_empty_s_after_last_restart=milestones.get("outbox_empty"),
        handlers_caught_up_s_after_last_restart=milestones.get("handlers_caught_up"),
        queued_for_consumers_when_outbox_empty=milestones.get("queued_when_outbox_empty"),
    )
    assert load.failures == [], f"HTTP writes failed while the broker was down: {load.failures[:5]}"
    assert max(reconnects) <= 10.0, "a consumer took more than 10 s to come back after a restart"
    assert load.completed, "no session was completed under load"
    assert final["lost"] == [] and final["unrouted_with_subscribers"] == 0
    assert set(followups) >= set(load.completed), "a completed session got no followup"
    assert duplicate_side_effects == 0
    assert parked == {}, f"messages parked during the broker outages: {parked}"
    assert sum(mail_ids.values()) == final["deliveries_sent"]
