"""The outbox relay: claims due outbox rows, publishes them with confirms, then marks them.

Rows are claimed with a lease (``claimed_until``). A relay that dies between publishing and
marking leaves its rows claimed; once the lease runs out any relay claims them again and
republishes them (that is the sweeper; consumers' inboxes absorb the duplicates). Rows are only
marked ``published`` after the broker confirmed them.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import timedelta

from sqlalchemy import or_, select, update

from shared.broker import BrokerUnavailable
from shared.clock import now as utcnow
from shared.failpoints import crash_point
from shared.outbox import PENDING, PUBLISHED, UNROUTED
from shared.service import Service

log = logging.getLogger("rapport.relay")


class OutboxRelay:
    def __init__(self, service: Service, publisher) -> None:
        self.service = service
        self.publisher = publisher
        self.relay_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.outbox = service.outbox_model
        log.info(
            "relay %s publishing the %s outbox (rows left in flight are retaken after %.1fs)",
            self.relay_id, service.name, service.settings.outbox_lease,
        )  # fmt: skip

    def claim(self) -> list:
        settings = self.service.settings
        now = utcnow()
        with self.service.sessions() as session:
            rows = (
                session.execute(
                    select(self.outbox)
                    .where(
                        self.outbox.status == PENDING,
                        self.outbox.available_at <= now,
                        or_(self.outbox.claimed_until.is_(None), self.outbox.claimed_until < now),
                    )
                    .order_by(self.outbox.created_at)
                    .limit(settings.relay_batch_size)
                    .with_for_update(skip_locked=True)
                )
                .scalars()
                .all()
            )
            until = now + timedelta(seconds=settings.outbox_lease)
            for row in rows:
                row.claimed_by = self.relay_id
                row.claimed_until = until
                row.attempts += 1
            session.commit()
            return rows

    def run_once(self) -> int:
        """Publish one batch; returns how many rows were settled (published or unrouted)."""
        rows = self.claim()
        if not rows:
            return 0
        crash_point("relay.before_publish")
        try:
            outcome = self.publisher.publish([row.to_message() for row in rows])
        except BrokerUnavailable as error:
            self._release([row.id for row in rows], str(error), backoff=False)
            raise
        crash_point("relay.after_publish")
        self._mark(outcome.confirmed, PUBLISHED)
        if outcome.unrouted:
            log.warning(
                "events had no queue bound and were dropped by the broker",
                extra={"event_ids": sorted(outcome.unrouted)},
            )
            self._mark(outcome.unrouted, UNROUTED)
        if outcome.failed:
            self._release(list(outcome.failed), "nacked by the broker", backoff=True)
        return len(outcome.confirmed) + len(outcome.unrouted)

    def _mark(self, ids: set[str], status: str) -> None:
        if not ids:
            return
        with self.service.sessions() as session:
            session.execute(
                update(self.outbox)
                .where(self.outbox.id.in_(list(ids)), self.outbox.claimed_by == self.relay_id)
                .values(status=status, published_at=utcnow(), claimed_by=None, claimed_until=None)
            )
            session.commit()

    def _release(self, ids: list[str], error: str, *, backoff: bool) -> None:
        """Give rows back: immediately after a broker outage, later after a nack."""
        values = {"claimed_by": None, "claimed_until": None, "last_error": error[:500]}
        if backoff:
            values["available_at"] = utcnow() + timedelta(seconds=5)
        try:
            with self.service.sessions() as session:
                session.execute(
                    update(self.outbox)
                    .where(self.outbox.id.in_(ids), self.outbox.claimed_by == self.relay_id)
                    .values(**values)
                )
                session.commit()
        except Exception:
            log.exception("could not release outbox rows; their lease will expire instead")
