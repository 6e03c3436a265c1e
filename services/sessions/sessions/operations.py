"""sessions' operations: each loads what it needs in the caller's scope, applies the rules and
writes rows plus events through the unit of work (committed by the caller).

Locks, always taken in this order so that no two transactions wait on each other: a booking locks
the therapist, then the client's active consents; a transition locks its session; a consent
withdrawal locks the consent, then the client's active sessions. A booking racing a withdrawal
therefore either sees the consent withdrawn or is seen (and cancelled) by the withdrawal.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from sessions import domain, events
from sessions.models import AuditEntry, CheckIn, Clearance, ClientHolds, Consent, Therapist, TreatmentSession
from shared.auth import Principal
from shared.clock import now
from shared.errors import Forbidden, NotFound
from shared.service import UnitOfWork


def in_scope(query: Select, model, who: Principal) -> Select:
    query = query.where(model.org_id == who.org)
    if not who.all_locations:
        query = query.where(model.location_id.in_(who.locations))
    return query


def _check_location(who: Principal, location_id: str) -> None:
    if not who.may_access(location_id):
        raise Forbidden("Your token does not grant this location.")


# Therapists


def create_therapist(uow: UnitOfWork, who: Principal, data: dict) -> Therapist:
    _check_location(who, data["location_id"])
    therapist = Therapist(
        org_id=who.org,
        location_id=data["location_id"],
        display_name=data["display_name"],
        techniques=sorted(set(data["techniques"])),
        active=True,
    )
    uow.session.add(therapist)
    uow.session.flush()
    return therapist


def find_therapist(session: Session, who: Principal, therapist_id: str, *, lock: bool = False) -> Therapist:
    query = in_scope(select(Therapist), Therapist, who).where(Therapist.id == therapist_id)
    if lock:
        query = query.with_for_update()
    therapist = session.execute(query).scalar_one_or_none()
    if therapist is None:
        raise NotFound("therapist")
    return therapist


def update_therapist(uow: UnitOfWork, who: Principal, therapist_id: str, changes: dict) -> Therapist:
    therapist = find_therapist(uow.session, who, therapist_id, lock=True)
    if "techniques" in changes:
        changes = {**changes, "techniques": sorted(set(changes["techniques"]))}
    for name, value in changes.items():
        setattr(therapist, name, value)
    return therapist


def therapists_query(who: Principal, location_id: str | None) -> Select:
    query = in_scope(select(Therapist), Therapist, who)
    if location_id:
        _check_location(who, location_id)
        query = query.where(Therapist.location_id == location_id)
    return query


# Sessions


def scoped_sessions(who: Principal) -> Select:
    query = in_scope(select(TreatmentSession), TreatmentSession, who)
    if who.role == "client":
        query = query.where(TreatmentSession.client_id == who.sub)
    return query


def find_session(session: Session, who: Principal, session_id: str, *, lock: bool = False) -> TreatmentSession:
    query = scoped_sessions(who).where(TreatmentSession.id == session_id)
    if lock:
        query = query.with_for_update()
    found = session.execute(query).scalar_one_or_none()
    if found is None:
        raise NotFound("session")
    return found


def sessions_query(who: Principal, filters: dict) -> Select:
    query = scoped_sessions(who)
    if filters.get("location_id"):
        _check_location(who, filters["location_id"])
        query = query.where(TreatmentSession.location_id == filters["location_id"])
    for name in ("therapist_id", "client_id", "status"):
        if filters.get(name):
            query = query.where(getattr(TreatmentSession, name) == filters[name])
    if filters.get("from_"):
        query = query.where(TreatmentSession.starts_at >= filters["from_"])
    if filters.get("to"):
        query = query.where(TreatmentSession.starts_at < filters["to"])
    return query


def book_session(uow: UnitOfWork, who: Principal, data: dict) -> TreatmentSession:
    _check_location(who, data["location_id"])
    if who.role == "client" and data["client_id"] != who.sub:
        raise Forbidden("A client books sessions only for themselves.")
    current = now()
    starts_at = data["starts_at"].astimezone(timezone.utc)
    domain.check_start_time(starts_at, current)
    therapist = find_therapist(uow.session, who, data["therapist_id"], lock=True)
    domain.check_therapist(therapist, location_id=data["location_id"], technique=data["technique"])
    booking = TreatmentSession(
        org_id=who.org,
        location_id=data["location_id"],
        client_id=data["client_id"],
        therapist_id=therapist.id,
        starts_at=starts_at,
        ends_at=domain.ends_at(starts_at, data["duration_minutes"]),
        duration_minutes=data["duration_minutes"],
        technique=data["technique"],
        areas=sorted(set(data["areas"])),
        status=domain.BOOKED,
        version=1,
        booked_by=who.sub,
        created_at=current,
        updated_at=current,
    )
    consent = _covering_consent(uow.session, booking, on=starts_at.date(), lock=True)
    _check_holds(uow.session, booking.org_id, booking.client_id)
    _check_therapist_free(uow.session, booking)
    booking.consent_id = consent.consent_id
    uow.session.add(booking)
    uow.session.flush()
    events.session_booked(uow, booking)
    return booking


def _covering_consent(session: Session, booking: TreatmentSession, *, on: date, lock: bool = False) -> Consent:
    query = (
        select(Consent)
        .where(
            Consent.org_id == booking.org_id,
            Consent.client_id == booking.client_id,
            Consent.location_id == booking.location_id,
            Consent.status == "active",
        )
        .order_by(Consent.consent_id)
    )
    if lock:
        query = query.with_for_update()
    consents = session.execute(query).scalars().all()
    return domain.require_consent(
        consents, location_id=booking.location_id, technique=booking.technique, areas=booking.areas, on=on
    )


def _current_holds(session: Session, org_id: str, client_id: str) -> tuple[list[str], list[str]]:
    """The client's holds and the codes cleared for the form they come from."""
    holds = session.get(ClientHolds, client_id)
    if holds is None or holds.org_id != org_id:
        return [], []
    cleared = session.execute(
        select(Clearance.contraindication).where(
            Clearance.org_id == org_id,
            Clearance.client_id == client_id,
            Clearance.form_version == holds.form_version,
        )
    ).scalars()
    return list(holds.holds), list(cleared)


