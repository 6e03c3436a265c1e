"""Every event notify consumes, in one table: contact cards (private), the events it has a
template for, and every public event it can forward to webhooks."""

from notify import domain, handlers
from notify.schemas import (
    EVENT_SCHEMAS,
    ClientRegistered,
    ConsentGranted,
    ConsentWithdrawn,
    ContactCard,
    FollowupDue,
    FollowupEscalated,
    SessionBooked,
    SessionCancelled,
    SessionCompleted,
    SessionStopped,
)
from shared.consumer import Subscription, Subscriptions
from shared.events import PRIVATE_EXCHANGE

SUBSCRIPTIONS = Subscriptions(
    Subscription("client.contact.v1", ContactCard, handlers.apply_contact_card, exchange=PRIVATE_EXCHANGE),
    Subscription("client.registered.v1", ClientRegistered, handlers.remember_client),
    Subscription("client.registered.v1", ClientRegistered, handlers.send_welcome),
    Subscription("consent.granted.v1", ConsentGranted, handlers.send_consent_receipt),
    Subscription("consent.withdrawn.v1", ConsentWithdrawn, handlers.send_consent_withdrawn_receipt),
    Subscription("session.booked.v1", SessionBooked, handlers.send_booking_confirmation),
    Subscription("session.cancelled.v1", SessionCancelled, handlers.send_cancellation_notice),
    Subscription("session.completed.v1", SessionCompleted, handlers.send_aftercare),
    Subscription("followup.due.v1", FollowupDue, handlers.send_checkin_request),
    Subscription("followup.escalated.v1", FollowupEscalated, handlers.alert_staff_of_escalation),
    Subscription("session.stopped.v1", SessionStopped, handlers.alert_staff_client_stopped),
    *(
        Subscription(key, EVENT_SCHEMAS[key], handlers.forward_to_webhooks)
        for key in domain.FORWARDED_EVENTS
    ),
)
