"""followup's HTTP entrypoints: parse, check the role, call the operation, answer."""

from __future__ import annotations

from functools import lru_cache

from flask import Response, jsonify
from flask.views import MethodView
from marshmallow import RAISE

from followup import domain, operations
from followup.models import Followup
from followup.schemas import (
    FollowupDetail,
    FollowupListArgs,
    FollowupPage,
    ProgressOut,
    ResponseCreate,
)
from shared.auth import ROLES
from shared.pagination import paginate
from shared.problems import conflict
from shared.web import Blueprint, allow, principal, unit_of_work

blp = Blueprint(
    "followup", __name__, description="Post-session check-ins, well-being responses, escalations, progress."
)

# Who may record a client's answers: the client for themselves, or staff taking them by phone.
RESPONDERS = ("client", "front_desk", "manager", "org_admin")

PROBLEMS = {
    domain.FollowupClosed: lambda e: conflict("followup-closed", str(e)),
}


@lru_cache(maxsize=None)
def _detail_schema(hidden: tuple[str, ...]) -> FollowupDetail:
    """Built once per set of hidden fields, not per request (see sessions.api)."""
    return FollowupDetail(exclude=hidden)


def _detail(followup: Followup, may_read_concerns: bool, status: int = 200) -> Response:
    hidden = () if may_read_concerns else ("response.concerns",)
    response = jsonify(_detail_schema(hidden).dump(followup))
    response.status_code = status
    return response


@blp.route("/followups")
class Followups(MethodView):
    @allow(*ROLES)
    @blp.arguments(FollowupListArgs, location="query", unknown=RAISE)
    @blp.response(200, FollowupPage)
    def get(self, args):
        """Followups in the caller's locations (a client's own only), newest first by due time."""
        query = operations.list_followups_query(
            principal(), args.get("location_id"), args.get("client_id"), args.get("status")
        )
        return paginate(
            unit_of_work().session, query, Followup.due_at, Followup.id,
            limit=args["limit"], cursor=args["cursor"],
        )  # fmt: skip


@blp.route("/followups/<followup_id>")
class FollowupById(MethodView):
    @allow(*ROLES)
    @blp.response(200, FollowupDetail)
    def get(self, followup_id: str):
        """The followup and its response; the concerns text only for the client, therapists and managers."""
        followup, may_read_concerns = operations.followup_detail(unit_of_work(), principal(), followup_id)
        return _detail(followup, may_read_concerns)


@blp.route("/followups/<followup_id>/responses")
class Responses(MethodView):
    @allow(*RESPONDERS)
    @blp.arguments(ResponseCreate)
    @blp.response(201, FollowupDetail)
    @blp.alt_response(409, description="followup-closed")
    def post(self, answers, followup_id: str):
        """Record the client's answers; escalates on an adverse reaction, severe soreness or a
        concern (emits followup.responded and, when escalated, followup.escalated)."""
        who = principal()
        followup = operations.respond(unit_of_work(), who, followup_id, answers)
        return _detail(followup, domain.may_read_concerns(who.role), status=201)


@blp.route("/clients/<client_id>/progress")
class Progress(MethodView):
    @allow(*ROLES)
    @blp.response(200, ProgressOut)
    def get(self, client_id: str):
        """Pain and well-being after each answered followup, oldest first, with the trend."""
        return operations.client_progress(unit_of_work(), principal(), client_id)
