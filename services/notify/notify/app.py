"""notify's composition root: the one place its parts are put together."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from notify import api, models
from notify.dispatch import deliver_due
from notify.subscriptions import SUBSCRIPTIONS
from notify.transports import parse_smtp_url
from shared.config import Settings
from shared.housekeeping import HOUSEKEEPING
from shared.service import Job, Service
from shared.web import create_service_app

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
DESCRIPTION = "Client notification preferences (channel, opt-out, quiet hours), message " \
    "deliveries by email and SMS with retries, staff alerts, and signed webhook subscriptions."

DELIVERIES = Job("deliveries", deliver_due, interval=0.2)


def build(settings: Settings | None = None) -> Service:
    settings = settings or Settings.from_env("notify")
    if settings.smtp_url:
        parse_smtp_url(settings.smtp_url)  # a bad RAPPORT_SMTP_URL stops the start, not each send
    return Service(
        name="notify",
        settings=settings,
        metadata=models.Base.metadata,
        migrations=MIGRATIONS,
        outbox_model=models.Outbox,
        inbox_model=models.Inbox,
        idempotency_model=models.IdempotencyKey,
        subscriptions=SUBSCRIPTIONS,
        jobs=[DELIVERIES, HOUSEKEEPING],
    )


def create_app(service: Service | None = None) -> Flask:
    return create_service_app(service or build(), [api.blp], DESCRIPTION, api.PROBLEMS)
