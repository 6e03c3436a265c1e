"""Event consumption: subscriptions, the inbox-guarded dispatch, retries and parking.

A delivery is acknowledged only after its handlers committed, or after it was handed on
(to a retry tier or the dead-letter queue) with a confirmed publish.
"""

from __future__ import annotations

import logging
import socket
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from kombu import Connection, Consumer
from marshmallow import Schema, ValidationError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

from shared import inbox
from shared.broker import (
    CONNECTION_ERRORS,
    BrokerUnavailable,
    QueueTopology,
    check_interval,
    connect,
    declare_topology,
    establish,
    make_publisher,
)
from shared.events import (
    EVENTS_EXCHANGE,
    AmqpMessage,
    Event,
    InvalidEvent,
    correlation_id,
    from_amqp,
)
from shared.failpoints import crash_point
from shared.service import Service, UnitOfWork

log = logging.getLogger("rapport.consumer")

ATTEMPTS_HEADER = "x-rapport-attempts"
ERROR_HEADER = "x-rapport-error"
PARKED_AT_HEADER = "x-rapport-parked-at"
ORIGINAL_KEY_HEADER = "x-rapport-routing-key"

Handler = Callable[[UnitOfWork, Event, dict], None]


class PoisonMessage(Exception):
    """A message that can never be processed: parked at once, not retried."""


@dataclass(frozen=True)
class Subscription:
    """One line of a service's subscription table: this event, validated so, handled by that."""

    event: str
    schema: type[Schema]
    handler: Handler
    exchange: str = EVENTS_EXCHANGE

    @property
    def name(self) -> str:
        return self.handler.__name__


@dataclass(frozen=True)
class Subscriptions:
    entries: tuple[Subscription, ...] = field(default_factory=tuple)

    def __init__(self, *entries: Subscription) -> None:
        object.__setattr__(self, "entries", tuple(entries))

    def bindings(self) -> list[tuple[str, str]]:
        return [(s.exchange, s.event) for s in self.entries]

    def for_event(self, routing_key: str) -> list[Subscription]:
        return [s for s in self.entries if s.event == routing_key]

    def topology(self, service: Service) -> QueueTopology | None:
        if not self.entries:
            return None
        return QueueTopology.for_service(service.settings, self.bindings())


@dataclass
class Outcome:
    handled: int = 0
    duplicates: int = 0


def dispatch(service: Service, headers: Any, content_type: str | None, body: bytes) -> Outcome:
    """Parse, validate and run every subscribed handler once per event id.

    Raises PoisonMessage for what can never succeed; any other exception means "try again".
    """
    if isinstance(body, str):  # py-amqp hands over text when a content encoding is set
        body = body.encode("utf-8")
    try:
        event = from_amqp(headers, content_type, body)
    except InvalidEvent as error:
        raise PoisonMessage(str(error)) from error
    subscriptions = service.subscriptions.for_event(event.routing_key)
    if not subscriptions:
        raise PoisonMessage(f"no handler for {event.type}")
    outcome = Outcome()
    token = correlation_id.set(event.correlation_id or event.id)
    try:
        for subscription in subscriptions:
            try:
                data = subscription.schema().load(event.data)
            except ValidationError as error:
                raise PoisonMessage(f"invalid {event.routing_key} data: {error.messages}") from error
            if _run_once(service, subscription, event, data):
                outcome.handled += 1
            else:
                outcome.duplicates += 1
    finally:
        correlation_id.reset(token)
    return outcome


def _run_once(service: Service, subscription: Subscription, event: Event, data: dict) -> bool:
    """Run the handler and record it in the inbox, in one transaction. False if already done."""
    try:
        with service.unit_of_work() as uow:
            if inbox.already_handled(uow.session, service.inbox_model, event.id, subscription.name):
                return False
            subscription.handler(uow, event, data)
            inbox.record(uow.session, service.inbox_model, event.id, subscription.name, event.type)
        return True
    except IntegrityError:
        # A competing consumer committed the same (event, handler) first: nothing to do.
        with service.sessions() as session:
            if inbox.already_handled(session, service.inbox_model, event.id, subscription.name):
                return False
        raise


def _attempts(headers: dict) -> int:
    try:
        return int(headers.get(ATTEMPTS_HEADER, 0))
    except (TypeError, ValueError):
        return 0


class HandOnFailed(Exception):
    """A retry or park could not be confirmed; the delivery stays unacknowledged."""


class DatabaseUnavailable(Exception):
    """The service's database did not answer: the message is not at fault and is not retried."""


