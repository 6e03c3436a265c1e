"""notify's HTTP entrypoints: parse, check the role, call the operation, answer."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView

from notify import domain, operations
from notify.models import Delivery, Webhook
from notify.schemas import (
    NotificationListArgs,
    NotificationPage,
    PreferenceOut,
    PreferenceUpdate,
    StaffContactOut,
    StaffContactUpdate,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
    WebhookPage,
)
from shared.auth import ROLES
from shared.pagination import PageArgs, paginate
from shared.problems import validation
from shared.web import Blueprint, allow, principal, unit_of_work

blp = Blueprint("notify", __name__, description="Notification preferences, deliveries and webhooks.")

FRONT_OFFICE = ("front_desk", "manager", "org_admin")
MANAGERS = ("manager", "org_admin")

PROBLEMS = {
    domain.WebhookLocationRequired: lambda e: validation({"location_id": [str(e)]}),
}


@blp.route("/preferences/<client_id>")
class Preferences(MethodView):
    @allow("client", *FRONT_OFFICE)
    @blp.arguments(PreferenceUpdate)
    @blp.response(200, PreferenceOut)
    def put(self, data, client_id: str):
        """Set the client's channel (``none`` opts out) and quiet hours (deferred, not dropped)."""
        return operations.set_preference(unit_of_work(), principal(), client_id, data)

    @allow("client", *FRONT_OFFICE)
    @blp.response(200, PreferenceOut)
    def get(self, client_id: str):
        return operations.find_client_preference(unit_of_work().session, principal(), client_id)


@blp.route("/notifications")
class Notifications(MethodView):
    @allow(*ROLES)
    @blp.arguments(NotificationListArgs, location="query", unknown=ma.RAISE)
    @blp.response(200, NotificationPage)
    def get(self, args):
        """Deliveries in the caller's locations, newest first; a client sees only their own."""
        query = operations.notifications_query(
            principal(), args.get("client_id"), args.get("location_id"), args.get("status")
        )
        return paginate(
            unit_of_work().session, query, Delivery.created_at, Delivery.id,
            limit=args["limit"], cursor=args["cursor"],
        )  # fmt: skip


@blp.route("/webhooks")
class Webhooks(MethodView):
    @allow(*MANAGERS)
    @blp.arguments(WebhookCreate)
    @blp.response(201, WebhookCreated)
    def post(self, data):
        """Subscribe a URL to events (routing-key patterns: ``*`` one word, ``#`` any number).

        Deliveries are signed per the Standard Webhooks spec with the returned secret, which is
        shown only here.
        """
        return operations.create_webhook(unit_of_work(), principal(), data)

    @allow(*MANAGERS)
    @blp.arguments(PageArgs, location="query", unknown=ma.RAISE)
    @blp.response(200, WebhookPage)
    def get(self, args):
        return paginate(
            unit_of_work().session, operations.webhooks_query(principal()), Webhook.created_at, Webhook.id,
            limit=args["limit"], cursor=args["cursor"],
        )  # fmt: skip


@blp.route("/webhooks/<webhook_id>")
class WebhookById(MethodView):
    @allow(*MANAGERS)
    @blp.response(200, WebhookOut)
    def get(self, webhook_id: str):
        return operations.find_webhook(unit_of_work().session, principal(), webhook_id)

    @allow(*MANAGERS)
    @blp.response(204)
    def delete(self, webhook_id: str):
        """Stop sending to this webhook; deliveries not yet sent are suppressed."""
        operations.delete_webhook(unit_of_work(), principal(), webhook_id)


@blp.route("/locations/<location_id>/staff-contact")
class StaffContacts(MethodView):
    @allow(*MANAGERS)
    @blp.arguments(StaffContactUpdate)
    @blp.response(200, StaffContactOut)
    def put(self, data, location_id: str):
        """Where the location's staff alerts go (escalated follow-ups, sessions a client stopped)."""
        return operations.set_staff_contact(unit_of_work(), principal(), location_id, data["email"])

    @allow(*MANAGERS)
    @blp.response(200, StaffContactOut)
    def get(self, location_id: str):
        return operations.find_staff_contact(unit_of_work().session, principal(), location_id)
