"""The append-only audit log of health-data reads and writes; each service keeps its own."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from shared.auth import Principal
from shared.clock import now as utcnow
from shared.db import Id, UTCDateTime, new_id


class AuditMixin:
    """Columns of a service's ``audit_log`` table. Rows are only ever inserted."""

    id: Mapped[str] = mapped_column(Id, primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(String(64))
    location_id: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(Id, index=True)
    record_id: Mapped[str] = mapped_column(Id)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @classmethod
    def entry(
        cls, who: Principal, action: str, *, org_id: str, location_id: str, client_id: str, record_id: str
    ):
        return cls(
            org_id=org_id,
            location_id=location_id,
            actor=who.sub,
            actor_role=who.role,
            action=action,
            client_id=client_id,
            record_id=record_id,
        )
