"""sessions' tables. Session notes, check-in notes and free-text reasons are encrypted at rest
with sessions' own key; consents and holds are projections fed by intake's events."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

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
    __keyring__ = "sessions"


class Therapist(Base):
    __tablename__ = "therapists"
    __table_args__ = (Index("ix_therapists_scope_created", "org_id", "location_id", "created_at"),)

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(String(64))
    location_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(100))
    techniques: Mapped[list] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Consent(Base):
    """sessions' copy of a consent intake granted, kept current by consent.* events."""

    __tablename__ = "consents"

    consent_id: Mapped[str] = mapped_column(Id, primary_key=True)
    org_id: Mapped[str] = mapped_column(String(64))
    location_id: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(Id, index=True)
    status: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    techniques: Mapped[list] = mapped_column(JSON)
    areas: Mapped[list] = mapped_column(JSON)
    excluded_areas: Mapped[list] = mapped_column(JSON)
    valid_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ClientHolds(Base):
    """The hold codes of a client's latest intake form, fed by intake.submitted."""

    __tablename__ = "client_holds"

    client_id: Mapped[str] = mapped_column(Id, primary_key=True)
    org_id: Mapped[str] = mapped_column(String(64))
    location_id: Mapped[str] = mapped_column(String(64))
    form_version: Mapped[int] = mapped_column(Integer)
    holds: Mapped[list] = mapped_column(JSON)


class Clearance(Base):
    """A therapist's or manager's decision that a hold does not block treatment, for one form."""

    __tablename__ = "clearances"
    __table_args__ = (Index("ix_clearances_client_form", "client_id", "form_version"),)

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(String(64))
    location_id: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(Id)
    contraindication: Mapped[str] = mapped_column(String(64))
    form_version: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(EncryptedJSON("sessions"))
    cleared_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TreatmentSession(Base):
    """A booked massage session (named so to keep clear of the database session)."""

    __tablename__ = "sessions"
    __table_args__ = (
        Index("ix_sessions_scope_starts", "org_id", "location_id", "starts_at"),
        Index("ix_sessions_therapist_starts", "therapist_id", "starts_at"),
        Index("ix_sessions_client_status", "client_id", "status"),
    )

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(String(64))
    location_id: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(Id)
    therapist_id: Mapped[str] = mapped_column(Id, ForeignKey("therapists.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    technique: Mapped[str] = mapped_column(String(32))
    areas: Mapped[list] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="booked")
    version: Mapped[int] = mapped_column(Integer, default=1)
    consent_id: Mapped[str] = mapped_column(Id)
    booked_by: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    stop_requested_by: Mapped[str | None] = mapped_column(String(16), nullable=True)
    stop_reason: Mapped[str | None] = mapped_column(EncryptedJSON("sessions"), nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancel_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    cancel_note: Mapped[str | None] = mapped_column(EncryptedJSON("sessions"), nullable=True)
    notes: Mapped[dict | None] = mapped_column(EncryptedJSON("sessions"), nullable=True)
    aftercare: Mapped[list | None] = mapped_column(EncryptedJSON("sessions"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    check_ins: Mapped[list[CheckIn]] = relationship(order_by="CheckIn.created_at", viewonly=True)


class CheckIn(Base):
    """How the client feels during a session: comfort, pressure, and an optional note."""

    __tablename__ = "check_ins"

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    session_id: Mapped[str] = mapped_column(Id, ForeignKey("sessions.id"), index=True)
    org_id: Mapped[str] = mapped_column(String(64))
    location_id: Mapped[str] = mapped_column(String(64))
    comfort: Mapped[int] = mapped_column(Integer)
    pressure: Mapped[str] = mapped_column(String(8))
    note: Mapped[str | None] = mapped_column(EncryptedJSON("sessions"), nullable=True)
    recorded_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEntry(AuditMixin, Base):
    """Append-only: every read or write of session notes, check-in notes and clearance notes."""

    __tablename__ = "audit_log"
