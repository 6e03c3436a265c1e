"""notify's operations: each loads what it needs in the caller's (or the event's) scope, applies
the rules and writes rows through the unit of work (committed by the caller)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from notify import domain
from notify.models import Contact, Delivery, Preference, StaffContact, Webhook
from notify.transports import new_secret
from shared.auth import Principal
from shared.clock import now
from shared.errors import Forbidden, NotFound
from shared.events import Event
from shared.service import UnitOfWork

# What notify learns from intake ---------------------------------------------------------------


def preference_of(session: Session, org_id: str, client_id: str, *, lock: bool = False) -> Preference | None:
    query = select(Preference).where(Preference.client_id == client_id, Preference.org_id == org_id)
    if lock:
        query = query.with_for_update()
    return session.execute(query).scalar_one_or_none()


def contact_of(session: Session, org_id: str, client_id: str) -> Contact | None:
    return session.execute(
        select(Contact).where(Contact.client_id == client_id, Contact.org_id == org_id)
    ).scalar_one_or_none()


def remember_client(uow: UnitOfWork, org_id: str, location_id: str, client_id: str, channel: str) -> None:
    """A newly registered client: their channel as chosen at intake, unless notify knows better."""
    if preference_of(uow.session, org_id, client_id) is not None:
        return
    uow.session.add(
        Preference(
            client_id=client_id,
            org_id=org_id,
            location_id=location_id,
            channel=channel,
            quiet_hours=None,
            updated_at=now(),
            set_by=domain.SET_AT_INTAKE,
        )
    )


def apply_contact_card(uow: UnitOfWork, org_id: str, card: dict[str, Any]) -> bool:
    """Keep the newest card; an older or repeated version changes nothing. True if applied."""
    session = uow.session
    client_id = card["client_id"]
    contact = session.execute(
        select(Contact).where(Contact.client_id == client_id).with_for_update()
    ).scalar_one_or_none()
    if contact is not None and (contact.org_id != org_id or contact.version >= card["version"]):
        return False
    previous_channel = contact.card.get("preferred_channel") if contact else None
    details = {
        "first_name": card["first_name"],
        "email": card["email"],
        "phone": card["phone"],
        "language": card["language"],
        "preferred_channel": card["preferred_channel"],
    }
    if contact is None:
        contact = Contact(client_id=client_id, org_id=org_id)
        session.add(contact)
    contact.location_id = card["location_id"]
    contact.version = card["version"]
    contact.card = details
    contact.updated_at = now()
    _follow_card_channel(uow, org_id, card, previous_channel)
    return True


def _follow_card_channel(uow: UnitOfWork, org_id: str, card: dict, previous_channel: str | None) -> None:
    preference = preference_of(uow.session, org_id, card["client_id"], lock=True)
    current = preference.channel if preference else None
    set_at_intake = preference is None or preference.set_by == domain.SET_AT_INTAKE
    channel = domain.channel_after_card(current, set_at_intake, previous_channel, card["preferred_channel"])
    if preference is None:
        remember_client(uow, org_id, card["location_id"], card["client_id"], channel)
    elif channel != preference.channel:
        preference.channel = channel
        preference.set_by = domain.SET_AT_INTAKE
        preference.updated_at = now()


# Deliveries made from events --------------------------------------------------------------


def _delivery(event: Event, template: str, **columns) -> Delivery:
    moment = now()
    columns.setdefault("not_before", moment)
    return Delivery(
        event_id=event.id,
        org_id=event.org_id,
        location_id=event.location_id,
        template=template,
        attempts=0,
        created_at=moment,
        **columns,
    )


def record_client_notice(uow: UnitOfWork, event: Event, data: dict, template: str) -> Delivery | None:
    """A message to the client on their channel: suppressed if they opted out, deferred past
    their quiet hours."""
    if template not in domain.templates_for(event.routing_key, data):
        return None
    preference = preference_of(uow.session, event.org_id, data["client_id"])
    channel = domain.client_channel(preference.channel if preference else None)
    quiet_end = domain.quiet_until(preference.quiet_hours if preference else None, now())
    opted_out = channel == domain.OPTED_OUT
    delivery = _delivery(
        event,
        template,
        client_id=data["client_id"],
        channel=channel,
        recipient_kind=domain.CLIENT,
        payload=domain.message_payload(template, data),
        status=domain.SUPPRESSED if opted_out else domain.PENDING,
        last_error="the client opted out" if opted_out else None,
        **({"not_before": quiet_end} if quiet_end else {}),
    )
    uow.session.add(delivery)
    return delivery


def record_staff_alert(uow: UnitOfWork, event: Event, data: dict, template: str) -> Delivery | None:
    """An email to the location's staff contact; client quiet hours do not apply."""
    if template not in domain.templates_for(event.routing_key, data):
        return None
    delivery = _delivery(
        event,
        template,
        client_id=data.get("client_id"),
        channel="email",
        recipient_kind=domain.STAFF,
        payload=domain.message_payload(template, data),
        status=domain.PENDING,
    )
    uow.session.add(delivery)
    return delivery


