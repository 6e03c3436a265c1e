"""Database plumbing shared by every service: engines, sessions, column types, migrations."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData, String, Text, create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, sessionmaker
from sqlalchemy.types import TypeDecorator

from shared.clock import now as utcnow  # noqa: F401  (column defaults elsewhere import it from here)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id() -> str:
    return str(uuid.uuid4())


def declarative_base() -> type[DeclarativeBase]:
    """A fresh declarative base per service, with the naming convention Alembic needs on SQLite."""

    class Base(DeclarativeBase):
        metadata = MetaData(naming_convention=NAMING_CONVENTION)
        type_annotation_map = {datetime: UTCDateTime, dict: JSON, list: JSON}

    return Base


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC timestamps on PostgreSQL and SQLite alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Id(TypeDecorator):
    """UUIDs kept as their canonical 36-character text, portable across databases."""

    impl = String(36)
    cache_ok = True


class JSONText(TypeDecorator):
    """JSON kept as text, for payloads that must come back byte-for-byte (outbox data)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect) -> str | None:
        return None if value is None else json.dumps(value, separators=(",", ":"), sort_keys=True)

    def process_result_value(self, value: str | None, dialect) -> Any:
        return None if value is None else json.loads(value)


def normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and use psycopg 3 for them."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def create_db_engine(url: str, *, pool_size: int = 5, lock_timeout: float | None = None) -> Engine:
    """An engine that notices a restarted or vanished database instead of hanging on it.

    On PostgreSQL: pooled connections are pinged before use (a restart leaves them broken),
    connecting gives up after ``connect_timeout``, and with ``lock_timeout`` a statement waiting
    on a lock (a table locked by a migration or a stuck transaction) fails after that many
    seconds instead of holding the request; the web layer answers those failures 503.
    """
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        _configure_sqlite(engine)
        return engine
    connect_args: dict[str, Any] = {"connect_timeout": 5}
    if lock_timeout:
        connect_args["options"] = f"-c lock_timeout={int(lock_timeout * 1000)}"
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_timeout=5,
        connect_args=connect_args,
    )


def _configure_sqlite(engine: Engine) -> None:
    """busy_timeout first, then WAL; every transaction takes the write lock up front.

    ``BEGIN IMMEDIATE`` keeps two writers from both reading a snapshot and then failing to
    upgrade it, which SQLite would otherwise report as a busy error mid-request.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


def upgrade_database(migrations_dir: Path, url: str, revision: str = "head") -> None:
    """Apply a service's Alembic migrations to its database."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.attributes["database_url"] = normalise_url(url)
    command.upgrade(config, revision)


def run_migrations(context, target_metadata: MetaData) -> None:
    """Body of every service's ``migrations/env.py``: online migrations, batch mode on SQLite."""
    url = context.config.attributes.get("database_url") or context.config.get_main_option(
        "sqlalchemy.url"
    )
    connectable = create_db_engine(url)  # no lock timeout: a migration may wait its turn
    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            render_item=_render_portable_type,
        )
        with context.begin_transaction():
            context.run_migrations()
    connectable.dispose()


def _render_portable_type(type_: str, obj: Any, autogen_context) -> str | bool:
    """Autogenerated migrations name our column types by what they store, not by our classes."""
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return "sa." + repr(obj.impl).replace("TIMESTAMP", "DateTime")
    return False
