"""sessions' HTTP entrypoints: parse, check the role, call the operation, answer."""

from __future__ import annotations

from functools import lru_cache

from flask import jsonify
from flask.views import MethodView

from sessions import domain, operations
from sessions.models import Therapist, TreatmentSession
from sessions.schemas import (
    Cancel,
    CheckInCreate,
    CheckInOut,
    ClearanceCreate,
    ClearanceOut,
    Complete,
    NoBody,
    SessionCreate,
    SessionDetail,
    SessionListArgs,
    SessionOut,
    SessionPage,
    Stop,
    TherapistCreate,
    TherapistListArgs,
    TherapistOut,
    TherapistPage,
    TherapistUpdate,
)
from shared.auth import ROLES, STAFF
from shared.pagination import paginate
from shared.problems import conflict, validation
from shared.web import Blueprint, allow, principal, unit_of_work

blp = Blueprint("sessions", __name__, description="Therapists, bookings, check-ins and session notes.")

MANAGERS = ("manager", "org_admin")
FRONT_OFFICE = ("front_desk", *MANAGERS)
CARE_GIVERS = ("therapist", *MANAGERS)

PROBLEMS = {
    domain.StartsInPast: lambda e: validation({"starts_at": [str(e)]}),
    domain.RequesterMismatch: lambda e: validation({"requested_by": [str(e)]}),
    domain.TherapistUnqualified: lambda e: conflict("therapist-unqualified", str(e)),
    domain.ConsentRequired: lambda e: conflict("consent-required", str(e)),
    domain.ContraindicationHold: lambda e: conflict("contraindication-hold", str(e), holds=e.codes),
    domain.TherapistUnavailable: lambda e: conflict("therapist-unavailable", str(e)),
    domain.InvalidTransition: lambda e: conflict("invalid-transition", str(e)),
    domain.NotInProgress: lambda e: conflict("not-in-progress", str(e)),
    domain.NoSuchHold: lambda e: conflict("no-such-hold", str(e)),
    domain.AlreadyCleared: lambda e: conflict("already-cleared", str(e)),
}

PRIVATE_TEXT = ("notes", "stop_reason", "cancel_note", "check_ins.note")


@lru_cache(maxsize=None)
def _detail_schema(hidden: tuple[str, ...]) -> SessionDetail:
    """One schema per set of hidden fields, built once: building one per request costs more
    than the dump itself (marshmallow copies every declared field)."""
    return SessionDetail(exclude=hidden)


def _hidden_for(role: str) -> tuple[str, ...]:
    """Free text only for the care team; aftercare for them and the client."""
    if role in domain.NOTE_READERS:
        return ()
    if role in domain.AFTERCARE_READERS:
        return PRIVATE_TEXT
    return (*PRIVATE_TEXT, "aftercare")


@blp.route("/therapists")
class Therapists(MethodView):
    @allow(*MANAGERS)
    @blp.arguments(TherapistCreate)
    @blp.response(201, TherapistOut)
    def post(self, data):
        """Add a therapist at a location, with the techniques they offer."""
        return operations.create_therapist(unit_of_work(), principal(), data)

    @allow(*STAFF)
    @blp.arguments(TherapistListArgs, location="query")
    @blp.response(200, TherapistPage)
    def get(self, args):
        """Therapists in the caller's locations, newest first."""
        query = operations.therapists_query(principal(), args.get("location_id"))
        return paginate(
            unit_of_work().session, query, Therapist.created_at, Therapist.id,
            limit=args["limit"], cursor=args["cursor"],
        )  # fmt: skip


@blp.route("/therapists/<therapist_id>")
class TherapistById(MethodView):
    @allow(*STAFF)
    @blp.response(200, TherapistOut)
    def get(self, therapist_id: str):
        return operations.find_therapist(unit_of_work().session, principal(), therapist_id)

    @allow(*MANAGERS)
    @blp.arguments(TherapistUpdate)
    @blp.response(200, TherapistOut)
    def patch(self, changes, therapist_id: str):
        """Change a therapist's name or techniques, or stop (``active: false``) their bookings."""
        return operations.update_therapist(unit_of_work(), principal(), therapist_id, changes)


