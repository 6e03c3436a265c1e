"""RabbitMQ (or kombu's in-process ``memory://``) topology, connections and confirmed publishing.

Topology of a consuming service ``svc``:

- ``rapport.svc``: its one durable queue, bound to every routing key it subscribes to;
  broker-side dead-lettering (rejects, the quorum delivery limit) goes to ``rapport.svc.dlq``;
- ``rapport.svc.retry.<ms>ms``: one back-off tier per configured retry delay; messages wait out
  the TTL there, then dead-letter back into ``rapport.svc``;
- ``rapport.svc.dlq``: parked messages, with the error and attempt count in their headers.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import Iterable, Sequence

import amqp
import kombu.exceptions
from kombu import Connection, Exchange, Producer, Queue, binding
from kombu.transport import pyamqp

from shared.config import Settings
from shared.events import EVENTS_EXCHANGE, PRIVATE_EXCHANGE, AmqpMessage

EXCHANGES = {
    EVENTS_EXCHANGE: Exchange(EVENTS_EXCHANGE, type="topic", durable=True),
    PRIVATE_EXCHANGE: Exchange(PRIVATE_EXCHANGE, type="direct", durable=True),
}

CONNECTION_ERRORS = (
    kombu.exceptions.OperationalError,  # kombu's wrapping of the errors below
    OSError,
    socket.timeout,
    amqp.exceptions.ConnectionError,
    amqp.exceptions.RecoverableConnectionError,
    amqp.exceptions.ChannelError,
    ConnectionError,
)


class BrokerUnavailable(Exception):
    """The broker could not be reached, or stopped answering."""


SILENCE_LIMIT = 1.5
"""Heartbeat intervals of silence after which a connection is taken for dead.

RabbitMQ sends a frame at least every half interval on a live connection (and itself gives up
on a peer after about one interval of silence), so 1.5 intervals never trips on a healthy
connection, and with a check every quarter interval a dead one is noticed within 2 intervals.
"""


class WatchedConnection(pyamqp.Connection):
    """A py-amqp connection whose heartbeat check notices a silent broker in time, and lets go.

    py-amqp's own ``heartbeat_tick`` gives up two whole intervals after the tick that last saw a
    byte, so a blackholed socket goes unnoticed for longer than 2 heartbeats; and closing a dead
    connection the polite way waits for a ``close-ok`` that never comes. Here the silence is
    measured from the last byte seen, and a dead connection drops its socket at once.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        now = time.monotonic()
        self._seen = (-1, now)
        self._said = (-1, now)

    def heartbeat_tick(self, rate: int = 2) -> None:
        if not self.heartbeat or self._transport is None:
            return
        now = time.monotonic()
        if self.bytes_recv != self._seen[0]:
            self._seen = (self.bytes_recv, now)
        if self.bytes_sent != self._said[0]:
            self._said = (self.bytes_sent, now)
        silent_for = now - self._seen[1]
        if silent_for > SILENCE_LIMIT * self.heartbeat:
            self.collect()
            raise amqp.exceptions.ConnectionForced(
                f"no frame from the broker for {silent_for:.1f}s (heartbeat {self.heartbeat}s)"
            )
        if now - self._said[1] >= self.heartbeat / 2:
            self.send_heartbeat()
            self._said = (self.bytes_sent, now)


class WatchedTransport(pyamqp.Transport):
    Connection = WatchedConnection


def check_interval(settings: Settings) -> float:
    """How often an idle loop must drain and check heartbeats (a quarter interval, at most 1 s)."""
    return min(1.0, settings.heartbeat / 4) if settings.heartbeat else 1.0


def io_timeout(settings: Settings) -> float:
    """The longest one socket read or write may block when no other timeout applies.

    It bounds what py-amqp would otherwise wait for forever on a silent broker: replies to
    channel, declare, qos and consume methods, ``close-ok``, and writes to a full socket.
    """
    return 2.0 * settings.heartbeat if settings.heartbeat else settings.confirm_timeout


def connect(settings: Settings, *, confirm_publish: bool = False) -> Connection:
    """A kombu connection with bounded connect, reads and writes, and watched heartbeats.

    One per thread, made in the process that uses it (never before a fork). Nothing here
    connects yet: the first use does.
    """
    if settings.is_embedded_broker:
        return Connection(
            settings.broker_url, heartbeat=0, transport_options={"polling_interval": 0.02}
        )
    return Connection(
        settings.broker_url,
        transport=WatchedTransport,
        heartbeat=settings.heartbeat,
        connect_timeout=settings.connect_timeout,
        transport_options={
            "confirm_publish": confirm_publish,
            "read_timeout": io_timeout(settings),
            "write_timeout": io_timeout(settings),
        },
    )


