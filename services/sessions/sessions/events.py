"""The public events sessions emits. Data carries ids, times, codes and statuses only: never
note text, free-text reasons or anything about the client's health."""

from __future__ import annotations

from typing import Any, Mapping

from sessions.models import TreatmentSession
from shared.service import UnitOfWork


def _emit(uow: UnitOfWork, routing_key: str, session: TreatmentSession, data: Mapping[str, Any]) -> None:
    uow.emit(
        routing_key,
        subject=session.id,
        org_id=session.org_id,
        location_id=session.location_id,
        data={"session_id": session.id, "client_id": session.client_id, **data},
    )


def session_booked(uow: UnitOfWork, session: TreatmentSession) -> None:
    _emit(uow, "session.booked.v1", session, {
        "therapist_id": session.therapist_id,
        "starts_at": session.starts_at.isoformat(),
        "duration_minutes": session.duration_minutes,
        "technique": session.technique,
        "areas": list(session.areas),
    })  # fmt: skip


def session_started(uow: UnitOfWork, session: TreatmentSession) -> None:
    _emit(uow, "session.started.v1", session, {
        "therapist_id": session.therapist_id,
        "started_at": session.started_at.isoformat(),
    })  # fmt: skip


def session_stopped(uow: UnitOfWork, session: TreatmentSession) -> None:
    _emit(uow, "session.stopped.v1", session, {
        "therapist_id": session.therapist_id,
        "requested_by": session.stop_requested_by,
        "stopped_at": session.stopped_at.isoformat(),
    })  # fmt: skip


def session_completed(uow: UnitOfWork, session: TreatmentSession, check_in_count: int) -> None:
    _emit(uow, "session.completed.v1", session, {
        "therapist_id": session.therapist_id,
        "completed_at": session.completed_at.isoformat(),
        "check_in_count": check_in_count,
    })  # fmt: skip


def session_cancelled(uow: UnitOfWork, session: TreatmentSession) -> None:
    _emit(uow, "session.cancelled.v1", session, {
        "reason": session.cancel_reason,
        "cancelled_at": session.cancelled_at.isoformat(),
    })  # fmt: skip
