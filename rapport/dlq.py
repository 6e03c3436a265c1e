"""Ops tooling for parked messages: list, show and replay a service's dead-letter queue.

Listing peeks (each message is fetched and returned to the queue unchanged); replaying moves a
message back to the service's queue with its attempt count reset, after a confirmed publish.
A replayed event that was in fact handled before is absorbed by the consumer's inbox.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import amqp

from shared.broker import QueueTopology, connect, establish
from shared.config import Settings
from shared.consumer import ATTEMPTS_HEADER, ERROR_HEADER, ORIGINAL_KEY_HEADER, PARKED_AT_HEADER


@dataclass(frozen=True)
class ParkedMessage:
    position: int
    event_id: str | None
    event_type: str | None
    routing_key: str | None
    attempts: Any
    error: str | None
    parked_at: str | None
    headers: dict
    body: bytes

    def summary(self) -> dict:
        return {
            "position": self.position,
            "event_id": self.event_id,
            "type": self.event_type,
            "routing_key": self.routing_key,
            "attempts": self.attempts,
            "parked_at": self.parked_at,
            "error": self.error,
        }

    def detail(self) -> dict:
        try:
            body: Any = json.loads(self.body)
        except ValueError:
            body = self.body.decode("utf-8", errors="replace")
        return {**self.summary(), "headers": self.headers, "body": body}


def _parked(position: int, message: amqp.Message) -> ParkedMessage:
    headers = dict(message.properties.get("application_headers") or {})
    body = message.body if isinstance(message.body, bytes) else str(message.body).encode()
    return ParkedMessage(
        position=position,
        event_id=headers.get("ce-id") or message.properties.get("message_id"),
        event_type=headers.get("ce-type"),
        routing_key=headers.get(ORIGINAL_KEY_HEADER),
        attempts=headers.get(ATTEMPTS_HEADER),
        error=headers.get(ERROR_HEADER),
        parked_at=headers.get(PARKED_AT_HEADER),
        headers={k: (v.decode() if isinstance(v, bytes) else v) for k, v in headers.items()},
        body=body,
    )


class DeadLetters:
    def __init__(self, settings: Settings) -> None:
        if settings.is_embedded_broker:
            raise ValueError("the embedded broker lives inside `rapport run`; point RAPPORT_BROKER_URL at RabbitMQ")
        self.topology = QueueTopology.for_service(settings, [])
        self.settings = settings

    def _channel(self):
        connection = establish(connect(self.settings), self.settings)
        return connection, connection.connection.channel()

    def list(self, limit: int = 100) -> list[ParkedMessage]:
        """Peek at up to ``limit`` parked messages; they stay parked."""
        connection, channel = self._channel()
        found, tags = [], []
        try:
            for position in range(limit):
                message = channel.basic_get(self.topology.dead_letter, no_ack=False)
                if message is None:
                    break
                found.append(_parked(position, message))
                tags.append(message.delivery_tag)
        finally:
            for tag in tags:
                channel.basic_reject(tag, requeue=True)
            connection.release()
        return found

    def replay(self, event_id: str | None = None, *, everything: bool = False) -> list[str]:
        """Move the parked message with ``event_id`` (or all of them) back to the service's queue."""
        if not everything and not event_id:
            raise ValueError("name an event id, or replay everything")
        connection, channel = self._channel()
        replayed, keep = [], []
        try:
            while True:
                message = channel.basic_get(self.topology.dead_letter, no_ack=False)
                if message is None:
                    break
                parked = _parked(len(replayed) + len(keep), message)
                if not everything and parked.event_id != event_id:
                    keep.append(message.delivery_tag)
                    continue
                headers = {
                    k: v for k, v in parked.headers.items()
                    if k not in (ATTEMPTS_HEADER, ERROR_HEADER, PARKED_AT_HEADER)
                }  # fmt: skip
                channel.basic_publish_confirm(
                    amqp.Message(
                        parked.body,
                        content_type=message.properties.get("content_type"),
                        delivery_mode=2,
                        message_id=message.properties.get("message_id"),
                        application_headers=headers,
                    ),
                    exchange="",
                    routing_key=self.topology.main,
                    confirm_timeout=self.settings.confirm_timeout,
                )
                channel.basic_ack(message.delivery_tag)
                replayed.append(parked.event_id or "?")
        finally:
            for tag in keep:
                channel.basic_reject(tag, requeue=True)
            connection.release()
        return replayed
