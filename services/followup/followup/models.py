"""followup's tables. A client's concerns are encrypted at rest with followup's own key.

Ids of sessions, clients and therapists come from other services' events; they are kept as
opaque strings.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.audit import AuditMixin
from shared.clock import now as utcnow
from shared.crypto import EncryptedJSON
from shared.db import Id, UTCDateTime, declarative_base, new_id
from shared.idempotency import IdempotencyMixin
from shared.inbox import InboxMixin
from shared.outbox import OutboxMixin

Base = declarative_base()

ExternalId = String(64)


class Outbox(OutboxMixin, Base):
    __tablename__ = "outbox"


class Inbox(InboxMixin, Base):
    __tablename__ = "inbox"


class IdempotencyKey(IdempotencyMixin, Base):
    __tablename__ = "idempotency_keys"
    __keyring__ = "followup"


class Followup(Base):
    """The check-in after one completed session."""

    __tablename__ = "followups"
    __table_args__ = (
        Index("ix_followups_status_due", "status", "due_at"),
        Index("ix_followups_scope_due", "org_id", "location_id", "due_at"),
        # "followups due at a location" (?location_id=&status=due) walks only the due ones.
        Index("ix_followups_scope_status_due", "org_id", "location_id", "status", "due_at"),
        Index("ix_followups_org_client", "org_id", "client_id"),
    )

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(String(64))
    location_id: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str] = mapped_column(ExternalId, unique=True)
    client_id: Mapped[str] = mapped_column(ExternalId)
    therapist_id: Mapped[str] = mapped_column(ExternalId)
    session_completed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=1)
    due_emitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancel_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    escalation_reasons: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    response: Mapped["Response | None"] = relationship(back_populates="followup", uselist=False)


class Response(Base):
    """The client's answers: well-being, pain and soreness are health data."""

    __tablename__ = "responses"

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    followup_id: Mapped[str] = mapped_column(Id, ForeignKey("followups.id"), unique=True)
    org_id: Mapped[str] = mapped_column(String(64))
    location_id: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(ExternalId)
    session_id: Mapped[str] = mapped_column(ExternalId)
    wellbeing: Mapped[int] = mapped_column(Integer)
    pain_before: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pain_after: Mapped[int] = mapped_column(Integer)
    soreness: Mapped[str | None] = mapped_column(String(16), nullable=True)
    adverse_reaction: Mapped[bool] = mapped_column(Boolean)
    concerns: Mapped[str | None] = mapped_column(EncryptedJSON("followup"), nullable=True)
    would_rebook: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    responded_by: Mapped[str] = mapped_column(String(64))
    responded_by_role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    followup: Mapped[Followup] = relationship(back_populates="response")


class ConsentWithdrawal(Base):
    """Withdrawals seen, so a ``session.completed`` arriving late cannot outlive one."""

    __tablename__ = "consent_withdrawals"
    __table_args__ = (Index("ix_consent_withdrawals_org_client", "org_id", "client_id"),)

    consent_id: Mapped[str] = mapped_column(ExternalId, primary_key=True)
    org_id: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(ExternalId)
    withdrawn_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditEntry(AuditMixin, Base):
    """Append-only: every read or write of a client's followup answers, by whom."""

    __tablename__ = "audit_log"
    client_id: Mapped[str] = mapped_column(ExternalId, index=True)
