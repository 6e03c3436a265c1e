"""intake's tables. Health history is encrypted at rest with intake's own key."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.audit import AuditMixin
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
    __keyring__ = "intake"


class Client(Base):
    __tablename__ = "clients"
    __table_args__ = (Index("ix_clients_scope_created", "org_id", "location_id", "created_at"),)

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(String(64))
    location_id: Mapped[str] = mapped_column(String(64))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    date_of_birth: Mapped[date | None] = mapped_column(Date, nullable=True)
    preferred_channel: Mapped[str] = mapped_column(String(8))
    language: Mapped[str | None] = mapped_column(String(16), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IntakeForm(Base):
    __tablename__ = "intake_forms"
    __table_args__ = (UniqueConstraint("client_id", "version"),)

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(String(64))
    location_id: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(Id, ForeignKey("clients.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    goals: Mapped[list] = mapped_column(JSON)
    concerns: Mapped[str | None] = mapped_column(EncryptedJSON("intake"), nullable=True)
    preferences: Mapped[dict] = mapped_column(JSON)
    health_history: Mapped[dict] = mapped_column(EncryptedJSON("intake"))
    contraindications: Mapped[list] = mapped_column(JSON)
    holds: Mapped[list] = mapped_column(JSON)
    submitted_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Consent(Base):
    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_client_granted", "client_id", "granted_at"),)

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(String(64))
    location_id: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(Id, ForeignKey("clients.id"))
    techniques: Mapped[list] = mapped_column(JSON)
    areas: Mapped[list] = mapped_column(JSON)
    excluded_areas: Mapped[list] = mapped_column(JSON)
    form_version: Mapped[str] = mapped_column(String(64))
    intake_form_id: Mapped[str] = mapped_column(Id)
    signed_name: Mapped[str] = mapped_column(String(200))
    valid_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    version: Mapped[int] = mapped_column(Integer, default=1)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    granted_by: Mapped[str] = mapped_column(String(64))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    withdrawn_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    withdrawal_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class AuditEntry(AuditMixin, Base):
    """Append-only: every read or write of health data, by whom."""

    __tablename__ = "audit_log"
