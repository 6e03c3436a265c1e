"""Every event followup consumes, in one table: event, its schema, its handler."""

from followup.handlers import (
    ConsentWithdrawn,
    SessionCancelled,
    SessionCompleted,
    cancel_client_followups,
    cancel_session_followups,
    schedule_followup,
)
from shared.consumer import Subscription, Subscriptions

SUBSCRIPTIONS = Subscriptions(
    Subscription("session.completed.v1", SessionCompleted, schedule_followup),
    Subscription("session.cancelled.v1", SessionCancelled, cancel_session_followups),
    Subscription("consent.withdrawn.v1", ConsentWithdrawn, cancel_client_followups),
)
