"""notify's request, response and consumed-event shapes.

Requests reject unknown fields (marshmallow's RAISE). Consumed events ignore fields they do not
know, since the contract lets producers add fields; what they do know is validated strictly.
"""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate, validates_schema

from notify import domain
from shared.pagination import PageArgs, page_schema

Ident = validate.Length(min=1, max=64)  # location ids, as tokens carry them
EntityId = validate.Length(min=1, max=36)  # UUIDs of clients, sessions, followups ...


# Requests and responses ---------------------------------------------------------------------


class QuietHours(ma.Schema):
    start = fields.String(required=True, metadata={"example": "21:00"})
    end = fields.String(required=True, metadata={"example": "08:00"})
    timezone = fields.String(
        required=True, validate=validate.Length(max=64), metadata={"example": "Europe/London"}
    )

    @validates_schema
    def _valid_window(self, data, **_kwargs):
        errors: dict[str, list[str]] = {}
        for name in ("start", "end"):
            try:
                domain.parse_hhmm(data[name])
            except ValueError:
                errors[name] = ["Give a time of day as HH:MM (00:00 to 23:59)."]
        if not domain.known_timezone(data["timezone"]):
            errors["timezone"] = ["Not an IANA timezone name, such as Europe/London."]
        if not errors and data["start"] == data["end"]:
            errors["end"] = ["The quiet window must not start and end at the same time."]
        if errors:
            raise ma.ValidationError(errors)


class PreferenceUpdate(ma.Schema):
    channel = fields.String(required=True, validate=validate.OneOf(domain.CHANNELS))
    quiet_hours = fields.Nested(QuietHours, allow_none=True, load_default=None)


class PreferenceOut(ma.Schema):
    client_id = fields.String()
    location_id = fields.String()
    channel = fields.String()
    quiet_hours = fields.Dict(allow_none=True)
    updated_at = fields.DateTime()


class NotificationListArgs(PageArgs):
    client_id = fields.String(validate=Ident)
    location_id = fields.String(validate=Ident)
    status = fields.String(validate=validate.OneOf(domain.STATUSES))


class NotificationOut(ma.Schema):
    """A delivery as staff and clients see it: never the recipient's address."""

    id = fields.String()
    event_id = fields.String()
    client_id = fields.String(allow_none=True)
    location_id = fields.String()
    template = fields.String()
    channel = fields.String()
    recipient_kind = fields.String(metadata={"enum": [domain.CLIENT, domain.STAFF]})
    status = fields.String(metadata={"enum": list(domain.STATUSES)})
    attempts = fields.Integer()
    not_before = fields.DateTime()
    created_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)


NotificationPage = page_schema(NotificationOut, "NotificationPage")


class WebhookCreate(ma.Schema):
    url = fields.Url(
        required=True, schemes={"http", "https"}, require_tld=False, validate=validate.Length(max=2000)
    )
    event_types = fields.List(
        fields.String(validate=validate.Length(min=1, max=128)),
        required=True,
        validate=validate.Length(min=1, max=20),
        metadata={"example": ["session.*.v1", "followup.escalated.v1"]},
    )
    description = fields.String(validate=validate.Length(max=500))
    location_id = fields.String(
        validate=Ident,
        metadata={
            "description": "the location whose events to send; omit for every location "
            "(only an org_admin granted every location may)"
        },
    )

    @validates_schema
    def _patterns(self, data, **_kwargs):
        patterns = data.get("event_types") or []
        bad = [p for p in patterns if not domain.valid_pattern(p)]
        if bad:
            raise ma.ValidationError(
                [f"Not a routing-key pattern (words, '*' or '#', joined by dots): {', '.join(bad)}."],
                "event_types",
            )
        idle = sorted(set(patterns) - set(domain.forwardable(patterns)))
        if idle:
            raise ma.ValidationError(
                [f"Matches no event notify forwards: {', '.join(idle)}."], "event_types"
            )


class WebhookOut(ma.Schema):
    id = fields.String()
    url = fields.String()
    event_types = fields.List(fields.String())
    description = fields.String(allow_none=True)
    location_id = fields.String(allow_none=True)
    active = fields.Boolean()
    created_at = fields.DateTime()


