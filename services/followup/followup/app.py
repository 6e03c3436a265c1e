"""followup's composition root: the one place its parts are put together."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from followup import api, models
from followup.jobs import DUE_FOLLOWUPS
from followup.subscriptions import SUBSCRIPTIONS
from shared.config import Settings
from shared.housekeeping import HOUSEKEEPING
from shared.service import Service
from shared.web import create_service_app

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
DESCRIPTION = "Post-session check-ins: scheduled when a session completes, due after " \
    "RAPPORT_FOLLOWUP_DELAY; well-being responses, escalations and client progress."


def build(settings: Settings | None = None) -> Service:
    return Service(
        name="followup",
        settings=settings or Settings.from_env("followup"),
        metadata=models.Base.metadata,
        migrations=MIGRATIONS,
        outbox_model=models.Outbox,
        inbox_model=models.Inbox,
        idempotency_model=models.IdempotencyKey,
        subscriptions=SUBSCRIPTIONS,
        jobs=[DUE_FOLLOWUPS, HOUSEKEEPING],
    )


def create_app(service: Service | None = None) -> Flask:
    return create_service_app(service or build(), [api.blp], DESCRIPTION, api.PROBLEMS)