def record_webhook_deliveries(uow: UnitOfWork, event: Event) -> list[Delivery]:
    """One delivery per active webhook of the event's organisation and location it matches."""
    hooks = uow.session.execute(
        select(Webhook).where(
            Webhook.org_id == event.org_id,
            Webhook.active.is_(True),
            or_(Webhook.location_id.is_(None), Webhook.location_id == event.location_id),
        )
    ).scalars()
    client_id = event.data.get("client_id")
    deliveries = [
        _delivery(
            event,
            event.routing_key,
            client_id=client_id if isinstance(client_id, str) else None,
            channel=domain.WEBHOOK,
            recipient_kind=domain.STAFF,
            webhook_id=hook.id,
            payload={
                "type": event.type,
                "id": event.id,
                "time": event.time.isoformat(),
                "subject": event.subject,
                "data": event.data,
            },
            status=domain.PENDING,
        )
        for hook in hooks
        if domain.matches_any(hook.event_types, event.routing_key)
    ]
    uow.session.add_all(deliveries)
    return deliveries


# What callers ask for -------------------------------------------------------------------------


def find_client_preference(
    session: Session, who: Principal, client_id: str, *, lock: bool = False
) -> Preference:
    """notify knows a client from client.registered or a contact card; both leave a preference."""
    preference = preference_of(session, who.org, client_id, lock=lock)
    if preference is None or not who.may_access(preference.location_id):
        raise NotFound("client")
    if who.role == "client" and who.sub != client_id:
        raise NotFound("client")
    return preference


def set_preference(uow: UnitOfWork, who: Principal, client_id: str, data: dict) -> Preference:
    preference = find_client_preference(uow.session, who, client_id, lock=True)
    preference.channel = data["channel"]
    preference.quiet_hours = data.get("quiet_hours")
    preference.set_by = who.sub
    preference.updated_at = now()
    return preference


def notifications_query(who: Principal, client_id: str | None, location_id: str | None, status: str | None):
    query = select(Delivery).where(Delivery.org_id == who.org)
    if not who.all_locations:
        query = query.where(Delivery.location_id.in_(who.locations))
    if who.role == "client":
        query = query.where(Delivery.client_id == who.sub, Delivery.recipient_kind == domain.CLIENT)
    if location_id:
        if not who.may_access(location_id):
            raise Forbidden("Your token does not grant this location.")
        query = query.where(Delivery.location_id == location_id)
    if client_id:
        query = query.where(Delivery.client_id == client_id)
    if status:
        query = query.where(Delivery.status == status)
    return query


def set_staff_contact(uow: UnitOfWork, who: Principal, location_id: str, email: str) -> StaffContact:
    if not who.may_access(location_id):
        raise NotFound("location")
    contact = uow.session.get(StaffContact, (who.org, location_id), with_for_update=True)
    if contact is None:
        contact = StaffContact(org_id=who.org, location_id=location_id)
        uow.session.add(contact)
    contact.email = email
    contact.set_by = who.sub
    contact.updated_at = now()
    return contact


def find_staff_contact(session: Session, who: Principal, location_id: str) -> StaffContact:
    if not who.may_access(location_id):
        raise NotFound("location")
    contact = session.get(StaffContact, (who.org, location_id))
    if contact is None:
        raise NotFound("staff contact")
    return contact


def create_webhook(uow: UnitOfWork, who: Principal, data: dict) -> Webhook:
    location_id = data.get("location_id")
    if location_id is None and not who.all_locations:
        raise domain.WebhookLocationRequired(
            "Name the location whose events to send; only an org_admin granted every location "
            "may subscribe to the whole organisation."
        )
    if location_id is not None and not who.may_access(location_id):
        raise Forbidden("Your token does not grant this location.")
    webhook = Webhook(
        org_id=who.org,
        location_id=location_id,
        url=data["url"],
        event_types=list(dict.fromkeys(data["event_types"])),
        description=data.get("description"),
        secret=new_secret(),
        active=True,
        created_by=who.sub,
        created_at=now(),
    )
    uow.session.add(webhook)
    uow.session.flush()
    return webhook


def webhooks_query(who: Principal):
    """Active webhooks the caller may see: organisation-wide ones only with every location."""
    query = select(Webhook).where(Webhook.org_id == who.org, Webhook.active.is_(True))
    if not who.all_locations:
        query = query.where(Webhook.location_id.in_(who.locations))
    return query


def find_webhook(session: Session, who: Principal, webhook_id: str) -> Webhook:
    webhook = session.execute(
        webhooks_query(who).where(Webhook.id == webhook_id).with_for_update()
    ).scalar_one_or_none()
    if webhook is None:
        raise NotFound("webhook")
    return webhook


def delete_webhook(uow: UnitOfWork, who: Principal, webhook_id: str) -> None:
    """Deactivates it: nothing more is sent to it (pending deliveries are suppressed)."""
    find_webhook(uow.session, who, webhook_id).active = False
