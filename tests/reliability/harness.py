"""Real Rapport processes for fault-injection tests: `rapport serve <service> relay|consumer` as
subprocesses on a test's own database and vhost, killed (or crashing at a failpoint) for real.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import amqp
from sqlalchemy import func, select

from followup.models import Followup
from followup.models import Inbox as FollowupInbox
from followup.models import Outbox as FollowupOutbox
from shared.broker import connect
from shared.events import Event, to_amqp
from shared.service import Service
from tests.support.platforms import RAPPORT, log_tail

ORG = "org-test"
LOCATION = "loc-a"


def environment(service: Service, **extra: str) -> dict[str, str]:
    """What a separate process of ``service`` needs to see the same database, broker and keys."""
    settings = service.settings
    env = {k: v for k, v in os.environ.items() if k != "RAPPORT_FAILPOINT"}
    env.update(
        RAPPORT_DATABASE_URL=settings.database_url,
        RAPPORT_BROKER_URL=settings.broker_url,
        RAPPORT_VAR_DIR=str(settings.var_dir),
        RAPPORT_JWT_SECRET=settings.jwt_secret,
        RAPPORT_DATA_KEY=settings.data_key,
        RAPPORT_RETRY_DELAYS=",".join(str(d) for d in settings.retry_delays),
        RAPPORT_OUTBOX_LEASE=str(settings.outbox_lease),
        RAPPORT_RELAY_POLL_INTERVAL="0.05",
        RAPPORT_JOB_INTERVAL="5",
        RAPPORT_LOG_LEVEL="INFO",
    )
    env.update(extra)
    return env


class RapportProcess:
    """One `rapport serve <service> <role>` subprocess, its output kept in a log file."""

    def __init__(self, service: Service, role: str, log_dir: Path, *args: str, **env: str) -> None:
        self.name = f"{service.name}-{role}-{uuid.uuid4().hex[:6]}"
        self.log_path = log_dir / f"{self.name}.log"
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [RAPPORT, "serve", service.name, role, *args],
            env=environment(service, **env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_exit(self, timeout: float) -> int:
        """The exit code; fails (after killing the process) if it is still running at ``timeout``."""
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.name} still running after {timeout}s:\n{self.tail()}") from None

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM (a clean stop), SIGKILL if it does not stop in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()
        return self.process.returncode

    def kill(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def tail(self, lines: int = 40) -> str:
        self._log.flush()
        return log_tail(self.log_path, lines)

    def __enter__(self) -> "RapportProcess":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class Broker:
    """A raw AMQP channel on the test's vhost: publish anything, look at queues."""

    def __init__(self, service: Service) -> None:
        self.connection = connect(service.settings)
        self.connection.ensure_connection(max_retries=3)
        self.channel = self.connection.connection.channel()
        self.channel.confirm_select()

    def publish_event(self, event: Event) -> None:
        message = to_amqp(event)
        self.raw(message.body, message.headers, routing_key=message.routing_key, message_id=event.id)

    def raw(
        self,
        body: bytes,
        headers: dict,
        *,
        routing_key: str,
        exchange: str = "rapport.events",
        content_type: str = "application/json",
        message_id: str | None = None,
    ) -> None:
        self.channel.basic_publish_confirm(
            amqp.Message(
                body, content_type=content_type, delivery_mode=2, application_headers=headers,
                message_id=message_id or str(uuid.uuid4()),
            ),
            exchange=exchange, routing_key=routing_key,
        )  # fmt: skip

    def queue(self, name: str) -> tuple[int, int]:
        """(ready messages, consumers) of a queue; (-1, -1) if it does not exist."""
        channel = self.connection.connection.channel()
        try:
            _, messages, consumers = channel.queue_declare(name, passive=True)
            return messages, consumers
        except amqp.exceptions.NotFound:
            return -1, -1
        finally:
            if channel.is_open:
                channel.close()

    def tap(self, routing_key: str) -> str:
        """A queue of the test's own, bound to ``routing_key``: sees every copy the broker routes."""
        name = f"tap-{uuid.uuid4().hex[:8]}"
        self.channel.queue_declare(name, durable=False, auto_delete=False)
        self.channel.queue_bind(name, "rapport.events", routing_key)
        return name

    def drain(self, queue: str) -> list[amqp.Message]:
        taken = []
        while (message := self.channel.basic_get(queue, no_ack=True)) is not None:
            taken.append(message)
        return taken

    def close(self) -> None:
        self.connection.release()


def session_completed(session_id: str | None = None) -> Event:
    session_id = session_id or str(uuid.uuid4())
    return Event(
        routing_key="session.completed.v1", source="/sessions", subject=session_id,
        org_id=ORG, location_id=LOCATION,
        data={
            "session_id": session_id,
            "client_id": str(uuid.uuid4()),
            "therapist_id": str(uuid.uuid4()),
            "completed_at": datetime.now(timezone.utc).isoformat(),
            "check_in_count": 1,
        },
    )  # fmt: skip


def count(service: Service, model, *where) -> int:
    with service.sessions() as session:
        return session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def per_key(service: Service, column, *where) -> dict[str, int]:
    """How many rows each value of ``column`` has (e.g. followups per session)."""
    with service.sessions() as session:
        rows = session.execute(select(column, func.count()).where(*where).group_by(column)).all()
    return {key: n for key, n in rows}


def eventually(predicate, timeout: float, what: str, interval: float = 0.05):
    """Poll ``predicate`` until truthy; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def one_followup_each(followup, session_ids: list[str]) -> dict:
    """Each session: one followup, one inbox row, one ``followup.scheduled`` event."""
    followups = per_key(followup, Followup.session_id)
    scheduled = Counter(subjects(followup, FollowupOutbox, "followup.scheduled.v1"))
    lost = [s for s in session_ids if followups.get(s, 0) == 0]
    duplicates = sum(n - 1 for n in followups.values()) + sum(n - 1 for n in scheduled.values())
    inbox_rows = count(followup, FollowupInbox, FollowupInbox.handler == "schedule_followup")
    assert lost == [], f"{len(lost)} sessions lost their followup"
    assert duplicates == 0, f"{duplicates} side effects happened twice"
    assert inbox_rows == len(session_ids) == sum(scheduled.values())
    return {"lost": len(lost), "duplicate_side_effects": duplicates}


def subjects(service, outbox, routing_key: str) -> list[str]:
    with service.sessions() as session:
        headers = session.execute(select(outbox.headers).where(outbox.routing_key == routing_key)).scalars()
        return [json.loads(h)["ce-subject"] for h in headers]
