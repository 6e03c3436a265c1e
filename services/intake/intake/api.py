"""intake's HTTP entrypoints: parse, check the role, call the operation, answer."""

from __future__ import annotations

from functools import lru_cache

from flask import jsonify
from flask.views import MethodView

from intake import domain, operations
from intake.models import Client, Consent
from intake.schemas import (
    ClientCreate,
    ClientListArgs,
    ClientOut,
    ClientPage,
    ClientUpdate,
    ConsentCreate,
    ConsentOut,
    ConsentPage,
    ConsentWithdraw,
    IntakeFormCreate,
    IntakeFormOut,
)
from shared.auth import ROLES
from shared.pagination import PageArgs, paginate
from shared.problems import conflict, validation
from shared.web import Blueprint, allow, principal, unit_of_work

blp = Blueprint("intake", __name__, description="Clients, intake forms and informed consent.")

FRONT_OFFICE = ("front_desk", "manager", "org_admin")
CARE_TEAM = ("therapist", "front_desk", "manager", "org_admin")

PROBLEMS = {
    domain.ScopeOverlap: lambda e: validation({"scope": {"excluded_areas": [str(e)]}}),
    domain.ValidityInPast: lambda e: validation({"valid_until": [str(e)]}),
    domain.IntakeRequired: lambda e: conflict("intake-required", str(e)),
    domain.AlreadyWithdrawn: lambda e: conflict("already-withdrawn", str(e)),
}


@blp.route("/clients")
class Clients(MethodView):
    @allow(*FRONT_OFFICE)
    @blp.arguments(ClientCreate)
    @blp.response(201, ClientOut)
    def post(self, data):
        """Register a client (emits client.registered)."""
        return operations.register_client(unit_of_work(), principal(), data)

    @allow(*ROLES)
    @blp.arguments(ClientListArgs, location="query")
    @blp.response(200, ClientPage)
    def get(self, args):
        """Clients in the caller's locations, newest first; ``q`` searches names and email."""
        query = operations.list_clients_query(principal(), args.get("location_id"), args.get("q"))
        return paginate(
            unit_of_work().session, query, Client.created_at, Client.id,
            limit=args["limit"], cursor=args["cursor"],
        )  # fmt: skip


@blp.route("/clients/<client_id>")
class ClientById(MethodView):
    @allow(*ROLES)
    @blp.response(200, ClientOut)
    def get(self, client_id: str):
        return operations.find_client(unit_of_work().session, principal(), client_id)

    @allow("client", *FRONT_OFFICE)
    @blp.arguments(ClientUpdate)
    @blp.response(200, ClientOut)
    def patch(self, changes, client_id: str):
        return operations.update_client(unit_of_work(), principal(), client_id, changes)


@blp.route("/clients/<client_id>/intake-forms")
class IntakeForms(MethodView):
    @allow("client", *CARE_TEAM)
    @blp.arguments(IntakeFormCreate)
    @blp.response(201, IntakeFormOut)
    def post(self, data, client_id: str):
        """Submit an intake form; contraindications come from the rule table (emits intake.submitted)."""
        return operations.submit_intake_form(unit_of_work(), principal(), client_id, data)


@lru_cache(maxsize=None)
def _form_schema(hidden: tuple[str, ...]) -> IntakeFormOut:
    """Built once per set of hidden fields, not per request (see sessions.api)."""
    return IntakeFormOut(exclude=hidden)


@blp.route("/clients/<client_id>/intake-forms/latest")
class LatestIntakeForm(MethodView):
    @allow("client", *CARE_TEAM)
    @blp.response(200, IntakeFormOut)
    def get(self, client_id: str):
        """The latest form; health history only for the client, therapists and managers."""
        form, may_see_health = operations.latest_intake_form(unit_of_work(), principal(), client_id)
        hidden = () if may_see_health else ("health_history", "concerns")
        return jsonify(_form_schema(hidden).dump(form))


@blp.route("/clients/<client_id>/consents")
class Consents(MethodView):
    @allow("client", *CARE_TEAM)
    @blp.arguments(ConsentCreate)
    @blp.response(201, ConsentOut)
    @blp.alt_response(409, description="intake-required")
    def post(self, data, client_id: str):
        """Grant informed consent for a scope of techniques and areas (emits consent.granted)."""
        return operations.grant_consent(unit_of_work(), principal(), client_id, data)

    @allow("client", *CARE_TEAM)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, ConsentPage)
    def get(self, args, client_id: str):
        session = unit_of_work().session
        query = operations.consents_query(session, principal(), client_id)
        return paginate(
            session, query, Consent.granted_at, Consent.id, limit=args["limit"], cursor=args["cursor"]
        )


@blp.route("/consents/<consent_id>")
class ConsentById(MethodView):
    @allow("client", *CARE_TEAM)
    @blp.response(200, ConsentOut)
    def get(self, consent_id: str):
        return operations.find_consent(unit_of_work().session, principal(), consent_id)


@blp.route("/consents/<consent_id>/withdraw")
class WithdrawConsent(MethodView):
    @allow("client", *CARE_TEAM)
    @blp.arguments(ConsentWithdraw, required=False)
    @blp.response(200, ConsentOut)
    @blp.alt_response(409, description="already-withdrawn")
    def post(self, data, consent_id: str):
        """Withdraw consent; takes effect at once everywhere (emits consent.withdrawn)."""
        return operations.withdraw_consent(
            unit_of_work(), principal(), consent_id, (data or {}).get("reason")
        )

