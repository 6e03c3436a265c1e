"""The public events followup emits. Data carries ids, codes, statuses and numbers only.

Beyond the contract's fields, every event carries the followup's ``version`` (so consumers can
ignore stale ones), and ``followup.escalated.v1`` the ``therapist_id`` to alert.

``followup.cancelled.v1`` is an addition to the contract:
``{followup_id, session_id, client_id, reason, version}``, where ``reason`` is
``session_cancelled`` or ``consent_withdrawn``. It tells consumers (notify) that a check-in
they may have been asked to send is no longer wanted.
"""

from __future__ import annotations

from typing import Any

from followup.models import Followup, Response
from shared.service import UnitOfWork


def _emit(uow: UnitOfWork, routing_key: str, followup: Followup, **data: Any) -> None:
    uow.emit(
        routing_key,
        subject=followup.id,
        org_id=followup.org_id,
        location_id=followup.location_id,
        data={
            "followup_id": followup.id,
            "session_id": followup.session_id,
            "client_id": followup.client_id,
            **data,
            "version": followup.version,
        },
    )


def followup_scheduled(uow: UnitOfWork, followup: Followup) -> None:
    _emit(uow, "followup.scheduled.v1", followup, due_at=followup.due_at.isoformat())


def followup_due(uow: UnitOfWork, followup: Followup) -> None:
    _emit(uow, "followup.due.v1", followup)


def followup_responded(uow: UnitOfWork, followup: Followup, response: Response) -> None:
    _emit(
        uow,
        "followup.responded.v1",
        followup,
        wellbeing=response.wellbeing,
        pain_after=response.pain_after,
        status=followup.status,
    )


def followup_escalated(uow: UnitOfWork, followup: Followup) -> None:
    _emit(
        uow,
        "followup.escalated.v1",
        followup,
        therapist_id=followup.therapist_id,
        reasons=list(followup.escalation_reasons),
    )


def followup_cancelled(uow: UnitOfWork, followup: Followup) -> None:
    _emit(uow, "followup.cancelled.v1", followup, reason=followup.cancel_reason)
