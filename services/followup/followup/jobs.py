"""followup's timed work, run in its relay process: followups falling due.

The schedule lives in the database (``due_at``), not in broker delays: the job polls for
scheduled rows whose time has come. Rows are claimed with ``FOR UPDATE SKIP LOCKED`` so
competing relay processes on PostgreSQL never release the same followup twice (SQLite takes
the write lock for the whole transaction instead).
"""

from __future__ import annotations

from sqlalchemy import select

from followup import domain, events
from followup.models import Followup
from shared.clock import now
from shared.service import Job, Service

BATCH_SIZE = 200


def release_due_followups(service: Service) -> int:
    """Mark up to BATCH_SIZE scheduled followups whose time has come ``due``; returns how many."""
    with service.unit_of_work() as uow:
        at = now()
        due = uow.session.execute(
            select(Followup)
            .where(Followup.status == domain.SCHEDULED, Followup.due_at <= at)
            .order_by(Followup.due_at)
            .limit(BATCH_SIZE)
            .with_for_update(skip_locked=True)
        ).scalars().all()
        for followup in due:
            followup.status = domain.DUE
            followup.due_emitted_at = at
            followup.version += 1
            followup.updated_at = at
            events.followup_due(uow, followup)
        return len(due)


DUE_FOLLOWUPS = Job("release-due-followups", release_due_followups)
