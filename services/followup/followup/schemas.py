"""followup's request and response shapes. Unknown fields are rejected (marshmallow's RAISE)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from followup import domain
from shared.pagination import PageArgs, page_schema

Pain = validate.Range(min=0, max=10)


class StrictBoolean(fields.Boolean):
    """Only JSON ``true`` or ``false``: a well-being answer is not guessed from ``"yes"`` or 1."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class ResponseCreate(ma.Schema):
    wellbeing = fields.Integer(strict=True, required=True, validate=validate.Range(min=1, max=5))
    pain_before = fields.Integer(strict=True, allow_none=True, validate=Pain)
    pain_after = fields.Integer(strict=True, required=True, validate=Pain)
    soreness = fields.String(allow_none=True, validate=validate.OneOf(domain.SORENESS))
    adverse_reaction = StrictBoolean(required=True)
    concerns = fields.String(allow_none=True, validate=validate.Length(max=5000))
    would_rebook = StrictBoolean(allow_none=True)


class ResponseOut(ma.Schema):
    id = fields.String()
    wellbeing = fields.Integer()
    pain_before = fields.Integer(allow_none=True)
    pain_after = fields.Integer()
    soreness = fields.String(allow_none=True)
    adverse_reaction = fields.Boolean()
    concerns = fields.String(
        allow_none=True, metadata={"description": "only for the client, therapists and managers"}
    )
    would_rebook = fields.Boolean(allow_none=True)
    responded_by = fields.String()
    responded_by_role = fields.String()
    created_at = fields.DateTime()


class FollowupOut(ma.Schema):
    id = fields.String()
    location_id = fields.String()
    session_id = fields.String()
    client_id = fields.String()
    therapist_id = fields.String()
    session_completed_at = fields.DateTime()
    due_at = fields.DateTime()
    status = fields.String(metadata={"enum": list(domain.STATUSES)})
    version = fields.Integer()
    escalation_reasons = fields.List(fields.String())
    responded_at = fields.DateTime(allow_none=True)
    cancelled_at = fields.DateTime(allow_none=True)
    cancel_reason = fields.String(allow_none=True, metadata={"enum": list(domain.CANCEL_REASONS)})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class FollowupDetail(FollowupOut):
    response = fields.Nested(ResponseOut, allow_none=True)


class FollowupListArgs(PageArgs):
    location_id = fields.String(validate=validate.Length(min=1, max=64))
    client_id = fields.String(validate=validate.Length(min=1, max=64))
    status = fields.String(validate=validate.OneOf(domain.STATUSES))


FollowupPage = page_schema(FollowupOut, "FollowupPage")


class ProgressPoint(ma.Schema):
    session_id = fields.String()
    completed_at = fields.DateTime()
    pain_before = fields.Integer(allow_none=True)
    pain_after = fields.Integer()
    wellbeing = fields.Integer()


class ProgressOut(ma.Schema):
    sessions = fields.Integer()
    points = fields.List(fields.Nested(ProgressPoint))
    trend = fields.String(metadata={"enum": list(domain.TRENDS)})
