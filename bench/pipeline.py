"""The event pipeline: session.completed from sessions' outbox, through its relay and RabbitMQ,
to followup's consumer (inbox + followup row + its own outbox) and notify's consumer (inbox +
the aftercare delivery it records).

Committed sessions and their outbox rows are written straight into sessions' database (what
``POST /sessions/{id}/complete`` commits), so the figure is the pipeline's, not the API's.
Latency of one event: ``deliveries.created_at`` (notify recorded it) minus the outbox row's
``created_at`` (the event's time, stamped just before its transaction committed).
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from bench import memory
from bench.platform import LOCATION, ORG
from bench.stats import percentile
from shared.db import normalise_url
from shared.events import Event


class Injector:
    """Writes completed sessions with their session.completed outbox rows into sessions' DB,
    after giving notify each client's contact card (as intake's client.contact.v1 would have),
    so the aftercare message is really sent rather than deferred for want of an address."""

    def __init__(self, platform) -> None:
        from notify import models as notify_models
        from sessions import models  # noqa: F401  (the mapped tables)
        from shared import crypto

        crypto.register_key("notify", (platform.var / "notify.key").read_text().strip())
        self.models, self.notify_models = models, notify_models
        self.engine = create_engine(normalise_url(platform.db_url("sessions")), pool_size=2)
        self.notify_engine = create_engine(normalise_url(platform.db_url("notify")), pool_size=2)
        self.therapist_id = str(uuid.uuid4())
        with Session(self.engine) as session:
            session.add(models.Therapist(
                id=self.therapist_id, org_id=ORG, location_id=LOCATION, display_name="Bench",
                techniques=["swedish"], active=True, created_at=datetime.now(timezone.utc),
            ))  # fmt: skip
            session.commit()
        self.payload_bytes = 0
        self.created: dict[str, datetime] = {}

    def _contacts(self, tag: str, count: int) -> list[str]:
        clients = [str(uuid.uuid4()) for _ in range(count)]
        now = datetime.now(timezone.utc)
        with Session(self.notify_engine) as session:
            session.add_all([self.notify_models.Contact(
                client_id=cid, org_id=ORG, location_id=tag, version=1, updated_at=now,
                card={"first_name": "Bench", "email": f"{cid[:8]}@example.com", "phone": None, "language": "en",
                      "preferred_channel": "email"},
            ) for cid in clients])  # fmt: skip
            session.commit()
        return clients

    def _rows(self, tag: str, count: int) -> list:
        m = self.models
        rows = []
        clients = self._contacts(tag, count)
        now = datetime.now(timezone.utc)
        for cid in clients:
            sid = str(uuid.uuid4())
            started = now - timedelta(hours=1)
            rows.append(m.TreatmentSession(
                id=sid, org_id=ORG, location_id=tag, client_id=cid, therapist_id=self.therapist_id,
                starts_at=started, ends_at=now, duration_minutes=60, technique="swedish",
                areas=["shoulders"], status="completed", version=3, consent_id=str(uuid.uuid4()),
                booked_by="bench", started_at=started, completed_at=now, created_at=started, updated_at=now,
            ))  # fmt: skip
            event = Event(
                routing_key="session.completed.v1", source="/sessions", subject=sid, org_id=ORG,
                location_id=tag, correlation_id=str(uuid.uuid4()),
                data={"session_id": sid, "client_id": cid, "therapist_id": self.therapist_id,
                      "completed_at": now.isoformat(), "check_in_count": 1},
            )  # fmt: skip
            outbox = m.Outbox.from_event(event)
            self.created[event.id] = event.time
            self.payload_bytes = len(outbox.body) + len(outbox.headers)
            rows.append(outbox)
        return rows

    def burst(self, tag: str, count: int) -> float:
        """``count`` events committed in one transaction; returns the commit's wall time."""
        rows = self._rows(tag, count)
        with Session(self.engine) as session:
            # Sessions first (the outbox rows reference nothing, but keep the natural order).
            session.add_all(rows)
            session.commit()
        return time.time()

    def paced(self, tag: str, rate: float, duration: float) -> int:
        """Open-loop: one committed session per 1/rate seconds, whatever the pipeline does."""
        total = max(1, int(rate * duration))
        start = time.monotonic()
        with Session(self.engine) as session:
            for i in range(total):
                due = start + i / rate
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                session.add_all(self._rows(tag, 1))
                session.commit()
        return total

    def close(self) -> None:
        self.engine.dispose()
        self.notify_engine.dispose()


def _queued(amqp_url: str) -> int:
    """Messages ready in the services' main queues (passive declares; 0 if one is missing)."""
    import pika

    total = 0
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        for service in ("intake", "sessions", "followup", "notify"):
            channel = connection.channel()
            try:
                total += channel.queue_declare(f"rapport.{service}", passive=True).method.message_count
                channel.close()
            except pika.exceptions.ChannelClosedByBroker:
                pass
    finally:
        connection.close()
    return total


