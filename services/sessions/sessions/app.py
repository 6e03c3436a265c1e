"""sessions' composition root: the one place its parts are put together."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from sessions import api, models
from sessions.subscriptions import SUBSCRIPTIONS
from shared.config import Settings
from shared.housekeeping import HOUSEKEEPING
from shared.service import Service
from shared.web import create_service_app

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
DESCRIPTION = "Therapists, bookings gated by informed consent and contraindication holds, " \
    "check-ins during the session, and encrypted session notes."


def build(settings: Settings | None = None) -> Service:
    return Service(
        name="sessions",
        settings=settings or Settings.from_env("sessions"),
        metadata=models.Base.metadata,
        migrations=MIGRATIONS,
        outbox_model=models.Outbox,
        inbox_model=models.Inbox,
        idempotency_model=models.IdempotencyKey,
        subscriptions=SUBSCRIPTIONS,
        jobs=[HOUSEKEEPING],
    )


def create_app(service: Service | None = None) -> Flask:
    return create_service_app(service or build(), [api.blp], DESCRIPTION, api.PROBLEMS)