class WebhookCreated(WebhookOut):
    secret = fields.String(metadata={"description": "whsec_...; shown only once, here"})


WebhookPage = page_schema(WebhookOut, "WebhookPage")


class StaffContactUpdate(ma.Schema):
    email = fields.Email(required=True, validate=validate.Length(max=254))


class StaffContactOut(ma.Schema):
    location_id = fields.String()
    email = fields.String()
    updated_at = fields.DateTime()


# Consumed events ----------------------------------------------------------------------------


class EventData(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE


def _id(**kwargs) -> fields.String:
    return fields.String(required=True, validate=EntityId, **kwargs)


def _codes(**kwargs) -> fields.List:
    return fields.List(fields.String(validate=validate.Length(min=1, max=64)), required=True, **kwargs)


class ClientRegistered(EventData):
    client_id = _id()
    location_id = fields.String(required=True, validate=Ident)
    preferred_channel = fields.String(required=True, validate=validate.OneOf(domain.CHANNELS))


class ContactCard(EventData):
    client_id = _id()
    location_id = fields.String(required=True, validate=Ident)
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    first_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    email = fields.Email(required=True, allow_none=True)
    phone = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=32))
    preferred_channel = fields.String(required=True, validate=validate.OneOf(domain.CHANNELS))
    language = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=16))


class IntakeSubmitted(EventData):
    client_id = _id()
    form_id = _id()
    version = fields.Integer(required=True, strict=True)
    contraindications = _codes()
    holds = _codes()


class ConsentGranted(EventData):
    consent_id = _id()
    client_id = _id()
    version = fields.Integer(required=True, strict=True)
    granted_at = fields.AwareDateTime(required=True)
    valid_until = fields.Date(load_default=None, allow_none=True)


class ConsentWithdrawn(EventData):
    consent_id = _id()
    client_id = _id()
    version = fields.Integer(required=True, strict=True)
    withdrawn_at = fields.AwareDateTime(required=True)


class SessionBooked(EventData):
    session_id = _id()
    client_id = _id()
    therapist_id = _id()
    starts_at = fields.AwareDateTime(required=True)
    duration_minutes = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))


class SessionStarted(EventData):
    session_id = _id()
    client_id = _id()
    therapist_id = _id()
    started_at = fields.AwareDateTime(required=True)


class SessionStopped(EventData):
    session_id = _id()
    client_id = _id()
    therapist_id = _id()
    requested_by = fields.String(required=True, validate=validate.OneOf(("client", "therapist")))
    stopped_at = fields.AwareDateTime(required=True)


class SessionCompleted(EventData):
    session_id = _id()
    client_id = _id()
    therapist_id = _id()
    completed_at = fields.AwareDateTime(required=True)


class SessionCancelled(EventData):
    session_id = _id()
    client_id = _id()
    cancelled_at = fields.AwareDateTime(required=True)


class FollowupScheduled(EventData):
    followup_id = _id()
    session_id = _id()
    client_id = _id()
    due_at = fields.AwareDateTime(required=True)


class FollowupDue(EventData):
    followup_id = _id()
    session_id = _id()
    client_id = _id()


class FollowupResponded(EventData):
    followup_id = _id()
    session_id = _id()
    client_id = _id()


class FollowupEscalated(EventData):
    followup_id = _id()
    session_id = _id()
    client_id = _id()
    reasons = _codes(validate=validate.Length(min=1, max=20))


EVENT_SCHEMAS: dict[str, type[EventData]] = {
    "client.registered.v1": ClientRegistered,
    "intake.submitted.v1": IntakeSubmitted,
    "consent.granted.v1": ConsentGranted,
    "consent.withdrawn.v1": ConsentWithdrawn,
    "session.booked.v1": SessionBooked,
    "session.started.v1": SessionStarted,
    "session.stopped.v1": SessionStopped,
    "session.completed.v1": SessionCompleted,
    "session.cancelled.v1": SessionCancelled,
    "followup.scheduled.v1": FollowupScheduled,
    "followup.due.v1": FollowupDue,
    "followup.responded.v1": FollowupResponded,
    "followup.escalated.v1": FollowupEscalated,
}
