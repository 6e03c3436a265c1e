"""followup's event entrypoints, each with its own copy of the event it consumes.

The copies require the fields the contract's event table names and ignore any others, so a
producer may add fields without breaking followup. Every row takes its organisation (and, for
new followups, its location) from the event's envelope; an event without them can never be
handled and is parked.
"""

from __future__ import annotations

import marshmallow as ma
from marshmallow import EXCLUDE, fields, validate

from followup import operations
from shared.consumer import PoisonMessage
from shared.events import Event
from shared.service import UnitOfWork

ExternalId = validate.Length(min=1, max=64)


class ConsumedEvent(ma.Schema):
    class Meta:
        unknown = EXCLUDE


class SessionCompleted(ConsumedEvent):
    session_id = fields.String(required=True, validate=ExternalId)
    client_id = fields.String(required=True, validate=ExternalId)
    therapist_id = fields.String(required=True, validate=ExternalId)
    completed_at = fields.AwareDateTime(required=True)
    check_in_count = fields.Integer(required=True, validate=validate.Range(min=0))


class SessionCancelled(ConsumedEvent):
    session_id = fields.String(required=True, validate=ExternalId)
    client_id = fields.String(required=True, validate=ExternalId)
    reason = fields.String(required=True, allow_none=True)
    cancelled_at = fields.AwareDateTime(required=True)


class ConsentWithdrawn(ConsumedEvent):
    consent_id = fields.String(required=True, validate=ExternalId)
    client_id = fields.String(required=True, validate=ExternalId)
    version = fields.Integer(required=True, validate=validate.Range(min=1))
    withdrawn_at = fields.AwareDateTime(required=True)


def _require_envelope(event: Event, *, location: bool) -> None:
    if not event.org_id or (location and not event.location_id):
        raise PoisonMessage(f"{event.routing_key} {event.id} names no organisation or location")


def schedule_followup(uow: UnitOfWork, event: Event, data: dict) -> None:
    """A completed session gets one check-in, due ``RAPPORT_FOLLOWUP_DELAY`` later."""
    _require_envelope(event, location=True)
    operations.schedule_followup(
        uow, org_id=event.org_id, location_id=event.location_id, completed=data
    )


def cancel_session_followups(uow: UnitOfWork, event: Event, data: dict) -> None:
    """A cancelled session needs no check-in (an answered one is kept)."""
    _require_envelope(event, location=False)
    operations.cancel_session_followups(uow, org_id=event.org_id, session_id=data["session_id"])


def cancel_client_followups(uow: UnitOfWork, event: Event, data: dict) -> None:
    """A client who withdrew consent is not asked about their sessions any more."""
    _require_envelope(event, location=False)
    operations.withdraw_consent(uow, org_id=event.org_id, withdrawal=data)
