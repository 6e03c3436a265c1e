"""Configuration: environment variables with safe local defaults, read in one place.

The names are part of the contract with ops (see docs/operations.md).
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Mapping

from cryptography.fernet import Fernet

SERVICES = ("intake", "sessions", "followup", "notify")

_ISO_DURATION = re.compile(
    r"^P(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


class ConfigError(ValueError):
    """A configuration value that cannot be used."""


def parse_duration(text: str) -> timedelta:
    """Seconds (``"90"``, ``"0.5"``) or an ISO 8601 duration (``"PT24H"``, ``"P1DT2H"``)."""
    value = text.strip()
    try:
        seconds = float(value)
    except ValueError:
        match = _ISO_DURATION.match(value.upper())
        if not match or value.upper() in ("P", "PT") or value.upper().endswith("T"):
            raise ConfigError(f"not a duration in seconds or ISO 8601: {text!r}") from None
        parts = {k: float(v) for k, v in match.groupdict().items() if v}
        return timedelta(**parts)
    if seconds < 0:
        raise ConfigError(f"a duration cannot be negative: {text!r}")
    return timedelta(seconds=seconds)


def _float_list(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ConfigError(f"expected a comma-separated list of seconds: {text!r}") from None
    if not values or any(v < 0 for v in values):
        raise ConfigError(f"expected a non-empty list of non-negative seconds: {text!r}")
    return values


def _persistent_secret(path: Path, make: callable) -> str:
    """Read a secret kept under ``var/``, creating it once (mode 0600) when missing."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


def var_dir(environ: Mapping[str, str] = os.environ) -> Path:
    return Path(environ.get("RAPPORT_VAR_DIR", "var")).resolve()


def jwt_secret(environ: Mapping[str, str] = os.environ) -> str:
    """``RAPPORT_JWT_SECRET``, or one generated once and kept in ``var/jwt-secret``."""
    explicit = environ.get("RAPPORT_JWT_SECRET")
    if explicit:
        return explicit
    return _persistent_secret(var_dir(environ) / "jwt-secret", lambda: secrets.token_urlsafe(48))


def data_key(service: str, environ: Mapping[str, str] = os.environ) -> str:
    """The service's key for data encrypted at rest (Fernet).

    ``RAPPORT_DATA_KEY`` (one service per process), or one generated per service and kept in
    ``var/<service>.key``.
    """
    explicit = environ.get("RAPPORT_DATA_KEY")
    if explicit:
        return explicit
    return _persistent_secret(
        var_dir(environ) / f"{service}.key", lambda: Fernet.generate_key().decode()
    )


@dataclass(frozen=True)
class Settings:
    service: str
    database_url: str
    broker_url: str
    jwt_secret: str
    data_key: str
    var_dir: Path
    followup_delay: timedelta = timedelta(hours=24)
    smtp_url: str | None = None
    mail_from: str = "Rapport <care@rapport.local>"
    retry_delays: tuple[float, ...] = (1.0, 5.0, 30.0)
    queue_type: str = "classic"
    delivery_limit: int = 20
    prefetch: int = 32
    heartbeat: int = 10
    connect_timeout: float = 5.0
    confirm_timeout: float = 10.0
    relay_batch_size: int = 200
    relay_poll_interval: float = 0.2
    outbox_lease: float = 30.0
    db_lock_timeout: float = 2.0
    job_interval: float = 1.0
    notify_max_attempts: int = 5
    extra: dict = field(default_factory=dict)

    @property
    def is_embedded_broker(self) -> bool:
        return self.broker_url.startswith("memory://")

    @classmethod
    def from_env(
        cls, service: str, environ: Mapping[str, str] = os.environ, **overrides
    ) -> "Settings":
        if service not in SERVICES:
            raise ConfigError(f"unknown service {service!r}")
        base = var_dir(environ)
        queue_type = environ.get("RAPPORT_QUEUE_TYPE", "classic")
        if queue_type not in ("classic", "quorum"):
            raise ConfigError(f"RAPPORT_QUEUE_TYPE must be classic or quorum, not {queue_type!r}")
        values = dict(
            service=service,
            database_url=environ.get("RAPPORT_DATABASE_URL", f"sqlite:///{base / service}.db"),
            broker_url=environ.get("RAPPORT_BROKER_URL", "memory://"),
            jwt_secret=jwt_secret(environ),
            data_key=data_key(service, environ),
            var_dir=base,
            followup_delay=parse_duration(environ.get("RAPPORT_FOLLOWUP_DELAY", "PT24H")),
            smtp_url=environ.get("RAPPORT_SMTP_URL") or None,
            mail_from=environ.get("RAPPORT_MAIL_FROM", cls.mail_from),
            retry_delays=_float_list(environ.get("RAPPORT_RETRY_DELAYS", "1,5,30")),
            queue_type=queue_type,
            delivery_limit=int(environ.get("RAPPORT_DELIVERY_LIMIT", "20")),
            prefetch=int(environ.get("RAPPORT_PREFETCH", "32")),
            heartbeat=int(environ.get("RAPPORT_HEARTBEAT", "10")),
            connect_timeout=float(environ.get("RAPPORT_CONNECT_TIMEOUT", "5")),
            confirm_timeout=float(environ.get("RAPPORT_CONFIRM_TIMEOUT", "10")),
            relay_batch_size=int(environ.get("RAPPORT_RELAY_BATCH_SIZE", "200")),
            relay_poll_interval=float(environ.get("RAPPORT_RELAY_POLL_INTERVAL", "0.2")),
            outbox_lease=float(environ.get("RAPPORT_OUTBOX_LEASE", "30")),
            db_lock_timeout=float(environ.get("RAPPORT_DB_LOCK_TIMEOUT", "2")),
            job_interval=float(environ.get("RAPPORT_JOB_INTERVAL", "1")),
            notify_max_attempts=int(environ.get("RAPPORT_NOTIFY_MAX_ATTEMPTS", "5")),
        )
        values.update(overrides)
        return cls(**values)
