"""Inbox: ``(event_id, handler)`` recorded in the same transaction as the handler's effect.

A redelivered or replayed event finds its row and changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from shared.clock import now as utcnow
from shared.db import Id, UTCDateTime


class InboxMixin:
    """Columns of a service's ``inbox`` table; the service declares the mapped class."""

    event_id: Mapped[str] = mapped_column(Id, primary_key=True)
    handler: Mapped[str] = mapped_column(String(128), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(128))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def already_handled(session: Session, inbox_model, event_id: str, handler: str) -> bool:
    found = session.execute(
        select(inbox_model.event_id).where(
            inbox_model.event_id == event_id, inbox_model.handler == handler
        )
    ).first()
    return found is not None


def record(session: Session, inbox_model, event_id: str, handler: str, event_type: str) -> None:
    """Add the inbox row; a concurrent duplicate fails the commit on the primary key."""
    session.add(inbox_model(event_id=event_id, handler=handler, event_type=event_type))