class Observer:
    """Reads what followup and notify recorded for one run's events (by their location tag)."""

    def __init__(self, sessions_url: str, followup_url: str, notify_url: str) -> None:
        self.sessions = create_engine(normalise_url(sessions_url), pool_size=1)
        self.followup = create_engine(normalise_url(followup_url), pool_size=1)
        self.notify = create_engine(normalise_url(notify_url), pool_size=1)

    def counts(self, tag: str) -> tuple[int, int]:
        with self.notify.connect() as c:
            delivered = c.execute(
                text("SELECT count(*) FROM deliveries WHERE location_id = :t AND template = 'aftercare'"), {"t": tag}
            ).scalar()
        with self.followup.connect() as c:
            followups = c.execute(text("SELECT count(*) FROM followups WHERE location_id = :t"), {"t": tag}).scalar()
        return delivered, followups

    def wait(self, tag: str, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            delivered, followups = self.counts(tag)
            if delivered >= count and followups >= count:
                return True
            time.sleep(0.05)
        return False

    def quiesce(self, amqp_url: str | None = None, timeout: float = 120.0) -> float:
        """Wait until earlier work is digested: no pending outbox row in any of the three
        services, no due pending delivery in notify, and no message waiting in any service's
        queue (a burst leaves thousands of follow-on events queued after the outboxes are
        empty). Returns the seconds waited."""
        began = time.monotonic()
        while time.monotonic() - began < timeout:
            busy = _queued(amqp_url) if amqp_url else 0
            for engine in (self.sessions, self.followup, self.notify):
                with engine.connect() as c:
                    busy += c.execute(text("SELECT count(*) FROM outbox WHERE status = 'pending'")).scalar()
            with self.notify.connect() as c:
                busy += c.execute(text(
                    "SELECT count(*) FROM deliveries WHERE status = 'pending' AND not_before <= now()"
                )).scalar()
            if not busy:
                break
            time.sleep(0.2)
        return round(time.monotonic() - began, 1)

    def timings(self, tag: str, created: dict) -> dict:
        with self.notify.connect() as c:
            delivered = dict(c.execute(
                text("SELECT event_id, created_at FROM deliveries WHERE location_id = :t AND template = 'aftercare'"),
                {"t": tag},
            ).all())  # fmt: skip
        with self.followup.connect() as c:
            followed = c.execute(text("SELECT max(created_at) FROM followups WHERE location_id = :t"), {"t": tag}).scalar()
        with self.sessions.connect() as c:
            published = dict(c.execute(
                text("SELECT id, published_at FROM outbox WHERE id = ANY(:ids)"), {"ids": list(created)}
            ).all())  # fmt: skip
        latencies = sorted(
            (delivered[i] - created[i]).total_seconds() * 1000 for i in delivered if i in created
        )  # fmt: skip
        relay = sorted(
            (published[i] - created[i]).total_seconds() * 1000 for i in delivered if published.get(i)
        )  # fmt: skip
        consumer = sorted(
            (delivered[i] - published[i]).total_seconds() * 1000 for i in delivered if published.get(i)
        )  # fmt: skip
        return {
            "latencies_ms": latencies,
            "stages": {
                "relay (committed -> confirmed by RabbitMQ)": relay,
                "broker + notify consumer (confirmed -> delivery recorded)": consumer,
            },
            "first_created": min(created.values()) if created else None,
            "last_delivered": max(delivered.values()) if delivered else None,
            "last_followup": followed,
        }

    def close(self) -> None:
        for engine in (self.sessions, self.followup, self.notify):
            engine.dispose()


def run_burst(platform, count: int, timeout: float = 300.0) -> dict:
    """Peak sustained throughput: ``count`` events committed at once, until all are recorded."""
    injector = Injector(platform)
    observer = Observer(platform.db_url("sessions"), platform.db_url("followup"), platform.db_url("notify"))
    tag = f"burst-{uuid.uuid4().hex[:8]}"
    try:
        observer.quiesce(platform.amqp_url)
        cpu_before = memory.cpu_by_role(platform)
        committed = injector.burst(tag, count)
        done = observer.wait(tag, count, timeout)
        finished = time.time()
        cpu = memory.cpu_used(cpu_before, memory.cpu_by_role(platform))
        timing = observer.timings(tag, injector.created)
        delivered, followups = observer.counts(tag)
        end = max(t.timestamp() for t in (timing["last_delivered"], timing["last_followup"]) if t) if delivered else finished
        elapsed = max(end - committed, 1e-6)
        return {
            "events": count, "completed": bool(done), "delivered": delivered, "followups": followups,
            "seconds": round(elapsed, 3), "events_per_s": round(min(delivered, followups) / elapsed, 1),
            "payload_bytes": injector.payload_bytes,
            "cpu_ms_per_event": {role: round(sec * 1000 / count, 2) for role, sec in sorted(cpu.items()) if sec > 0},
            "cpu_seconds": cpu,
        }  # fmt: skip
    finally:
        injector.close()
        observer.close()


def run_paced(platform, rate: float, duration: float, timeout: float = 120.0) -> dict:
    """Latency under open-loop load at ``rate`` events/s for ``duration`` seconds."""
    injector = Injector(platform)
    observer = Observer(platform.db_url("sessions"), platform.db_url("followup"), platform.db_url("notify"))
    tag = f"paced-{uuid.uuid4().hex[:8]}"
    try:
        settled = observer.quiesce(platform.amqp_url)
        time.sleep(1.0)
        started = time.monotonic()
        sent = injector.paced(tag, rate, duration)
        achieved = sent / (time.monotonic() - started)
        observer.wait(tag, sent, timeout)
        timing = observer.timings(tag, injector.created)
        latencies = timing["latencies_ms"]
        stages = {
            name: {"p50_ms": percentile(v, 50), "p99_ms": percentile(v, 99), "max_ms": round(max(v), 1) if v else None}
            for name, v in timing["stages"].items()
        }  # fmt: skip
        return {
            "rate": round(rate, 1), "achieved_rate": round(achieved, 1), "events": sent, "settled_after_s": settled,
            "recorded": len(latencies), "p50_ms": percentile(latencies, 50),
            "p95_ms": percentile(latencies, 95), "p99_ms": percentile(latencies, 99),
            "max_ms": round(max(latencies), 1) if latencies else None, "stages": stages,
        }  # fmt: skip
    finally:
        injector.close()
        observer.close()