@blp.route("/sessions")
class Sessions(MethodView):
    @allow("client", *FRONT_OFFICE)
    @blp.arguments(SessionCreate)
    @blp.response(201, SessionOut)
    @blp.alt_response(
        409, description="consent-required, contraindication-hold, therapist-unavailable, therapist-unqualified"
    )
    def post(self, data):
        """Book a session; needs covering consent, no uncleared hold, a free therapist (emits session.booked)."""
        return operations.book_session(unit_of_work(), principal(), data)

    @allow(*ROLES)
    @blp.arguments(SessionListArgs, location="query")
    @blp.response(200, SessionPage)
    def get(self, args):
        """Sessions in the caller's scope (a client's own), latest ``starts_at`` first."""
        query = operations.sessions_query(principal(), args)
        return paginate(
            unit_of_work().session, query, TreatmentSession.starts_at, TreatmentSession.id,
            limit=args["limit"], cursor=args["cursor"],
        )  # fmt: skip


@blp.route("/sessions/<session_id>")
class SessionById(MethodView):
    @allow(*ROLES)
    @blp.response(200, SessionDetail)
    def get(self, session_id: str):
        """A session with its check-ins; notes only for therapists and managers (audited)."""
        who = principal()
        found = operations.read_session(unit_of_work(), who, session_id)
        return jsonify(_detail_schema(_hidden_for(who.role)).dump(found))


@blp.route("/sessions/<session_id>/start")
class StartSession(MethodView):
    @allow(*CARE_GIVERS)
    @blp.arguments(NoBody, required=False)
    @blp.response(200, SessionOut)
    @blp.alt_response(409, description="invalid-transition, consent-required, contraindication-hold")
    def post(self, _data, session_id: str):
        """Start a booked session; consent and holds are checked again (emits session.started)."""
        return operations.start_session(unit_of_work(), principal(), session_id)


@blp.route("/sessions/<session_id>/check-ins")
class CheckIns(MethodView):
    @allow(*CARE_GIVERS)
    @blp.arguments(CheckInCreate)
    @blp.response(201, CheckInOut)
    @blp.alt_response(409, description="not-in-progress")
    def post(self, data, session_id: str):
        """Record how the client feels, while the session is in progress."""
        return operations.record_check_in(unit_of_work(), principal(), session_id, data)


@blp.route("/sessions/<session_id>/stop")
class StopSession(MethodView):
    @allow("client", *CARE_GIVERS)
    @blp.arguments(Stop)
    @blp.response(200, SessionOut)
    @blp.alt_response(409, description="invalid-transition")
    def post(self, data, session_id: str):
        """Stop a session in progress, at the client's or the therapist's request (emits session.stopped)."""
        return operations.stop_session(unit_of_work(), principal(), session_id, data)


@blp.route("/sessions/<session_id>/complete")
class CompleteSession(MethodView):
    @allow(*CARE_GIVERS)
    @blp.arguments(Complete)
    @blp.response(200, SessionOut)
    @blp.alt_response(409, description="invalid-transition")
    def post(self, data, session_id: str):
        """Complete a session with SOAP notes (encrypted) and aftercare (emits session.completed)."""
        return operations.complete_session(unit_of_work(), principal(), session_id, data)


@blp.route("/sessions/<session_id>/cancel")
class CancelSession(MethodView):
    @allow("client", *FRONT_OFFICE)
    @blp.arguments(Cancel, required=False)
    @blp.response(200, SessionOut)
    @blp.alt_response(409, description="invalid-transition")
    def post(self, data, session_id: str):
        """Cancel a booked session; the event carries a reason code, the text stays here (emits session.cancelled)."""
        return operations.cancel_session(unit_of_work(), principal(), session_id, (data or {}).get("reason"))


@blp.route("/clients/<client_id>/clearances")
class Clearances(MethodView):
    @allow(*CARE_GIVERS)
    @blp.arguments(ClearanceCreate)
    @blp.response(201, ClearanceOut)
    @blp.alt_response(409, description="no-such-hold, already-cleared")
    def post(self, data, client_id: str):
        """Clear a contraindication hold of the client's latest intake form."""
        return operations.clear_hold(unit_of_work(), principal(), client_id, data)
