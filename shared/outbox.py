"""Transactional outbox: events are rows written in the same transaction as the state change.

A relay (``shared.relay``) publishes pending rows with publisher confirms and marks them only
once the broker has confirmed them.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from shared.clock import now as utcnow
from shared.db import Id, UTCDateTime
from shared.events import AmqpMessage, Event, to_amqp

PENDING = "pending"
PUBLISHED = "published"
UNROUTED = "unrouted"


class OutboxMixin:
    """Columns of a service's ``outbox`` table; the service declares the mapped class."""

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    exchange: Mapped[str] = mapped_column(String(64))
    routing_key: Mapped[str] = mapped_column(String(128))
    headers: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)

    @declared_attr.directive
    def __table_args__(cls):
        return (Index("ix_outbox_due", "status", "available_at"),)

    @classmethod
    def from_event(cls, event: Event):
        message = to_amqp(event)
        return cls(
            id=event.id,
            exchange=message.exchange,
            routing_key=message.routing_key,
            headers=json.dumps(message.headers, sort_keys=True),
            body=message.body.decode("utf-8"),
            status=PENDING,
            attempts=0,
            created_at=event.time,
            available_at=event.time,
        )

    def to_message(self) -> AmqpMessage:
        return AmqpMessage(
            body=self.body.encode("utf-8"),
            headers=json.loads(self.headers),
            content_type="application/json",
            message_id=self.id,
            routing_key=self.routing_key,
            exchange=self.exchange,
        )
