"""The event envelope: CloudEvents 1.0, binary content mode over AMQP 0-9-1.

Attributes travel as ``ce-*`` string headers (the cloudevents SDK's RabbitMQ binding), the
data as a JSON body with ``content_type`` ``application/json``. The routing key is the event
name plus version (``consent.granted.v1``) and the CloudEvents ``type`` is ``rapport.`` + key.
"""

from __future__ import annotations

import contextvars
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping

from cloudevents.core.bindings import rabbitmq
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

EVENTS_EXCHANGE = "rapport.events"
PRIVATE_EXCHANGE = "rapport.private"
TYPE_PREFIX = "rapport."
CONTENT_TYPE = "application/json"
_ROUTING_KEY = re.compile(r"^[a-z][a-z_]*(\.[a-z][a-z_-]*)+\.v[0-9]+$")
_FORMAT = JSONFormat()

correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "correlation_id", default=None
)


class InvalidEvent(ValueError):
    """A message that is not a Rapport CloudEvent; it can never be processed."""


@dataclass(frozen=True)
class Event:
    routing_key: str
    source: str
    subject: str
    org_id: str
    location_id: str
    data: dict[str, Any]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    correlation_id: str | None = None
    exchange: str = EVENTS_EXCHANGE

    @property
    def type(self) -> str:
        return TYPE_PREFIX + self.routing_key


@dataclass(frozen=True)
class AmqpMessage:
    """What goes on the wire: body, content type, headers and the message id."""

    body: bytes
    headers: dict[str, str]
    content_type: str
    message_id: str
    routing_key: str
    exchange: str


def new_event(
    routing_key: str,
    *,
    source: str,
    subject: str,
    org_id: str,
    location_id: str,
    data: Mapping[str, Any],
) -> Event:
    """An event stamped with the correlation id of the request or message being handled."""
    if not _ROUTING_KEY.match(routing_key):
        raise ValueError(f"not a versioned routing key: {routing_key!r}")
    return Event(
        routing_key=routing_key,
        source=source,
        subject=subject,
        org_id=org_id,
        location_id=location_id,
        data=dict(data),
        correlation_id=correlation_id.get(),
    )


def to_amqp(event: Event) -> AmqpMessage:
    attributes: dict[str, Any] = {
        "id": event.id,
        "source": event.source,
        "type": event.type,
        "subject": event.subject,
        "time": event.time,
        "datacontenttype": CONTENT_TYPE,
        "orgid": event.org_id,
        "locationid": event.location_id,
    }
    if event.correlation_id:
        attributes["correlationid"] = event.correlation_id
    message = rabbitmq.to_binary(CloudEvent(attributes, event.data), _FORMAT)
    return AmqpMessage(
        body=message.body,
        headers=dict(message.headers),
        content_type=message.content_type or CONTENT_TYPE,
        message_id=event.id,
        routing_key=event.routing_key,
        exchange=event.exchange,
    )


_REQUIRED_HEADERS = ("ce-id", "ce-source", "ce-type", "ce-specversion", "ce-subject")


def from_amqp(headers: Mapping[str, Any] | None, content_type: str | None, body: bytes) -> Event:
    """Parse a delivered message; anything that is not a Rapport event raises InvalidEvent."""
    headers = {str(k).lower(): v for k, v in (headers or {}).items()}
    missing = [name for name in _REQUIRED_HEADERS if not headers.get(name)]
    if missing:
        raise InvalidEvent(f"missing CloudEvents headers: {', '.join(missing)}")
    if headers.get("ce-specversion") != "1.0":
        raise InvalidEvent(f"unsupported specversion {headers.get('ce-specversion')!r}")
    if (content_type or "").split(";")[0].strip() != CONTENT_TYPE:
        raise InvalidEvent(f"content type must be {CONTENT_TYPE}, not {content_type!r}")
    ce_headers = {k: _as_text(v) for k, v in headers.items() if k.startswith("ce-")}
    try:
        json.loads(body)
        cloud_event = rabbitmq.from_binary(
            rabbitmq.RabbitMQMessage(headers=ce_headers, content_type=CONTENT_TYPE, body=body),
            _FORMAT,
            CloudEvent,
        )
    except Exception as error:  # the SDK raises several unrelated types for bad input
        raise InvalidEvent(f"unreadable CloudEvent: {error}") from error
    attributes = cloud_event.get_attributes()
    try:
        uuid.UUID(str(attributes["id"]))
    except ValueError:
        raise InvalidEvent("ce-id must be a UUID") from None
    data = cloud_event.get_data()
    if not isinstance(data, dict):
        raise InvalidEvent("event data must be a JSON object")
    event_type = str(attributes["type"])
    if not event_type.startswith(TYPE_PREFIX):
        raise InvalidEvent(f"not a Rapport event type: {event_type!r}")
    time = attributes.get("time")
    if not isinstance(time, datetime):
        raise InvalidEvent("missing ce-time")
    return Event(
        routing_key=event_type[len(TYPE_PREFIX) :],
        source=str(attributes["source"]),
        subject=str(attributes["subject"]),
        org_id=str(attributes.get("orgid") or ""),
        location_id=str(attributes.get("locationid") or ""),
        data=data,
        id=str(attributes["id"]),
        time=time if time.tzinfo else time.replace(tzinfo=timezone.utc),
        correlation_id=attributes.get("correlationid"),
    )


def _as_text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)
