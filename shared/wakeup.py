"""Waking the outbox relay as soon as an outbox row is committed, instead of at its next poll.

On PostgreSQL each service's ``outbox`` table has a statement-level trigger (a migration) that
runs ``pg_notify('rapport_outbox', '')``; PostgreSQL delivers it when the writing transaction
commits, whoever the writer is. The relay LISTENs on its own connection and waits for a
notification, or the poll interval at most (the poll stays the safety net: a lost listening
connection, a notification missed while reconnecting, rows whose ``available_at`` lies ahead).

Elsewhere (SQLite, embedded mode) the service's in-process ``outbox_signal`` is used as before.
"""

from __future__ import annotations

import logging

from sqlalchemy.engine import make_url

from shared.service import Service

log = logging.getLogger("rapport.wakeup")

CHANNEL = "rapport_outbox"


class OutboxWakeup:
    def __init__(self, service: Service) -> None:
        self.service = service
        self._connection = None
        url = make_url(service.engine.url)
        self._postgres = url.get_backend_name() == "postgresql"
        self._dsn = url.set(drivername="postgresql").render_as_string(hide_password=False) if self._postgres else None

    def _listen(self):
        if self._connection is not None:
            return self._connection
        import psycopg

        try:
            connection = psycopg.connect(self._dsn, autocommit=True, connect_timeout=5)
            connection.execute(f"LISTEN {CHANNEL}")
        except psycopg.Error as error:
            log.warning("cannot LISTEN for outbox rows (%s); polling instead", error)
            return None
        self._connection = connection
        return connection

    def wait(self, timeout: float) -> None:
        """Return when an outbox row was committed since the last wait, or after ``timeout``."""
        if not self._postgres:
            self.service.outbox_signal.wait(timeout)
            self.service.outbox_signal.clear()
            return
        connection = self._listen()
        if connection is None:
            self.service.outbox_signal.wait(timeout)
            self.service.outbox_signal.clear()
            return
        try:
            # Notifications that arrived while the relay was busy are queued on the connection:
            # the first one ends the wait at once, and the relay's next claim covers them all.
            for _ in connection.notifies(timeout=timeout, stop_after=1):
                pass
            for _ in connection.notifies(timeout=0.0001, stop_after=10_000):
                pass
        except Exception as error:  # a broken listening connection: poll until it is back
            log.warning("outbox LISTEN connection lost (%s); reconnecting", error)
            self.close()

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:
                pass