def establish(connection: Connection, settings: Settings) -> Connection:
    """Connect once, within the connect timeout. Retrying is the caller's back-off: kombu's own
    ``connect()`` and ``ensure_connection(max_retries=1)`` try twice with a silent 2 s sleep
    between, which made every refused attempt 2 s longer than the back-off said."""
    return connection.ensure_connection(max_retries=0, timeout=settings.connect_timeout)


def discard(connection: Connection | None) -> None:
    """Let go of a connection that may be broken, without waiting on the broker."""
    if connection is None:
        return
    try:
        connection.collect()
    except Exception:  # a broken connection may fail to close in many ways
        pass


@dataclass(frozen=True)
class QueueTopology:
    service: str
    bindings: tuple[tuple[str, str], ...]
    retry_delays: tuple[float, ...]
    queue_type: str = "classic"
    delivery_limit: int = 20

    @classmethod
    def for_service(cls, settings: Settings, bindings: Iterable[tuple[str, str]]) -> "QueueTopology":
        return cls(
            service=settings.service,
            bindings=tuple(dict.fromkeys(bindings)),
            retry_delays=settings.retry_delays,
            queue_type=settings.queue_type,
            delivery_limit=settings.delivery_limit,
        )

    @property
    def main(self) -> str:
        return f"rapport.{self.service}"

    @property
    def dead_letter(self) -> str:
        return f"rapport.{self.service}.dlq"

    def retry_queue(self, attempt: int) -> tuple[str, float]:
        """The back-off tier for a message that has failed ``attempt`` times (1-based)."""
        delay = self.retry_delays[min(attempt, len(self.retry_delays)) - 1]
        return f"rapport.{self.service}.retry.{int(delay * 1000)}ms", delay

    def _arguments(self, **extra) -> dict:
        args = dict(extra)
        if self.queue_type == "quorum":
            args["x-queue-type"] = "quorum"
        return args

    def queues(self) -> list[Queue]:
        safe_dead_lettering = (
            {"x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}
            if self.queue_type == "quorum"
            else {}
        )
        main_args = self._arguments(
            **{"x-dead-letter-exchange": "", "x-dead-letter-routing-key": self.dead_letter},
            **safe_dead_lettering,
        )
        if self.queue_type == "quorum":
            main_args["x-delivery-limit"] = self.delivery_limit
        main = Queue(
            self.main,
            bindings=[binding(EXCHANGES[ex], routing_key=key) for ex, key in self.bindings],
            durable=True,
            queue_arguments=main_args,
        )
        declared = [main]
        for delay in sorted(set(self.retry_delays)):
            name = f"rapport.{self.service}.retry.{int(delay * 1000)}ms"
            args = self._arguments(
                **{
                    "x-message-ttl": int(delay * 1000),
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": self.main,
                },
                **safe_dead_lettering,
            )
            declared.append(Queue(name, durable=True, queue_arguments=args))
        declared.append(Queue(self.dead_letter, durable=True, queue_arguments=self._arguments()))
        return declared


def declare_exchanges(connection: Connection) -> None:
    channel = connection.default_channel
    for exchange in EXCHANGES.values():
        exchange.bind(channel).declare()


def declare_topology(connection: Connection, topology: QueueTopology | None) -> None:
    declare_exchanges(connection)
    if topology is None:
        return
    channel = connection.default_channel
    for queue in topology.queues():
        queue.bind(channel).declare()


@dataclass
class PublishOutcome:
    confirmed: set[str]
    unrouted: set[str]
    failed: dict[str, str]


class ConfirmedPublisher:
    """Publishes batches to RabbitMQ with publisher confirms and ``mandatory``.

    A batch is written in one go and its confirms awaited together (bounded by the confirm
    timeout), which costs one round trip per batch rather than one per message. A message is
    reported confirmed only when the broker acked it; unroutable ones come back as returns.
    Any connection trouble throws the connection away; the next call makes a new one.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._connection: Connection | None = None
        self._channel: amqp.Channel | None = None
        self._next_tag = 1
        self._acked: dict[int, bool] = {}
        self._returned: set[str] = set()

    def _open(self) -> amqp.Channel:
        if self._channel is not None:
            return self._channel
        connection = connect(self.settings)
        try:
            establish(connection, self.settings)
            raw: amqp.Connection = connection.connection
            channel = raw.channel()
            channel.confirm_select()
            channel.events["basic_ack"].add(self._on_ack)
            channel.events["basic_nack"].add(self._on_nack)
            channel.events["basic_return"].add(self._on_return)
            declare_exchanges(connection)
        except CONNECTION_ERRORS as error:
            discard(connection)
            raise BrokerUnavailable(str(error)) from error
        self._connection, self._channel, self._next_tag = connection, channel, 1
        return channel

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        self._settle(delivery_tag, multiple, True)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        self._settle(delivery_tag, multiple, False)

    def _settle(self, delivery_tag: int, multiple: bool, ok: bool) -> None:
        tags = [t for t in self._acked if t <= delivery_tag] if multiple else [delivery_tag]
        for tag in tags:
            if self._acked.get(tag) is None:
                self._acked[tag] = ok

    def _on_return(self, _exc, _exchange, _routing_key, message) -> None:
        message_id = message.properties.get("message_id")
        if message_id:
            self._returned.add(message_id)

    def publish(self, messages: Sequence[AmqpMessage]) -> PublishOutcome:
        channel = self._open()
        by_tag: dict[int, str] = {}
        self._acked, self._returned = {}, set()
        try:
            for message in messages:
                channel.basic_publish(
                    amqp.Message(
                        message.body,
                        content_type=message.content_type,
                        delivery_mode=2,
                        message_id=message.message_id,
                        application_headers=message.headers,
                    ),
                    exchange=message.exchange,
                    routing_key=message.routing_key,
                    mandatory=True,
                    timeout=self.settings.confirm_timeout,
                )
                by_tag[self._next_tag] = message.message_id
                self._acked[self._next_tag] = None
                self._next_tag += 1
            self._await_confirms()
        except CONNECTION_ERRORS as error:
            self.close(broken=True)
            raise BrokerUnavailable(str(error)) from error
        outcome = PublishOutcome(confirmed=set(), unrouted=set(), failed={})
        for tag, message_id in by_tag.items():
            if not self._acked.get(tag):
                outcome.failed[message_id] = "nacked by the broker"
            elif message_id in self._returned:
                outcome.unrouted.add(message_id)
            else:
                outcome.confirmed.add(message_id)
        return outcome

    def _await_confirms(self) -> None:
        """Wait for every confirm, at most the confirm timeout, watching heartbeats meanwhile:
        a broker that went silent mid-batch is given up within two heartbeats."""
        raw: amqp.Connection = self._connection.connection
        deadline = time.monotonic() + self.settings.confirm_timeout
        while any(v is None for v in self._acked.values()):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise socket.timeout("publisher confirms timed out")
            try:
                raw.drain_events(timeout=min(remaining, check_interval(self.settings)))
            except socket.timeout:
                pass
            raw.heartbeat_tick()

    def keepalive(self) -> None:
        """Service heartbeats while idle; a dead connection is noticed and dropped here."""
        if self._connection is None:
            return
        raw: amqp.Connection = self._connection.connection
        try:
            try:
                raw.drain_events(timeout=0.01)
            except socket.timeout:
                pass
            raw.heartbeat_tick()
        except CONNECTION_ERRORS:
            self.close(broken=True)

    def close(self, *, broken: bool = False) -> None:
        """Close politely when done; drop a broken connection without waiting on the broker."""
        connection, self._connection, self._channel = self._connection, None, None
        if connection is None:
            return
        if broken:
            discard(connection)
            return
        try:
            connection.release()
        except Exception:  # a close-ok that never comes is bounded by io_timeout
            discard(connection)


class InProcessPublisher:
    """Publisher for kombu's ``memory://`` transport (embedded mode): delivery is immediate."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._connection: Connection | None = None

    def publish(self, messages: Sequence[AmqpMessage]) -> PublishOutcome:
        if self._connection is None:
            self._connection = connect(self.settings)
            declare_exchanges(self._connection)
        producer = Producer(self._connection.default_channel)
        for message in messages:
            producer.publish(
                message.body,
                exchange=message.exchange,
                routing_key=message.routing_key,
                headers=message.headers,
                content_type=message.content_type,
                content_encoding="utf-8",
                delivery_mode=2,
                message_id=message.message_id,
            )
        return PublishOutcome(confirmed={m.message_id for m in messages}, unrouted=set(), failed={})

    def keepalive(self) -> None:
        return None

    def close(self, *, broken: bool = False) -> None:
        if self._connection is not None:
            self._connection.release()
            self._connection = None


def make_publisher(settings: Settings) -> ConfirmedPublisher | InProcessPublisher:
    if settings.is_embedded_broker:
        return InProcessPublisher(settings)
    return ConfirmedPublisher(settings)


def broker_reachable(settings: Settings) -> bool:
    if settings.is_embedded_broker:
        return True
    connection = connect(settings)
    try:
        establish(connection, settings)
    except Exception:
        discard(connection)
        return False
    try:
        connection.release()
    except Exception:
        discard(connection)
    return True
