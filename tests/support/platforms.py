"""Running platforms for end-to-end tests: the embedded process, or `rapport up`, plus the
mailboxes that receive what notify sends."""

from __future__ import annotations

import email
import email.policy
import os
import random
import secrets
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Callable, Iterator

import pytest
import requests

from shared.auth import mint

RAPPORT = str(Path(sys.executable).with_name("rapport"))
SERVICES = ("intake", "sessions", "followup", "notify")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_port_run(count: int) -> int:
    """The first of ``count`` consecutive free loopback ports."""
    for _ in range(200):
        base = random.randint(20000, 45000)
        try:
            for offset in range(count):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
    raise RuntimeError("no run of free ports")


def wait_for(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.1):
    """Poll until ``predicate`` returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = predicate()
            if result:
                return result
        except (requests.RequestException, AssertionError) as error:
            last_error = error
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last_error})")


class EmlMailbox:
    """Mail written as .eml files under var/mail (no SMTP server configured)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def messages(self) -> list[EmailMessage]:
        if not self.directory.exists():
            return []
        found = []
        for path in sorted(self.directory.glob("*.eml")):
            with open(path, "rb") as handle:
                found.append(email.message_from_binary_file(handle, policy=email.policy.default))
        return found


class SmtpMailbox:
    """A real SMTP server (aiosmtpd) on loopback, keeping what it receives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.received: list[EmailMessage] = []
        self._lock = threading.Lock()
        mailbox = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                message = email.message_from_bytes(envelope.content, policy=email.policy.default)
                with mailbox._lock:
                    mailbox.received.append(message)
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    def messages(self) -> list[EmailMessage]:
        with self._lock:
            return list(self.received)


@dataclass
class Platform:
    base_url: str
    secret: str
    var: Path
    mailbox: object
    org: str = "e2e-org"
    location: str = "loc-1"
    session: requests.Session = field(default_factory=requests.Session)

    def token(self, role: str, sub: str | None = None, locations: tuple[str, ...] | None = None) -> dict:
        value = mint(self.secret, role=role, org=self.org, locations=list(locations or (self.location,)), sub=sub)
        return {"Authorization": f"Bearer {value}"}

    def call(self, method: str, path: str, role: str = "manager", sub: str | None = None, **kwargs):
        headers = {**self.token(role, sub), **kwargs.pop("headers", {})}
        return self.session.request(method, self.base_url + path, headers=headers, timeout=15, **kwargs)

    def mail_to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.mailbox.messages() if address in str(m["To"])]


def log_tail(path: Path, lines: int = 60) -> str:
    if not path.exists():
        return f"({path} missing)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def wait_ready(base_url: str, timeout: float) -> None:
    def all_ready() -> bool:
        return all(requests.get(f"{base_url}/{s}/readyz", timeout=2).status_code == 200 for s in SERVICES)

    wait_for(all_ready, timeout, f"every service ready behind {base_url}", interval=0.3)


def common_environment(var: Path, secret: str, gateway_port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        RAPPORT_VAR_DIR=str(var),
        RAPPORT_JWT_SECRET=secret,
        RAPPORT_GATEWAY_PORT=str(gateway_port),
        RAPPORT_FOLLOWUP_DELAY="2",
        RAPPORT_RELAY_POLL_INTERVAL="0.05",
        RAPPORT_JOB_INTERVAL="0.2",
        RAPPORT_RETRY_DELAYS="0.2,0.5",
    )
    return env


def start_embedded(var: Path, secret: str, extra_env: dict[str, str] | None = None):
    port = free_port()
    env = {**common_environment(var, secret, port), **(extra_env or {})}
    log = open(var.parent / "embedded.log", "wb")
    process = subprocess.Popen([RAPPORT, "run", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    return process, f"http://127.0.0.1:{port}"


def run_rapport(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([RAPPORT, *args], env=env, capture_output=True, text=True, timeout=timeout)


@contextmanager
def distributed_platform(
    var: Path, pg_server: str, broker_url: str, db_name: str, **extra_env: str
) -> Iterator[Platform]:
    """`rapport up` (what `make up` runs) with its own databases, ports and a real SMTP server,
    taken down and its databases dropped afterwards. ``extra_env`` tunes the platform."""
    from tests.support import servers

    secret = secrets.token_urlsafe(32)
    prefix = servers.new_name(db_name) + "_"
    mailbox = SmtpMailbox()
    mailbox.start()
    gateway_port = free_port()
    env = common_environment(var, secret, gateway_port)
    env.update(
        RAPPORT_PG_URL=pg_server,
        RAPPORT_BROKER_URL=broker_url,
        RAPPORT_DB_PREFIX=prefix,
        RAPPORT_SERVICE_PORT_BASE=str(free_port_run(4)),
        RAPPORT_SMTP_URL=mailbox.url,
        RAPPORT_WEB_WORKERS="1",
        **extra_env,
    )
    started = run_rapport(["up"], env, timeout=180)
    try:
        if started.returncode != 0:
            logs = "\n".join(f"--- {p.name}\n{log_tail(p, 30)}" for p in sorted((var / "log").glob("*.log")))
            pytest.fail(f"rapport up failed:\n{started.stdout}\n{started.stderr}\n{logs}")
        platform = Platform(base_url=f"http://127.0.0.1:{gateway_port}", secret=secret, var=var, mailbox=mailbox)
        platform.env = env
        platform.databases = {s: f"{pg_server.rsplit('/', 1)[0]}/{prefix}{s}" for s in SERVICES}
        yield platform
    finally:
        run_rapport(["down"], env, timeout=60)
        mailbox.stop()
        for service in SERVICES:
            servers.drop_database(pg_server, f"{prefix}{service}")
