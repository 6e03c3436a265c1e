"""The public events notify emits. Data carries ids and codes only, never a recipient address."""

from __future__ import annotations

from notify.models import Delivery
from shared.service import UnitOfWork


def _emit(uow: UnitOfWork, routing_key: str, delivery: Delivery) -> None:
    uow.emit(
        routing_key,
        subject=delivery.id,
        org_id=delivery.org_id,
        location_id=delivery.location_id,
        data={
            "notification_id": delivery.id,
            "event_id": delivery.event_id,
            "template": delivery.template,
            "channel": delivery.channel,
        },
    )


def notification_sent(uow: UnitOfWork, delivery: Delivery) -> None:
    _emit(uow, "notification.sent.v1", delivery)


def notification_failed(uow: UnitOfWork, delivery: Delivery) -> None:
    _emit(uow, "notification.failed.v1", delivery)
