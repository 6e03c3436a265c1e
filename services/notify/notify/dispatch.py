"""The delivery job: sends the deliveries that are due, at most ``BATCH`` per run.

A run first claims due deliveries with a lease (``claimed_until``) in one short transaction, so
two relay processes never send the same delivery at once; a worker that dies mid-send leaves a
lease that simply runs out. Each delivery is then taken (its lease renewed) and re-checked just
before sending, since an opt-out, quiet hours or a contact card may have arrived since it was
recorded. The send happens outside any database transaction; its outcome is settled in one unit
of work together with notification.sent or notification.failed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Callable

from sqlalchemy import or_, select, update

from notify import domain, events, messages, transports
from notify.models import Delivery, StaffContact, Webhook
from notify.operations import contact_of, preference_of
from shared import clock
from shared.config import Settings
from shared.service import Service

log = logging.getLogger("rapport.notify.dispatch")

BATCH = 50
LEASE = timedelta(seconds=60)
TIME_BUDGET = 5.0  # seconds of sending per run


@dataclass(frozen=True)
class Send:
    channel: str
    send: Callable[[], None]


@dataclass(frozen=True)
class Defer:
    until: datetime


@dataclass(frozen=True)
class Suppress:
    reason: str
    channel: str | None = None


@dataclass(frozen=True)
class GiveUp:
    reason: str


@dataclass(frozen=True)
class Sent:
    channel: str


@dataclass(frozen=True)
class SendError:
    reason: str
    channel: str | None = None


Plan = Send | Defer | Suppress | GiveUp | SendError
Outcome = Defer | Suppress | GiveUp | Sent | SendError


def deliver_due(service: Service, at: datetime | None = None) -> int:
    """Send what is due (``at`` fixes the time, for tests); returns how many were handled.

    The job shares the relay's loop, so once ``TIME_BUDGET`` is spent a run starts no further
    send (a slow mail server must not hold up the outbox) and hands the rest back at once.
    """
    claimed = claim(service, at or clock.now())
    started = time.monotonic()
    for done, (delivery_id, lease) in enumerate(claimed):
        if done and time.monotonic() - started > TIME_BUDGET:
            release(service, claimed[done:])
            return done
        try:
            deliver(service, delivery_id, lease, at)
        except Exception:  # the database went away mid-batch: the lease runs out, it is retried
            log.exception("delivery %s could not be settled; it will be tried again", delivery_id)
    return len(claimed)


def claim(service: Service, now: datetime) -> list[tuple[str, datetime]]:
    """Lease up to BATCH due deliveries; returns (id, lease) pairs."""
    lease = now + LEASE
    with service.sessions() as session:
        rows = (
            session.execute(
                select(Delivery)
                .where(
                    Delivery.status == domain.PENDING,
                    Delivery.not_before <= now,
                    or_(Delivery.claimed_until.is_(None), Delivery.claimed_until < now),
                )
                .order_by(Delivery.not_before)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
            .scalars()
            .all()
        )
        for row in rows:
            row.claimed_until = lease
        session.commit()
    return [(row.id, lease) for row in rows]


def release(service: Service, claimed: list[tuple[str, datetime]]) -> None:
    with service.sessions() as session:
        for delivery_id, lease in claimed:
            session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id, Delivery.claimed_until == lease)
                .values(claimed_until=None)
            )
        session.commit()


def deliver(service: Service, delivery_id: str, lease: datetime, at: datetime | None) -> None:
    taken = take(service, delivery_id, lease, at)
    if taken is None:
        return
    plan, lease = taken
    outcome: Outcome
    if isinstance(plan, Send):
        try:
            plan.send()
            outcome = Sent(plan.channel)
        except transports.SendFailed as error:
            outcome = SendError(str(error), plan.channel)
        except Exception as error:  # a transport bug counts as a failed attempt, never a stall
            log.exception("sending delivery %s failed unexpectedly", delivery_id)
            outcome = SendError(f"unexpected {type(error).__name__}", plan.channel)
    else:
        outcome = plan
    settle(service, delivery_id, lease, outcome, at)


def _locked(session, delivery_id: str, lease: datetime) -> Delivery | None:
    return session.execute(
        select(Delivery)
        .where(
            Delivery.id == delivery_id,
            Delivery.status == domain.PENDING,
            Delivery.claimed_until == lease,
        )
        .with_for_update()
    ).scalar_one_or_none()


def take(
    service: Service, delivery_id: str, lease: datetime, at: datetime | None
) -> tuple[Plan, datetime] | None:
    """Renew the lease and decide what to do; None if another worker holds the delivery now."""
    now = at or clock.now()
    with service.sessions() as session:
        delivery = _locked(session, delivery_id, lease)
        if delivery is None:
            return None
        renewed = now + LEASE
        delivery.claimed_until = renewed
        plan = _plan(session, service.settings, delivery, now)
        session.commit()
    return plan, renewed


def _plan(session, settings: Settings, delivery: Delivery, now: datetime) -> Plan:
    try:
        return _plan_for(session, settings, delivery, now)
    except messages.TemplateError as error:
        return SendError(str(error))


def _plan_for(session, settings: Settings, delivery: Delivery, now: datetime) -> Plan:
    if delivery.channel == domain.WEBHOOK:
        hook = session.get(Webhook, delivery.webhook_id)
        if hook is None or not hook.active:
            return Suppress("the webhook was deleted")
        send = partial(transports.post_webhook, hook.url, hook.secret, delivery.id, delivery.payload)
        return Send(domain.WEBHOOK, send)
    if delivery.recipient_kind == domain.STAFF:
        staff = session.get(StaffContact, (delivery.org_id, delivery.location_id))
        if staff is None:
            return _no_contact(delivery, now)
        message = _render(delivery, None, None)
        return Send("email", partial(transports.send_email, settings, delivery.id, staff.email, message))
    return _plan_for_client(session, settings, delivery, now)


def _plan_for_client(session, settings: Settings, delivery: Delivery, now: datetime) -> Plan:
    preference = preference_of(session, delivery.org_id, delivery.client_id)
    channel = domain.client_channel(preference.channel if preference else None)
    if channel == domain.OPTED_OUT:
        return Suppress("the client opted out", domain.OPTED_OUT)
    quiet_hours = preference.quiet_hours if preference else None
    quiet_end = domain.quiet_until(quiet_hours, now)
    if quiet_end is not None:
        return Defer(quiet_end)
    contact = contact_of(session, delivery.org_id, delivery.client_id)
    card = contact.card if contact else {}
    target = domain.route(channel, card.get("email"), card.get("phone"))
    if target is None:
        return _no_contact(delivery, now)
    message = _render(delivery, card.get("first_name"), quiet_hours["timezone"] if quiet_hours else None)
    send = transports.send_sms if target.channel == "sms" else transports.send_email
    return Send(target.channel, partial(send, settings, delivery.id, target.address, message))


def _no_contact(delivery: Delivery, now: datetime) -> Defer | GiveUp:
    if domain.waiting_for_contact(delivery.created_at, now):
        return Defer(now + domain.CONTACT_RECHECK)
    return GiveUp("no contact details")


def _render(delivery: Delivery, first_name: str | None, zone: str | None) -> messages.Message:
    try:
        context = domain.render_context(delivery.template, delivery.payload, first_name, zone)
    except (KeyError, ValueError) as error:
        raise messages.TemplateError(f"cannot render {delivery.template}: {error}") from error
    return messages.render(delivery.template, context)


def settle(
    service: Service, delivery_id: str, lease: datetime, outcome: Outcome, at: datetime | None
) -> None:
    """Record what happened, with its event, in one unit of work."""
    now = at or clock.now()
    with service.unit_of_work() as uow:
        delivery = _locked(uow.session, delivery_id, lease)
        if delivery is None:
            log.warning("delivery %s changed hands while it was being sent", delivery_id)
            return
        delivery.claimed_until = None
        if isinstance(outcome, Defer):
            delivery.not_before = outcome.until
        elif isinstance(outcome, Suppress):
            delivery.status = domain.SUPPRESSED
            delivery.channel = outcome.channel or delivery.channel
            delivery.last_error = outcome.reason
        elif isinstance(outcome, GiveUp):
            delivery.status = domain.FAILED
            delivery.last_error = outcome.reason
            events.notification_failed(uow, delivery)
        elif isinstance(outcome, Sent):
            delivery.status = domain.SENT
            delivery.channel = outcome.channel
            delivery.attempts += 1
            delivery.sent_at = now
            delivery.last_error = None
            events.notification_sent(uow, delivery)
        else:
            _record_send_error(uow, delivery, outcome, now)


def _record_send_error(uow, delivery: Delivery, outcome: SendError, now: datetime) -> None:
    delivery.attempts += 1
    delivery.channel = outcome.channel or delivery.channel
    delivery.last_error = outcome.reason[:1000]
    if domain.gives_up(delivery.attempts, uow.settings.notify_max_attempts):
        delivery.status = domain.FAILED
        events.notification_failed(uow, delivery)
    else:
        delivery.not_before = now + domain.retry_delay(delivery.attempts)
