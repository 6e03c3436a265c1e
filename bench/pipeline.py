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
    """Writes completed sessions with their session.completed outbox rows into sessions' DB."""

    def __init__(self, sessions_db_url: str) -> None:
        from sessions import models  # noqa: F401  (the mapped tables)

        self.models = models
        self.engine = create_engine(normalise_url(sessions_db_url), pool_size=2)
        self.therapist_id = str(uuid.uuid4())
        with Session(self.engine) as session:
            session.add(models.Therapist(
                id=self.therapist_id, org_id=ORG, location_id=LOCATION, display_name="Bench",
                techniques=["swedish"], active=True, created_at=datetime.now(timezone.utc),
            ))  # fmt: skip
            session.commit()
        self.payload_bytes = 0
        self.created: dict[str, datetime] = {}

    def _rows(self, tag: str, count: int) -> list:
        m = self.models
        rows = []
        now = datetime.now(timezone.utc)
        for _ in range(count):
            sid, cid = str(uuid.uuid4()), str(uuid.uuid4())
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

    def timings(self, tag: str, created: dict) -> dict:
        with self.notify.connect() as c:
            delivered = dict(c.execute(
                text("SELECT event_id, created_at FROM deliveries WHERE location_id = :t AND template = 'aftercare'"),
                {"t": tag},
            ).all())  # fmt: skip
        with self.followup.connect() as c:
            followed = c.execute(text("SELECT max(created_at) FROM followups WHERE location_id = :t"), {"t": tag}).scalar()
        latencies = sorted(
            (delivered[i] - created[i]).total_seconds() * 1000 for i in delivered if i in created
        )  # fmt: skip
        return {
            "latencies_ms": latencies,
            "first_created": min(created.values()) if created else None,
            "last_delivered": max(delivered.values()) if delivered else None,
            "last_followup": followed,
        }

    def close(self) -> None:
        for engine in (self.sessions, self.followup, self.notify):
            engine.dispose()


def run_burst(platform, count: int, timeout: float = 300.0) -> dict:
    """Peak sustained throughput: ``count`` events committed at once, until all are recorded."""
    injector = Injector(platform.db_url("sessions"))
    observer = Observer(platform.db_url("sessions"), platform.db_url("followup"), platform.db_url("notify"))
    tag = f"burst-{uuid.uuid4().hex[:8]}"
    try:
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
    injector = Injector(platform.db_url("sessions"))
    observer = Observer(platform.db_url("sessions"), platform.db_url("followup"), platform.db_url("notify"))
    tag = f"paced-{uuid.uuid4().hex[:8]}"
    try:
        started = time.monotonic()
        sent = injector.paced(tag, rate, duration)
        achieved = sent / (time.monotonic() - started)
        observer.wait(tag, sent, timeout)
        latencies = observer.timings(tag, injector.created)["latencies_ms"]
        return {
            "rate": round(rate, 1), "achieved_rate": round(achieved, 1), "events": sent,
            "recorded": len(latencies), "p50_ms": percentile(latencies, 50),
            "p99_ms": percentile(latencies, 99), "max_ms": round(max(latencies), 1) if latencies else None,
        }  # fmt: skip
    finally:
        injector.close()
        observer.close()
