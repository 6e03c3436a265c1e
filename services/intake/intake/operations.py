"""intake's operations: each loads what it needs in the caller's scope, applies the rules and
writes rows plus events through the unit of work (committed by the caller)."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from intake import domain, events
from intake.models import AuditEntry, Client, Consent, IntakeForm
from shared.auth import Principal
from shared.clock import now
from shared.errors import Forbidden, NotFound
from shared.service import UnitOfWork


def scoped_clients(who: Principal):
    query = select(Client).where(Client.org_id == who.org)
    if not who.all_locations:
        query = query.where(Client.location_id.in_(who.locations))
    if who.role == "client":
        query = query.where(Client.id == who.sub)
    return query


def find_client(session: Session, who: Principal, client_id: str, *, lock: bool = False) -> Client:
    query = scoped_clients(who).where(Client.id == client_id)
    if lock:
        query = query.with_for_update()
    client = session.execute(query).scalar_one_or_none()
    if client is None:
        raise NotFound("client")
    return client


def list_clients_query(who: Principal, location_id: str | None, q: str | None):
    query = scoped_clients(who)
    if location_id:
        if not who.may_access(location_id):
            raise Forbidden("Your token does not grant this location.")
        query = query.where(Client.location_id == location_id)
    if q:
        pattern = f"%{q.lower()}%"
        query = query.where(
            or_(
                func.lower(Client.first_name).like(pattern),
                func.lower(Client.last_name).like(pattern),
                func.lower(Client.email).like(pattern),
            )
        )
    return query


def register_client(uow: UnitOfWork, who: Principal, data: dict) -> Client:
    if not who.may_access(data["location_id"]):
        raise Forbidden("Your token does not grant this location.")
    client = Client(org_id=who.org, **data)
    uow.session.add(client)
    uow.session.flush()
    events.client_registered(uow, client)
    events.contact_card(uow, client)
    return client


def update_client(uow: UnitOfWork, who: Principal, client_id: str, changes: dict) -> Client:
    client = find_client(uow.session, who, client_id, lock=True)
    for name, value in changes.items():
        setattr(client, name, value)
    client.version += 1
    client.updated_at = now()
    events.contact_card(uow, client)
    return client


def submit_intake_form(uow: UnitOfWork, who: Principal, client_id: str, data: dict) -> IntakeForm:
    client = find_client(uow.session, who, client_id, lock=True)
    latest = uow.session.execute(
        select(func.max(IntakeForm.version)).where(IntakeForm.client_id == client.id)
    ).scalar()
    codes = domain.contraindications(data["health_history"])
    form = IntakeForm(
        org_id=client.org_id,
        location_id=client.location_id,
        client_id=client.id,
        version=(latest or 0) + 1,
        goals=data["goals"],
        concerns=data.get("concerns"),
        preferences=data["preferences"],
        health_history=data["health_history"],
        contraindications=codes,
        holds=domain.holds(codes),
        submitted_by=who.sub,
    )
    uow.session.add(form)
    uow.session.flush()
    _audit(uow, who, "write_health_history", client, form.id)
    events.intake_submitted(uow, form)
    return form


def latest_intake_form(uow: UnitOfWork, who: Principal, client_id: str) -> tuple[IntakeForm, bool]:
    """The latest form, and whether the caller may see its health history (audited if so)."""
    client = find_client(uow.session, who, client_id)
    form = _latest_form(uow.session, client.id)
    if form is None:
        raise NotFound("intake form")
    may_see_health = who.role in domain.HEALTH_READERS or who.role == "client"
    if may_see_health:
        _audit(uow, who, "read_health_history", client, form.id)
    return form, may_see_health


def _latest_form(session: Session, client_id: str) -> IntakeForm | None:
    return session.execute(
        select(IntakeForm)
        .where(IntakeForm.client_id == client_id)
        .order_by(IntakeForm.version.desc())
        .limit(1)
    ).scalar_one_or_none()


def grant_consent(uow: UnitOfWork, who: Principal, client_id: str, data: dict) -> Consent:
    client = find_client(uow.session, who, client_id, lock=True)
    scope = data["scope"]
    domain.check_scope(scope["areas"], scope["excluded_areas"])
    valid_until = data.get("valid_until")
    if valid_until is not None and valid_until < now().date():
        raise domain.ValidityInPast("valid_until is in the past.")
    form = _latest_form(uow.session, client.id)
    if form is None:
        raise domain.IntakeRequired("Submit an intake form before granting consent.")
    consent = Consent(
        org_id=client.org_id,
        location_id=client.location_id,
        client_id=client.id,
        techniques=sorted(set(scope["techniques"])),
        areas=sorted(set(scope["areas"])),
        excluded_areas=sorted(set(scope["excluded_areas"])),
        form_version=data["form_version"],
        intake_form_id=form.id,
        signed_name=data["signature"]["signed_name"],
        valid_until=valid_until,
        status="active",
        version=1,
        granted_at=now(),
        granted_by=who.sub,
    )
    uow.session.add(consent)
    uow.session.flush()
    events.consent_granted(uow, consent)
    return consent


def consents_query(session: Session, who: Principal, client_id: str):
    client = find_client(session, who, client_id)
    return select(Consent).where(Consent.client_id == client.id)


def find_consent(session: Session, who: Principal, consent_id: str, *, lock: bool = False) -> Consent:
    query = select(Consent).where(Consent.id == consent_id, Consent.org_id == who.org)
    if lock:
        query = query.with_for_update()
    consent = session.execute(query).scalar_one_or_none()
    if consent is None or not who.may_access(consent.location_id):
        raise NotFound("consent")
    if who.role == "client" and consent.client_id != who.sub:
        raise NotFound("consent")
    return consent


def withdraw_consent(uow: UnitOfWork, who: Principal, consent_id: str, reason: str | None) -> Consent:
    consent = find_consent(uow.session, who, consent_id, lock=True)
    if consent.status == "withdrawn":
        raise domain.AlreadyWithdrawn("This consent was already withdrawn.")
    consent.status = "withdrawn"
    consent.version += 1
    consent.withdrawn_at = now()
    consent.withdrawn_by = who.sub
    consent.withdrawal_reason = reason
    events.consent_withdrawn(uow, consent)
    return consent


def _audit(uow: UnitOfWork, who: Principal, action: str, client: Client, record_id: str) -> None:
    uow.session.add(
        AuditEntry.entry(
            who, action, org_id=client.org_id, location_id=client.location_id,
            client_id=client.id, record_id=record_id,
        )  # fmt: skip
    )