def _check_holds(session: Session, org_id: str, client_id: str) -> None:
    domain.check_holds(*_current_holds(session, org_id, client_id))


def _check_therapist_free(session: Session, booking: TreatmentSession) -> None:
    clash = session.execute(
        select(TreatmentSession.id)
        .where(
            TreatmentSession.therapist_id == booking.therapist_id,
            TreatmentSession.status.in_(domain.ACTIVE_STATUSES),
            TreatmentSession.starts_at < booking.ends_at,
            TreatmentSession.ends_at > booking.starts_at,
        )
        .limit(1)
    ).first()
    if clash is not None:
        raise domain.TherapistUnavailable("The therapist has another session at that time.")


def read_session(uow: UnitOfWork, who: Principal, session_id: str) -> TreatmentSession:
    """The session; a read by a role that sees its notes is audited."""
    found = find_session(uow.session, who, session_id)
    if who.role in domain.NOTE_READERS:
        _audit(uow, who, "read_session_notes", found, found.id)
    return found


def _check_own_session(who: Principal, found: TreatmentSession) -> None:
    if who.role == "therapist" and found.therapist_id != who.sub:
        raise Forbidden("Only the session's own therapist may do this.")


def _touch(found: TreatmentSession, at: datetime) -> None:
    found.version += 1
    found.updated_at = at


def start_session(uow: UnitOfWork, who: Principal, session_id: str) -> TreatmentSession:
    found = find_session(uow.session, who, session_id, lock=True)
    _check_own_session(who, found)
    status = domain.advance(found.status, domain.IN_PROGRESS)
    current = now()
    consent = _covering_consent(uow.session, found, on=current.date())
    _check_holds(uow.session, found.org_id, found.client_id)
    found.status = status
    found.consent_id = consent.consent_id
    found.started_at = current
    _touch(found, current)
    events.session_started(uow, found)
    return found


def record_check_in(uow: UnitOfWork, who: Principal, session_id: str, data: dict) -> CheckIn:
    found = find_session(uow.session, who, session_id, lock=True)
    _check_own_session(who, found)
    domain.check_in_progress(found.status)
    check_in = CheckIn(
        session_id=found.id,
        org_id=found.org_id,
        location_id=found.location_id,
        comfort=data["comfort"],
        pressure=data["pressure"],
        note=data.get("note"),
        recorded_by=who.sub,
    )
    uow.session.add(check_in)
    uow.session.flush()
    if check_in.note is not None:
        _audit(uow, who, "write_check_in_note", found, check_in.id)
    return check_in


def stop_session(uow: UnitOfWork, who: Principal, session_id: str, data: dict) -> TreatmentSession:
    found = find_session(uow.session, who, session_id, lock=True)
    _check_own_session(who, found)
    domain.check_requester(who.role, data["requested_by"])
    stop(uow, found, data["requested_by"], data.get("reason"))
    return found


