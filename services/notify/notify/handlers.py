"""notify's event entrypoints: one handler per (event, template), each writing its rows in the
unit of work the consumer gives it (the inbox makes each run once per event).

A handler's name is its inbox key: renaming one makes replayed events run it again.
"""

from __future__ import annotations

import functools

from notify import operations
from shared.consumer import Handler, PoisonMessage
from shared.events import Event
from shared.service import UnitOfWork


def scoped(handler: Handler) -> Handler:
    """Every row notify writes belongs to an organisation and a location, named by the event."""

    @functools.wraps(handler)
    def checked(uow: UnitOfWork, event: Event, data: dict) -> None:
        if not event.org_id or not event.location_id:
            raise PoisonMessage(f"{event.type} {event.id} names no organisation or location")
        handler(uow, event, data)

    return checked


@scoped
def remember_client(uow: UnitOfWork, event: Event, data: dict) -> None:
    operations.remember_client(
        uow, event.org_id, data["location_id"], data["client_id"], data["preferred_channel"]
    )


@scoped
def apply_contact_card(uow: UnitOfWork, event: Event, data: dict) -> None:
    operations.apply_contact_card(uow, event.org_id, data)


@scoped
def send_welcome(uow: UnitOfWork, event: Event, data: dict) -> None:
    operations.record_client_notice(uow, event, data, "welcome")


@scoped
def send_consent_receipt(uow: UnitOfWork, event: Event, data: dict) -> None:
    operations.record_client_notice(uow, event, data, "consent_receipt")


@scoped
def send_consent_withdrawn_receipt(uow: UnitOfWork, event: Event, data: dict) -> None:
    operations.record_client_notice(uow, event, data, "consent_withdrawn_receipt")


@scoped
def send_booking_confirmation(uow: UnitOfWork, event: Event, data: dict) -> None:
    operations.record_client_notice(uow, event, data, "booking_confirmation")


@scoped
def send_cancellation_notice(uow: UnitOfWork, event: Event, data: dict) -> None:
    operations.record_client_notice(uow, event, data, "cancellation_notice")


@scoped
def send_aftercare(uow: UnitOfWork, event: Event, data: dict) -> None:
    operations.record_client_notice(uow, event, data, "aftercare")


@scoped
def send_checkin_request(uow: UnitOfWork, event: Event, data: dict) -> None:
    operations.record_client_notice(uow, event, data, "checkin_request")


@scoped
def alert_staff_of_escalation(uow: UnitOfWork, event: Event, data: dict) -> None:
    operations.record_staff_alert(uow, event, data, "staff_escalation_alert")


@scoped
def alert_staff_client_stopped(uow: UnitOfWork, event: Event, data: dict) -> None:
    """Only when the client asked to stop; the domain's template rule decides."""
    operations.record_staff_alert(uow, event, data, "staff_client_stopped_alert")


@scoped
def forward_to_webhooks(uow: UnitOfWork, event: Event, _data: dict) -> None:
    operations.record_webhook_deliveries(uow, event)
