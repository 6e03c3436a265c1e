"""A loopback TCP proxy that breaks the network between a service and its broker on demand.

The test breaks the proxy, never the server behind it. Modes:

- ``forward``: pass bytes both ways (optionally after ``latency`` seconds per chunk);
- ``refuse``: reset every open connection and close the listening socket (connection refused);
- ``reset``: reset every open connection once (RST mid-stream), keep accepting new ones;
- ``blackhole``: keep every socket open but forward nothing, either way (new ones too).

Every client connection is recorded (accepted, first byte back to the client, closed by the
client) so a test can read when a service noticed a fault and when it came back.
"""

from __future__ import annotations

import select
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

FORWARD, BLACKHOLE = "forward", "blackhole"


@dataclass
class ProxiedConnection:
    number: int
    accepted_at: float
    client: socket.socket
    upstream: socket.socket | None
    replied_at: float | None = None
    client_closed_at: float | None = None
    bytes_to_client: int = 0
    reset_by_proxy: bool = False
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def open(self) -> bool:
        return not self.done.is_set()


class TcpProxy:
    """``TcpProxy(upstream_port)``; ``with proxy:`` starts it on a free loopback port."""

    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self.mode = FORWARD
        self.latency = 0.0
        self.connections: list[ProxiedConnection] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener: socket.socket | None = None
        self.port = self._free_port()
        self._acceptor: threading.Thread | None = None

    @classmethod
    def fronting(cls, amqp_url: str) -> "TcpProxy":
        """A proxy in front of the broker of ``amqp_url`` (loopback only)."""
        parts = urlsplit(amqp_url)
        if parts.hostname not in ("127.0.0.1", "localhost"):
            raise ValueError(f"the proxy fronts loopback servers only, not {parts.hostname}")
        return cls(parts.port or 5672)

    @staticmethod
    def _free_port() -> int:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]

    def url(self, amqp_url: str) -> str:
        """``amqp_url`` with its host and port replaced by the proxy's."""
        scheme, rest = amqp_url.split("://", 1)
        credentials, _, path = rest.partition("@")
        path = path.split("/", 1)[1] if "/" in path else ""
        return f"{scheme}://{credentials}@127.0.0.1:{self.port}/{path}"

    # -- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> "TcpProxy":
        self._listen()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._close_listener()
        for connection in self._snapshot():
            self._reset(connection)
        if self._acceptor is not None:
            self._acceptor.join(timeout=5)

    def _listen(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.1)
        self._listener = listener
        self._acceptor = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._acceptor.start()

    def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        if self._acceptor is not None and self._acceptor is not threading.current_thread():
            self._acceptor.join(timeout=5)
            self._acceptor = None

    # -- faults --------------------------------------------------------------------------------

    def blackhole(self) -> float:
        self.mode = BLACKHOLE
        return time.monotonic()

    def reset(self) -> float:
        """RST every open connection; new ones are accepted as before."""
        at = time.monotonic()
        for connection in self._snapshot():
            self._reset(connection)
        return at

    def refuse(self) -> float:
        """Refuse new connections and reset the open ones, until ``heal``."""
        at = time.monotonic()
        self._close_listener()
        self.reset()
        return at

    def heal(self) -> float:
        self.mode = FORWARD
        self.latency = 0.0
        if self._listener is None and not self._stop.is_set():
            self._listen()
        return time.monotonic()

    def open_at(self, moment: float) -> list[ProxiedConnection]:
        """Connections accepted before ``moment`` that were still open then."""
        return [
            c for c in self._snapshot()
            if c.accepted_at <= moment and (c.client_closed_at is None or c.client_closed_at > moment)
        ]  # fmt: skip

    def answered_after(self, moment: float) -> list[ProxiedConnection]:
        """Connections accepted after ``moment`` that got bytes back from the broker."""
        return [c for c in self._snapshot() if c.accepted_at > moment and c.replied_at is not None]

    def _snapshot(self) -> list[ProxiedConnection]:
        with self._lock:
            return list(self.connections)

    # -- plumbing ------------------------------------------------------------------------------

    def _accept(self, listener: socket.socket) -> None:
        while not self._stop.is_set() and self._listener is listener:
            try:
                client, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            upstream = None
            if self.mode == FORWARD:
                try:
                    upstream = socket.create_connection(self.upstream, timeout=5)
                except OSError:
                    client.close()
                    continue
            with self._lock:
                connection = ProxiedConnection(len(self.connections), time.monotonic(), client, upstream)
                self.connections.append(connection)
            threading.Thread(target=self._pump, args=(connection,), daemon=True).start()

    def _reset(self, connection: ProxiedConnection) -> None:
        if connection.done.is_set():
            return
        connection.reset_by_proxy = True
        for sock in (connection.client, connection.upstream):
            if sock is None:
                continue
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()
            except OSError:
                pass
        connection.done.set()

    def _pump(self, connection: ProxiedConnection) -> None:
        """Copy bytes both ways; in blackhole mode read and drop them, watching for the client
        to give up (EOF or reset), which is when it noticed the fault."""
        client, upstream = connection.client, connection.upstream
        try:
            while not connection.done.is_set() and not self._stop.is_set():
                watched = [client] + ([upstream] if upstream is not None else [])
                try:
                    readable, _, _ = select.select(watched, [], [], 0.05)
                except (OSError, ValueError):
                    break
                for sock in readable:
                    try:
                        data = sock.recv(65536)
                    except OSError:
                        data = b""
                    if sock is client and not data:
                        connection.client_closed_at = connection.client_closed_at or time.monotonic()
                        return
                    if sock is upstream and not data:
                        if self.mode == BLACKHOLE:  # the client must not learn of it
                            upstream.close()
                            connection.upstream = upstream = None
                            break
                        return
                    if self.mode == BLACKHOLE:
                        continue
                    if self.latency:
                        time.sleep(self.latency)
                    target = upstream if sock is client else client
                    if target is None:
                        continue
                    try:
                        target.sendall(data)
                    except OSError:
                        return
                    if target is client:
                        connection.bytes_to_client += len(data)
                        connection.replied_at = connection.replied_at or time.monotonic()
        finally:
            if not connection.done.is_set():
                for sock in (client, upstream):
                    if sock is not None:
                        try:
                            sock.close()
                        except OSError:
                            pass
                connection.done.set()
