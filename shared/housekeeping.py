"""Housekeeping every service runs in its relay process: old outbox, inbox and idempotency rows."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from shared.clock import now
from shared.outbox import PENDING
from shared.service import Job, Service

OUTBOX_KEPT = timedelta(days=7)
INBOX_KEPT = timedelta(days=30)
IDEMPOTENCY_KEPT = timedelta(hours=24)


def prune(service: Service) -> int:
    """Delete what no guarantee needs any more; returns 0 so it never hurries the relay loop."""
    current = now()
    outbox, inbox, keys = service.outbox_model, service.inbox_model, service.idempotency_model
    with service.sessions() as session:
        session.execute(
            delete(outbox).where(outbox.status != PENDING, outbox.created_at < current - OUTBOX_KEPT)
        )
        session.execute(delete(inbox).where(inbox.received_at < current - INBOX_KEPT))
        session.execute(delete(keys).where(keys.created_at < current - IDEMPOTENCY_KEPT))
        session.commit()
    return 0


HOUSEKEEPING = Job("housekeeping", prune, interval=300.0)
