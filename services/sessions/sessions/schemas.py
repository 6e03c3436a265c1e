"""sessions' request and response shapes, and its own copies of the events it consumes.

Request schemas reject unknown fields (marshmallow's RAISE); consumed-event schemas ignore them
(EXCLUDE) so that a producer may add fields without breaking sessions.
"""

from __future__ import annotations

import marshmallow as ma
from marshmallow import EXCLUDE, fields, validate, validates_schema

from sessions import domain
from shared.pagination import PageArgs, page_schema

Id64 = validate.Length(min=1, max=64)
Area = fields.String(validate=validate.OneOf(domain.AREAS))
Technique = fields.String(validate=validate.OneOf(domain.TECHNIQUES))


class NoBody(ma.Schema):
    """For actions that take no fields: anything sent is rejected."""


class TherapistCreate(ma.Schema):
    display_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    location_id = fields.String(required=True, validate=Id64)
    techniques = fields.List(Technique, required=True, validate=validate.Length(min=1, max=len(domain.TECHNIQUES)))


class TherapistUpdate(ma.Schema):
    display_name = fields.String(validate=validate.Length(min=1, max=100))
    techniques = fields.List(Technique, validate=validate.Length(min=1, max=len(domain.TECHNIQUES)))
    active = fields.Boolean()

    @validates_schema
    def _not_empty(self, data, **_kwargs):
        if not data:
            raise ma.ValidationError("Give at least one field to change.", "_schema")


class TherapistOut(ma.Schema):
    id = fields.String()
    location_id = fields.String()
    display_name = fields.String()
    techniques = fields.List(fields.String())
    active = fields.Boolean()
    created_at = fields.DateTime()


class TherapistListArgs(PageArgs):
    location_id = fields.String(validate=Id64)


TherapistPage = page_schema(TherapistOut, "TherapistPage")


class SessionCreate(ma.Schema):
    client_id = fields.String(required=True, validate=Id64)
    therapist_id = fields.String(required=True, validate=Id64)
    location_id = fields.String(required=True, validate=Id64)
    starts_at = fields.AwareDateTime(required=True, metadata={"description": "RFC 3339, with offset"})
    duration_minutes = fields.Integer(
        required=True, validate=validate.Range(min=domain.MIN_DURATION, max=domain.MAX_DURATION)
    )
    technique = fields.String(required=True, validate=validate.OneOf(domain.TECHNIQUES))
    areas = fields.List(Area, required=True, validate=validate.Length(min=1, max=len(domain.AREAS)))


class SessionListArgs(PageArgs):
    location_id = fields.String(validate=Id64)
    therapist_id = fields.String(validate=Id64)
    client_id = fields.String(validate=Id64)
    status = fields.String(validate=validate.OneOf(domain.STATUSES))
    from_ = fields.AwareDateTime(data_key="from", metadata={"description": "starts_at on or after"})
    to = fields.AwareDateTime(metadata={"description": "starts_at before"})

    @validates_schema
    def _ordered(self, data, **_kwargs):
        if data.get("from_") and data.get("to") and data["from_"] >= data["to"]:
            raise ma.ValidationError("`to` must come after `from`.", "to")


class CheckInCreate(ma.Schema):
    comfort = fields.Integer(required=True, validate=validate.Range(min=1, max=5))
    pressure = fields.String(required=True, validate=validate.OneOf(domain.PRESSURE_FEEDBACK))
    note = fields.String(validate=validate.Length(min=1, max=2000))


class CheckInOut(ma.Schema):
    id = fields.String()
    session_id = fields.String()
    comfort = fields.Integer()
    pressure = fields.String()
    note = fields.String(allow_none=True, metadata={"description": "only for therapists and managers"})
    created_at = fields.DateTime()


class Stop(ma.Schema):
    requested_by = fields.String(required=True, validate=validate.OneOf(domain.REQUESTERS))
    reason = fields.String(validate=validate.Length(min=1, max=2000))


class SoapNotes(ma.Schema):
    subjective = fields.String(required=True, validate=validate.Length(max=5000))
    objective = fields.String(required=True, validate=validate.Length(max=5000))
    assessment = fields.String(required=True, validate=validate.Length(max=5000))
    plan = fields.String(required=True, validate=validate.Length(max=5000))


class Complete(ma.Schema):
    notes = fields.Nested(SoapNotes, required=True)
    aftercare = fields.List(
        fields.String(validate=validate.Length(min=1, max=500)), required=True, validate=validate.Length(max=20)
    )


class Cancel(ma.Schema):
    reason = fields.String(validate=validate.Length(min=1, max=2000))


class SessionOut(ma.Schema):
    id = fields.String()
    location_id = fields.String()
    client_id = fields.String()
    therapist_id = fields.String()
    starts_at = fields.DateTime()
    ends_at = fields.DateTime()
    duration_minutes = fields.Integer()
    technique = fields.String()
    areas = fields.List(fields.String())
    status = fields.String(metadata={"enum": list(domain.STATUSES)})
    version = fields.Integer()
    consent_id = fields.String()
    started_at = fields.DateTime(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)
    stopped_at = fields.DateTime(allow_none=True)
    stop_requested_by = fields.String(allow_none=True)
    cancelled_at = fields.DateTime(allow_none=True)
    cancel_reason = fields.String(allow_none=True, metadata={"description": "a code"})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class SessionDetail(SessionOut):
    """One session with its check-ins; free text only for the roles that may read it."""

    check_ins = fields.List(fields.Nested(CheckInOut))
    notes = fields.Nested(SoapNotes, allow_none=True)
    aftercare = fields.List(fields.String(), allow_none=True)
    stop_reason = fields.String(allow_none=True)
    cancel_note = fields.String(allow_none=True)


SessionPage = page_schema(SessionOut, "SessionPage")


class ClearanceCreate(ma.Schema):
    contraindication = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_]{0,63}$"))
    note = fields.String(required=True, validate=validate.Length(min=1, max=5000))


class ClearanceOut(ma.Schema):
    id = fields.String()
    client_id = fields.String()
    location_id = fields.String()
    contraindication = fields.String()
    form_version = fields.Integer()
    note = fields.String()
    cleared_by = fields.String()
    created_at = fields.DateTime()


# The events sessions consumes: its own copies of the producers' shapes.


class ConsumedEvent(ma.Schema):
    class Meta:
        unknown = EXCLUDE


class ConsentScope(ConsumedEvent):
    techniques = fields.List(fields.String(), required=True)
    areas = fields.List(fields.String(), required=True)
    excluded_areas = fields.List(fields.String(), required=True)


class ConsentGranted(ConsumedEvent):
    consent_id = fields.String(required=True, validate=Id64)
    client_id = fields.String(required=True, validate=Id64)
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    scope = fields.Nested(ConsentScope, required=True)
    granted_at = fields.AwareDateTime(required=True)
    valid_until = fields.Date(required=True, allow_none=True)


class ConsentWithdrawn(ConsumedEvent):
    consent_id = fields.String(required=True, validate=Id64)
    client_id = fields.String(required=True, validate=Id64)
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    withdrawn_at = fields.AwareDateTime(required=True)


class IntakeSubmitted(ConsumedEvent):
    client_id = fields.String(required=True, validate=Id64)
    form_id = fields.String(required=True, validate=Id64)
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    contraindications = fields.List(fields.String(), required=True)
    holds = fields.List(fields.String(), required=True)
