"""Every event sessions consumes, in one table: event, its schema (sessions' own copy), handler."""

from sessions import handlers
from sessions.schemas import ConsentGranted, ConsentWithdrawn, IntakeSubmitted
from shared.consumer import Subscription, Subscriptions

SUBSCRIPTIONS = Subscriptions(
    Subscription("consent.granted.v1", ConsentGranted, handlers.record_consent_granted),
    Subscription("consent.withdrawn.v1", ConsentWithdrawn, handlers.record_consent_withdrawal),
    Subscription("intake.submitted.v1", IntakeSubmitted, handlers.record_holds),
)
