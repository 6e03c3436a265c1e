"""followup's operations: each loads what it needs in the caller's scope (or the event's
organisation), applies the rules and writes rows plus events through the unit of work
(committed by the caller)."""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, contains_eager

from followup import domain, events
from followup.models import AuditEntry, ConsentWithdrawal, Followup, Response
from shared.auth import Principal
from shared.clock import now
from shared.errors import Forbidden, NotFound
from shared.service import UnitOfWork


def _scope(who: Principal) -> list[ColumnElement[bool]]:
    conditions = [Followup.org_id == who.org]
    if not who.all_locations:
        conditions.append(Followup.location_id.in_(who.locations))
    if who.role == "client":
        conditions.append(Followup.client_id == who.sub)
    return conditions


def find_followup(session: Session, who: Principal, followup_id: str, *, lock: bool = False) -> Followup:
    query = select(Followup).where(*_scope(who), Followup.id == followup_id)
    if lock:
        query = query.with_for_update()
    followup = session.execute(query).scalar_one_or_none()
    if followup is None:
        raise NotFound("followup")
    return followup


def list_followups_query(who: Principal, location_id: str | None, client_id: str | None, status: str | None):
    query = select(Followup).where(*_scope(who))
    if location_id:
        if not who.may_access(location_id):
            raise Forbidden("Your token does not grant this location.")
        query = query.where(Followup.location_id == location_id)
    if client_id:
        query = query.where(Followup.client_id == client_id)
    if status:
        query = query.where(Followup.status == status)
    return query


def followup_detail(uow: UnitOfWork, who: Principal, followup_id: str) -> tuple[Followup, bool]:
    """The followup with its response, and whether the caller may read the concerns text.

    Reading a response is reading health data, so it is audited.
    """
    followup = find_followup(uow.session, who, followup_id)
    if followup.response is not None:
        _audit(uow, who, "read_response", followup.response)
    return followup, domain.may_read_concerns(who.role)


def respond(uow: UnitOfWork, who: Principal, followup_id: str, answers: dict) -> Followup:
    followup = find_followup(uow.session, who, followup_id, lock=True)
    domain.check_open(followup.status)
    concerns = (answers.get("concerns") or "").strip() or None
    reasons = domain.escalation_reasons(
        adverse_reaction=answers["adverse_reaction"], soreness=answers.get("soreness"), concerns=concerns
    )
    at = now()
    response = Response(
        followup=followup,
        org_id=followup.org_id,
        location_id=followup.location_id,
        client_id=followup.client_id,
        session_id=followup.session_id,
        wellbeing=answers["wellbeing"],
        pain_before=answers.get("pain_before"),
        pain_after=answers["pain_after"],
        soreness=answers.get("soreness"),
        adverse_reaction=answers["adverse_reaction"],
        concerns=concerns,
        would_rebook=answers.get("would_rebook"),
        responded_by=who.sub,
        responded_by_role=who.role,
        created_at=at,
    )
    uow.session.add(response)
    followup.status = domain.outcome(reasons)
    followup.escalation_reasons = reasons
    followup.responded_at = at
    followup.version += 1
    followup.updated_at = at
    uow.session.flush()
    _audit(uow, who, "write_response", response)
    events.followup_responded(uow, followup, response)
    if reasons:
        events.followup_escalated(uow, followup)
    return followup


def client_progress(uow: UnitOfWork, who: Principal, client_id: str) -> dict:
    """Sessions followed up and the answers given, in the caller's scope only.

    ``sessions`` counts the client's completed sessions known here (one followup each, answered
    or not); ``points`` are the answered ones, oldest session first. Nothing in scope reads the
    same as a client with no sessions, so the answer never reveals a client elsewhere.
    """
    in_scope = (*_scope(who), Followup.client_id == client_id)
    sessions = uow.session.execute(select(func.count(Followup.id)).where(*in_scope)).scalar_one()
    answered = uow.session.execute(
        select(Followup)
        .join(Followup.response)
        .options(contains_eager(Followup.response))
        .where(*in_scope, Followup.status.in_(domain.ANSWERED))
        .order_by(Followup.session_completed_at, Followup.id)
    ).scalars().all()
    for followup in answered:
        _audit(uow, who, "read_response", followup.response)
    points = [
        {
            "session_id": followup.session_id,
            "completed_at": followup.session_completed_at,
            "pain_before": followup.response.pain_before,
            "pain_after": followup.response.pain_after,
            "wellbeing": followup.response.wellbeing,
        }
        for followup in answered
    ]
    return {
        "sessions": sessions,
        "points": points,
        "trend": domain.trend([point["pain_after"] for point in points]),
    }


