"""What a service is made of at run time, and its unit of work.

Each service's composition root (``services/<name>/app.py``) builds one ``Service``; the web
app, the event consumer and the outbox relay of that service all run from it.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from sqlalchemy import MetaData
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from shared import crypto
from shared.config import Settings
from shared.db import create_db_engine, create_session_factory, upgrade_database
from shared.events import Event, new_event


class UnitOfWork:
    """One database transaction: the state rows and the events they cause, committed together."""

    def __init__(self, session: Session, service: "Service") -> None:
        self.session = session
        self.service = service
        self.emitted: list[Event] = []

    @property
    def settings(self) -> Settings:
        return self.service.settings

    def emit(
        self,
        routing_key: str,
        *,
        subject: str,
        org_id: str,
        location_id: str,
        data: Mapping[str, Any],
        exchange: str | None = None,
    ) -> Event:
        event = new_event(
            routing_key,
            source=f"/{self.service.name}",
            subject=subject,
            org_id=org_id,
            location_id=location_id,
            data=data,
        )
        if exchange is not None:
            event = Event(**{**event.__dict__, "exchange": exchange})
        self.session.add(self.service.outbox_model.from_event(event))
        self.emitted.append(event)
        return event

    def commit(self) -> None:
        self.session.commit()
        if self.emitted:
            self.service.outbox_signal.set()


@dataclass(frozen=True)
class Job:
    """Timed work a service does in its relay process (e.g. followups falling due)."""

    name: str
    run: Callable[["Service"], int]
    interval: float | None = None


@dataclass
class Service:
    name: str
    settings: Settings
    metadata: MetaData
    migrations: Path
    outbox_model: type
    inbox_model: type
    idempotency_model: type
    subscriptions: Any = None
    jobs: list[Job] = field(default_factory=list)
    engine: Engine | None = None
    sessions: sessionmaker | None = None
    outbox_signal: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        if self.engine is None:
            self.engine = create_db_engine(
                self.settings.database_url, lock_timeout=self.settings.db_lock_timeout
            )
        if self.sessions is None:
            self.sessions = create_session_factory(self.engine)
        crypto.register_key(self.name, self.settings.data_key)

    @contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        """A unit of work that commits when the block ends normally and rolls back otherwise."""
        with self.sessions() as session:
            uow = UnitOfWork(session, self)
            try:
                yield uow
                uow.commit()
            except BaseException:
                session.rollback()
                raise

    def migrate(self) -> None:
        upgrade_database(self.migrations, self.settings.database_url)

    def close(self) -> None:
        self.engine.dispose()
