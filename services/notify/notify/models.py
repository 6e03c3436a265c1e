"""notify's tables. Contact details and webhook secrets are encrypted at rest with notify's key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from notify.domain import PENDING
from shared.clock import now as utcnow
from shared.crypto import EncryptedJSON
from shared.db import Id, UTCDateTime, declarative_base, new_id
from shared.idempotency import IdempotencyMixin
from shared.inbox import InboxMixin
from shared.outbox import OutboxMixin

Base = declarative_base()


class Outbox(OutboxMixin, Base):
    __tablename__ = "outbox"


class Inbox(InboxMixin, Base):
    __tablename__ = "inbox"


class IdempotencyKey(IdempotencyMixin, Base):
    __tablename__ = "idempotency_keys"
    __keyring__ = "notify"


class Contact(Base):
    """The latest contact card intake sent for a client (private message client.contact.v1)."""

    __tablename__ = "contacts"

    client_id: Mapped[str] = mapped_column(Id, primary_key=True)
    org_id: Mapped[str] = mapped_column(String(64))
    location_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    card: Mapped[dict] = mapped_column(EncryptedJSON("notify"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Preference(Base):
    __tablename__ = "preferences"

    client_id: Mapped[str] = mapped_column(Id, primary_key=True)
    org_id: Mapped[str] = mapped_column(String(64))
    location_id: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(8))
    quiet_hours: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    set_by: Mapped[str] = mapped_column(String(64))


class StaffContact(Base):
    """Where a location's staff alerts go."""

    __tablename__ = "staff_contacts"

    org_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    location_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    email: Mapped[str] = mapped_column(EncryptedJSON("notify"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    set_by: Mapped[str] = mapped_column(String(64))


class Delivery(Base):
    """One message to one recipient for one event; the delivery job sends the due ones.

    ``payload`` is what the message is made from: the template's ids, codes and times, or, for a
    webhook, the event body. One delivery per (event, template, recipient kind), and per webhook.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        Index(
            "uq_deliveries_event_template_recipient",
            "event_id", "template", "recipient_kind",
            unique=True,
            postgresql_where=text("webhook_id IS NULL"),
            sqlite_where=text("webhook_id IS NULL"),
        ),
        Index("uq_deliveries_event_webhook", "event_id", "webhook_id", unique=True),
        Index("ix_deliveries_due", "status", "not_before"),
        Index("ix_deliveries_client_created", "org_id", "client_id", "created_at"),
        Index("ix_deliveries_scope_created", "org_id", "location_id", "created_at"),
    )  # fmt: skip

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    event_id: Mapped[str] = mapped_column(Id)
    org_id: Mapped[str] = mapped_column(String(64))
    location_id: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str | None] = mapped_column(Id, nullable=True)
    template: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(8))
    recipient_kind: Mapped[str] = mapped_column(String(8))
    webhook_id: Mapped[str | None] = mapped_column(Id, nullable=True)
    payload: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Webhook(Base):
    """A staff app's subscription to events, delivered signed per the Standard Webhooks spec.

    ``location_id`` is None for an organisation-wide subscription (org_admin with every location).
    """

    __tablename__ = "webhooks"
    __table_args__ = (Index("ix_webhooks_org_created", "org_id", "created_at"),)

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(String(64))
    location_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    url: Mapped[str] = mapped_column(String(2000))
    event_types: Mapped[list] = mapped_column(JSON)
    description: Mapped[str | None] = mapped_column(String(500), nullable=True)
    secret: Mapped[str] = mapped_column(EncryptedJSON("notify"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