def stop(uow: UnitOfWork, found: TreatmentSession, requested_by: str, reason: str | None) -> None:
    found.status = domain.advance(found.status, domain.STOPPED)
    current = now()
    found.stopped_at = current
    found.stop_requested_by = requested_by
    found.stop_reason = reason
    _touch(found, current)
    events.session_stopped(uow, found)


def complete_session(uow: UnitOfWork, who: Principal, session_id: str, data: dict) -> TreatmentSession:
    found = find_session(uow.session, who, session_id, lock=True)
    _check_own_session(who, found)
    found.status = domain.advance(found.status, domain.COMPLETED)
    current = now()
    found.completed_at = current
    found.notes = data["notes"]
    found.aftercare = data["aftercare"]
    _touch(found, current)
    _audit(uow, who, "write_session_notes", found, found.id)
    check_in_count = uow.session.execute(
        select(func.count()).select_from(CheckIn).where(CheckIn.session_id == found.id)
    ).scalar_one()
    events.session_completed(uow, found, check_in_count)
    return found


def cancel_session(uow: UnitOfWork, who: Principal, session_id: str, note: str | None) -> TreatmentSession:
    found = find_session(uow.session, who, session_id, lock=True)
    cancel(uow, found, domain.cancel_reason_for(who.role), note)
    return found


def cancel(uow: UnitOfWork, found: TreatmentSession, reason: str, note: str | None = None) -> None:
    found.status = domain.advance(found.status, domain.CANCELLED)
    current = now()
    found.cancelled_at = current
    found.cancel_reason = reason
    found.cancel_note = note
    _touch(found, current)
    events.session_cancelled(uow, found)


def release_uncovered_sessions(uow: UnitOfWork, org_id: str, client_id: str) -> None:
    """After a withdrawal: cancel the client's booked sessions and stop the one in progress
    that no remaining active consent covers."""
    affected = uow.session.execute(
        select(TreatmentSession)
        .where(
            TreatmentSession.org_id == org_id,
            TreatmentSession.client_id == client_id,
            TreatmentSession.status.in_(domain.ACTIVE_STATUSES),
        )
        .order_by(TreatmentSession.id)
        .with_for_update()
    ).scalars().all()
    if not affected:
        return
    consents = uow.session.execute(
        select(Consent).where(
            Consent.org_id == org_id, Consent.client_id == client_id, Consent.status == "active"
        )
    ).scalars().all()
    current = now()
    for found in affected:
        on = domain.coverage_day(found.status, found.starts_at, current)
        covering = domain.covering(
            consents, location_id=found.location_id, technique=found.technique, areas=found.areas, on=on
        )
        if covering is not None:
            continue
        if found.status == domain.BOOKED:
            cancel(uow, found, domain.CONSENT_WITHDRAWN)
        else:
            stop(uow, found, "client", domain.CONSENT_WITHDRAWN)


# Clearances


def clear_hold(uow: UnitOfWork, who: Principal, client_id: str, data: dict) -> Clearance:
    holds = uow.session.execute(
        in_scope(select(ClientHolds), ClientHolds, who)
        .where(ClientHolds.client_id == client_id)
        .with_for_update()
    ).scalar_one_or_none()
    if holds is None:
        if not _client_known(uow.session, who, client_id):
            raise NotFound("client")
        raise domain.NoSuchHold("The client has no contraindication holds on file.")
    code = data["contraindication"]
    domain.check_clearable(code, *_current_holds(uow.session, holds.org_id, client_id))
    clearance = Clearance(
        org_id=holds.org_id,
        location_id=holds.location_id,
        client_id=client_id,
        contraindication=code,
        form_version=holds.form_version,
        note=data["note"],
        cleared_by=who.sub,
    )
    uow.session.add(clearance)
    uow.session.flush()
    uow.session.add(_audit_entry(who, "write_clearance_note", holds.org_id, holds.location_id, client_id, clearance.id))
    return clearance


def _client_known(session: Session, who: Principal, client_id: str) -> bool:
    """sessions knows a client from a consent it has seen for them in the caller's scope."""
    query = in_scope(select(Consent.consent_id), Consent, who).where(Consent.client_id == client_id)
    return session.execute(query.limit(1)).first() is not None


def _audit(uow: UnitOfWork, who: Principal, action: str, found: TreatmentSession, record_id: str) -> None:
    uow.session.add(
        _audit_entry(who, action, found.org_id, found.location_id, found.client_id, record_id)
    )


def _audit_entry(
    who: Principal, action: str, org_id: str, location_id: str, client_id: str, record_id: str
) -> AuditEntry:
    return AuditEntry.entry(
        who, action, org_id=org_id, location_id=location_id, client_id=client_id, record_id=record_id
    )