class EventConsumer:
    """Consumes a service's queue until stopped; reconnects on its own after broker trouble.

    Retries and parked messages are published over a separate connection with confirms
    (``shared.broker``), never on the consuming connection: waiting for a confirm there would
    dispatch further deliveries inside the current one.
    """

    def __init__(self, service: Service) -> None:
        self.service = service
        self.settings = service.settings
        self.topology = service.subscriptions.topology(service)
        self.max_attempts = len(self.settings.retry_delays) + 1
        self.stats = {"handled": 0, "duplicates": 0, "retried": 0, "parked": 0}
        self._publisher = None
        self._consuming = False

    def run(self, stop: threading.Event) -> None:
        backoff = 0.5
        while not stop.is_set():
            self._publisher = make_publisher(self.settings)
            self._consuming = False
            try:
                with connect(self.settings) as connection:
                    self._consume(connection, stop)
                    backoff = 0.5
            except DatabaseUnavailable as error:
                log.warning("database unavailable (%s); pausing consumption until it answers", error)
                self._wait_for_database(stop)
                continue
            except (*CONNECTION_ERRORS, BrokerUnavailable, HandOnFailed) as error:
                backoff = 0.5 if self._consuming else backoff  # a fresh outage, a fresh back-off
                log.warning("broker connection lost: %s; reconnecting in %.1fs", error, backoff)
            except Exception:
                backoff = 0.5 if self._consuming else backoff
                log.exception("consumer failed; restarting in %.1fs", backoff)
            else:
                continue
            finally:
                self._publisher.close()
            stop.wait(backoff)
            backoff = min(backoff * 2, 5.0)

    def _consume(self, connection: Connection, stop: threading.Event) -> None:
        establish(connection, self.settings)
        declare_topology(connection, self.topology)
        channel = connection.channel()
        main = [q for q in self.topology.queues() if q.name == self.topology.main]
        with Consumer(
            channel,
            queues=main,
            on_message=self._on_message,
            accept=None,
            prefetch_count=self.settings.prefetch,
        ):
            log.info("consuming %s", self.topology.main)
            self._consuming = True
            while not stop.is_set():
                try:
                    connection.drain_events(timeout=check_interval(self.settings))
                except socket.timeout:
                    pass
                if not self.settings.is_embedded_broker:
                    connection.heartbeat_check()
                    self._publisher.keepalive()

    def _database_answers(self) -> bool:
        try:
            with self.service.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True
        except DBAPIError:
            return False

    def _wait_for_database(self, stop: threading.Event) -> None:
        """Closing the connection returned the unacked deliveries; take them again once the
        database answers, rather than spending their retries on an outage."""
        delay = 0.5
        while not stop.is_set() and not self._database_answers():
            stop.wait(delay)
            delay = min(delay * 2, 5.0)

    def _on_message(self, message) -> None:
        headers = dict(message.headers or {})
        try:
            outcome = dispatch(self.service, headers, message.content_type, message.body)
        except PoisonMessage as error:
            log.error("parking a message that can never be processed: %s", error)
            self._park(message, headers, str(error), _attempts(headers) + 1)
        except Exception as error:
            if isinstance(error, (OperationalError, InterfaceError)) and not self._database_answers():
                raise DatabaseUnavailable(str(error).splitlines()[0]) from error
            self._failed(message, headers, error)
        else:
            self.stats["handled"] += outcome.handled
            self.stats["duplicates"] += outcome.duplicates
            if outcome.duplicates:
                log.info("redelivered event absorbed by the inbox", extra={"handlers": outcome.duplicates})
            crash_point("consumer.after_commit")
            message.ack()

    def _failed(self, message, headers: dict, error: Exception) -> None:
        """A handler failed: retry with back-off, then park."""
        attempts = _attempts(headers) + 1
        if attempts >= self.max_attempts:
            log.error("handler failed %d times; parking the message", attempts, exc_info=error)
            self._park(message, headers, f"{type(error).__name__}: {error}", attempts)
        else:
            log.warning("handler failed (attempt %d): %s; retrying", attempts, error)
            self._retry(message, headers, attempts)

    def _hand_on(self, message, headers: dict, queue: str) -> None:
        body = message.body.encode("utf-8") if isinstance(message.body, str) else message.body
        message_id = message.properties.get("message_id") or headers.get("ce-id") or ""
        outcome = self._publisher.publish([
            AmqpMessage(
                body=body, headers=headers, content_type=message.content_type or "application/json",
                message_id=message_id, routing_key=queue, exchange="",
            )
        ])  # fmt: skip
        if message_id not in outcome.confirmed:
            raise HandOnFailed(f"could not hand message {message_id} on to {queue}")

    def _retry(self, message, headers: dict, attempts: int) -> None:
        headers = {**headers, ATTEMPTS_HEADER: attempts}
        headers.setdefault(ORIGINAL_KEY_HEADER, message.delivery_info.get("routing_key", ""))
        queue, delay = self.topology.retry_queue(attempts)
        if self.settings.is_embedded_broker:
            # memory:// has no TTL or dead-lettering: wait out the back-off in-process.
            timer = threading.Timer(delay, self._redeliver_in_process, (message, headers))
            timer.daemon = True
            timer.start()
        else:
            self._hand_on(message, headers, queue)
        self.stats["retried"] += 1
        message.ack()

    def _redeliver_in_process(self, message, headers: dict) -> None:
        publisher = make_publisher(self.settings)
        try:
            body = message.body.encode("utf-8") if isinstance(message.body, str) else message.body
            publisher.publish([
                AmqpMessage(
                    body=body, headers=headers, content_type=message.content_type or "application/json",
                    message_id=message.properties.get("message_id") or "", routing_key=self.topology.main,
                    exchange="",
                )
            ])  # fmt: skip
        finally:
            publisher.close()

    def _park(self, message, headers: dict, error: str, attempts: int) -> None:
        headers = {
            **headers,
            ATTEMPTS_HEADER: attempts,
            ERROR_HEADER: error[:1000],
            PARKED_AT_HEADER: datetime.now(timezone.utc).isoformat(),
        }
        headers.setdefault(ORIGINAL_KEY_HEADER, message.delivery_info.get("routing_key", ""))
        self._hand_on(message, headers, self.topology.dead_letter)
        self.stats["parked"] += 1
        message.ack()


def run_consumer(service: Service, stop: threading.Event) -> None:
    if service.subscriptions is None or not service.subscriptions.entries:
        log.info("%s subscribes to no events; consumer idle", service.name)
        stop.wait()
        return
    EventConsumer(service).run(stop)

