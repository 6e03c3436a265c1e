"""intake's request and response shapes. Unknown fields are rejected (marshmallow's RAISE)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate, validates_schema

from intake import domain
from shared.clock import today
from shared.pagination import PageArgs, page_schema

Text100 = validate.Length(min=1, max=100)
Area = fields.String(validate=validate.OneOf(domain.AREAS))
Technique = fields.String(validate=validate.OneOf(domain.TECHNIQUES))


def _short_texts(max_items: int, max_length: int = 200, **kwargs) -> fields.List:
    return fields.List(
        fields.String(validate=validate.Length(min=1, max=max_length)),
        validate=validate.Length(max=max_items),
        **kwargs,
    )


class ClientCreate(ma.Schema):
    first_name = fields.String(required=True, validate=Text100)
    last_name = fields.String(required=True, validate=Text100)
    email = fields.Email(required=True, validate=validate.Length(max=254))
    phone = fields.String(validate=validate.Regexp(r"^\+?[0-9 ()-]{6,32}$"), allow_none=True)
    date_of_birth = fields.Date(allow_none=True)
    location_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    preferred_channel = fields.String(required=True, validate=validate.OneOf(domain.CHANNELS))
    language = fields.String(validate=validate.Length(min=2, max=16), allow_none=True)


class ClientUpdate(ma.Schema):
    first_name = fields.String(validate=Text100)
    last_name = fields.String(validate=Text100)
    email = fields.Email(validate=validate.Length(max=254))
    phone = fields.String(validate=validate.Regexp(r"^\+?[0-9 ()-]{6,32}$"), allow_none=True)
    date_of_birth = fields.Date(allow_none=True)
    preferred_channel = fields.String(validate=validate.OneOf(domain.CHANNELS))
    language = fields.String(validate=validate.Length(min=2, max=16), allow_none=True)

    @validates_schema
    def _not_empty(self, data, **_kwargs):
        if not data:
            raise ma.ValidationError("Give at least one field to change.", "_schema")


class ClientOut(ma.Schema):
    id = fields.String()
    location_id = fields.String()
    first_name = fields.String()
    last_name = fields.String()
    email = fields.String()
    phone = fields.String(allow_none=True)
    date_of_birth = fields.Date(allow_none=True)
    preferred_channel = fields.String()
    language = fields.String(allow_none=True)
    version = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class ClientListArgs(PageArgs):
    location_id = fields.String()
    q = fields.String(validate=validate.Length(min=1, max=100))


ClientPage = page_schema(ClientOut, "ClientPage")


class Preferences(ma.Schema):
    pressure = fields.String(required=True, validate=validate.OneOf(domain.PRESSURES))
    focus_areas = fields.List(Area, required=True, validate=validate.Length(max=len(domain.AREAS)))
    avoid_areas = fields.List(Area, required=True, validate=validate.Length(max=len(domain.AREAS)))
    draping = fields.String(validate=validate.Length(max=200))
    conversation = fields.String(validate=validate.OneOf(domain.CONVERSATION))
    therapist_gender = fields.String(validate=validate.OneOf(domain.THERAPIST_GENDER))

    @validates_schema
    def _no_contradiction(self, data, **_kwargs):
        both = sorted(set(data.get("focus_areas", [])) & set(data.get("avoid_areas", [])))
        if both:
            raise ma.ValidationError(f"Areas both focused on and avoided: {', '.join(both)}.", "avoid_areas")


class HealthHistory(ma.Schema):
    conditions = _short_texts(50, required=True)
    medications = _short_texts(50)
    allergies = _short_texts(50)
    pregnant = fields.Boolean()
    recent_injury_or_surgery = fields.String(validate=validate.Length(max=2000))


class IntakeFormCreate(ma.Schema):
    goals = _short_texts(20, 500, required=True)
    concerns = fields.String(validate=validate.Length(max=5000))
    preferences = fields.Nested(Preferences, required=True)
    health_history = fields.Nested(HealthHistory, required=True)


class IntakeFormOut(ma.Schema):
    id = fields.String()
    client_id = fields.String()
    version = fields.Integer()
    goals = fields.List(fields.String())
    concerns = fields.String(allow_none=True)
    preferences = fields.Dict()
    health_history = fields.Dict(metadata={"description": "only for roles that may see it"})
    contraindications = fields.List(fields.String())
    holds = fields.List(fields.String())
    created_at = fields.DateTime()


class Scope(ma.Schema):
    techniques = fields.List(Technique, required=True, validate=validate.Length(min=1, max=8))
    areas = fields.List(Area, required=True, validate=validate.Length(min=1, max=12))
    excluded_areas = fields.List(Area, required=True, validate=validate.Length(max=12))


class Signature(ma.Schema):
    signed_name = fields.String(required=True, validate=validate.Length(min=1, max=200))


class ConsentCreate(ma.Schema):
    scope = fields.Nested(Scope, required=True)
    form_version = fields.String(required=True, validate=validate.Length(min=1, max=64))
    signature = fields.Nested(Signature, required=True)
    valid_until = fields.Date()


class ConsentWithdraw(ma.Schema):
    reason = fields.String(validate=validate.Length(max=2000))


class ConsentOut(ma.Schema):
    id = fields.String()
    client_id = fields.String()
    location_id = fields.String()
    status = fields.Method("_status", metadata={"enum": ["active", "withdrawn", "expired"]})
    version = fields.Integer()
    scope = fields.Method("_scope")
    form_version = fields.String()
    intake_form_id = fields.String()
    signature = fields.Method("_signature")
    valid_until = fields.Date(allow_none=True)
    granted_at = fields.DateTime()
    withdrawn_at = fields.DateTime(allow_none=True)
    withdrawal_reason = fields.String(allow_none=True)

    def _status(self, consent) -> str:
        return domain.consent_status(consent.status, consent.valid_until, today())

    def _scope(self, consent) -> dict:
        return {
            "techniques": consent.techniques,
            "areas": consent.areas,
            "excluded_areas": consent.excluded_areas,
        }

    def _signature(self, consent) -> dict:
        return {"signed_name": consent.signed_name}


ConsentPage = page_schema(ConsentOut, "ConsentPage")