def schedule_followup(uow: UnitOfWork, *, org_id: str, location_id: str, completed: dict) -> Followup | None:
    """One followup per completed session; None when that session already has one."""
    exists = uow.session.execute(
        select(Followup.id).where(Followup.session_id == completed["session_id"])
    ).first()
    if exists is not None:
        return None
    at = now()
    completed_at = completed["completed_at"]
    followup = Followup(
        org_id=org_id,
        location_id=location_id,
        session_id=completed["session_id"],
        client_id=completed["client_id"],
        therapist_id=completed["therapist_id"],
        session_completed_at=completed_at,
        due_at=domain.due_at(completed_at, uow.settings.followup_delay),
        status=domain.SCHEDULED,
        version=1,
        escalation_reasons=[],
        created_at=at,
        updated_at=at,
    )
    uow.session.add(followup)
    uow.session.flush()
    withdrawn_at = _last_withdrawal(uow.session, org_id, completed["client_id"])
    if domain.cancelled_by_withdrawal(completed_at, withdrawn_at):
        _cancel(uow, [followup], domain.CONSENT_WITHDRAWN)
    else:
        events.followup_scheduled(uow, followup)
    return followup


def cancel_session_followups(uow: UnitOfWork, *, org_id: str, session_id: str) -> list[Followup]:
    open_followups = _lock_open(
        uow.session, Followup.org_id == org_id, Followup.session_id == session_id
    )
    return _cancel(uow, open_followups, domain.SESSION_CANCELLED)


def withdraw_consent(uow: UnitOfWork, *, org_id: str, withdrawal: dict) -> list[Followup]:
    """Remember the withdrawal, then cancel the client's open followups of sessions before it."""
    if uow.session.get(ConsentWithdrawal, withdrawal["consent_id"]) is None:
        uow.session.add(
            ConsentWithdrawal(
                consent_id=withdrawal["consent_id"],
                org_id=org_id,
                client_id=withdrawal["client_id"],
                withdrawn_at=withdrawal["withdrawn_at"],
            )
        )
    open_followups = _lock_open(
        uow.session,
        Followup.org_id == org_id,
        Followup.client_id == withdrawal["client_id"],
        Followup.session_completed_at <= withdrawal["withdrawn_at"],
    )
    return _cancel(uow, open_followups, domain.CONSENT_WITHDRAWN)


def _lock_open(session: Session, *conditions: ColumnElement[bool]) -> list[Followup]:
    query = (
        select(Followup)
        .where(*conditions, Followup.status.in_(domain.OPEN))
        .order_by(Followup.due_at, Followup.id)
        .with_for_update()
    )
    return list(session.execute(query).scalars())


def _cancel(uow: UnitOfWork, followups: Iterable[Followup], reason: str) -> list[Followup]:
    at = now()
    cancelled = []
    for followup in followups:
        followup.status = domain.CANCELLED
        followup.cancel_reason = reason
        followup.cancelled_at = at
        followup.version += 1
        followup.updated_at = at
        events.followup_cancelled(uow, followup)
        cancelled.append(followup)
    return cancelled


def _last_withdrawal(session: Session, org_id: str, client_id: str) -> datetime | None:
    return session.execute(
        select(func.max(ConsentWithdrawal.withdrawn_at)).where(
            ConsentWithdrawal.org_id == org_id, ConsentWithdrawal.client_id == client_id
        )
    ).scalar_one()


def _audit(uow: UnitOfWork, who: Principal, action: str, response: Response) -> None:
    uow.session.add(
        AuditEntry.entry(
            who, action, org_id=response.org_id, location_id=response.location_id,
            client_id=response.client_id, record_id=response.id,
        )  # fmt: skip
    )
