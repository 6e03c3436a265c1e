"""How messages leave notify: email, SMS and signed webhooks. Every failure is a SendFailed.

Email goes over SMTP when ``RAPPORT_SMTP_URL`` is set: ``smtp://[user:pass@]host[:port]``
(port 25 by default; upgraded with STARTTLS when the server offers it) or
``smtps://[user:pass@]host[:port]`` (TLS from the first byte, port 465 by default). Without an
SMTP URL (the embedded default) each message is written as an RFC 5322 ``.eml`` file under
``var/mail/``, named by its delivery id. Either way the Message-ID is derived from the delivery
id, so a resent message is recognisable as the same one.

SMS: no SMS provider is integrated. Text messages are written as ``.txt`` files under
``var/sms/`` (one per delivery, named by its id) so that what would be sent can be seen;
integrating a provider means replacing ``send_sms``.

Webhooks are POSTed as JSON and signed per the Standard Webhooks spec (``webhook-id``,
``webhook-timestamp``, ``webhook-signature: v1,<base64 HMAC-SHA256>``).

Files are written atomically (a temporary file renamed into place), readable by the owner only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import os
import secrets
import smtplib
import ssl
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import unquote, urlsplit

from notify.messages import Message
from shared import clock
from shared.config import ConfigError, Settings

SMTP_TIMEOUT = 10.0
WEBHOOK_TIMEOUT = 5.0
SECRET_PREFIX = "whsec_"


class SendFailed(Exception):
    """The message did not leave; the delivery job retries it with back-off."""


# Email --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    username: str | None
    password: str | None
    implicit_tls: bool


def parse_smtp_url(url: str) -> SmtpServer:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise ConfigError(f"RAPPORT_SMTP_URL must start with smtp:// or smtps://, not {parts.scheme!r}")
    try:
        port = parts.port
    except ValueError:
        raise ConfigError("RAPPORT_SMTP_URL has a port that is not a number") from None
    if not parts.hostname:
        raise ConfigError("RAPPORT_SMTP_URL names no host")
    implicit_tls = parts.scheme == "smtps"
    return SmtpServer(
        host=parts.hostname,
        port=port or (465 if implicit_tls else 25),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        implicit_tls=implicit_tls,
    )


def message_id(delivery_id: str, mail_from: str) -> str:
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "rapport.local"
    return f"<{delivery_id}@{domain}>"


def email_message(settings: Settings, delivery_id: str, to: str, message: Message) -> EmailMessage:
    email = EmailMessage(policy=SMTP)
    email["From"] = settings.mail_from
    email["To"] = to
    email["Subject"] = message.subject
    email["Date"] = format_datetime(clock.now())
    email["Message-ID"] = message_id(delivery_id, settings.mail_from)
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(message.body)
    return email


def send_email(settings: Settings, delivery_id: str, to: str, message: Message) -> None:
    email = email_message(settings, delivery_id, to, message)
    if settings.smtp_url:
        _send_over_smtp(parse_smtp_url(settings.smtp_url), email)
    else:
        write_atomically(settings.var_dir / "mail" / f"{delivery_id}.eml", email.as_bytes())


def _send_over_smtp(server: SmtpServer, email: EmailMessage) -> None:
    try:
        if server.implicit_tls:
            context = ssl.create_default_context()
            client = smtplib.SMTP_SSL(server.host, server.port, timeout=SMTP_TIMEOUT, context=context)
        else:
            client = smtplib.SMTP(server.host, server.port, timeout=SMTP_TIMEOUT)
        with client:
            client.ehlo()
            if not server.implicit_tls and client.has_extn("starttls"):
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
            if server.username:
                client.login(server.username, server.password or "")
            client.send_message(email)
    except smtplib.SMTPRecipientsRefused:
        raise SendFailed("SMTP: the recipient was refused") from None
    except smtplib.SMTPResponseException as error:
        raise SendFailed(f"SMTP: {error.smtp_code} {_text(error.smtp_error)}") from None
    except (smtplib.SMTPException, OSError) as error:
        raise SendFailed(f"SMTP: {type(error).__name__}: {error}") from None


def _text(value: bytes | str) -> str:
    return (value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value))[:200]


# SMS ----------------------------------------------------------------------------------------


def send_sms(settings: Settings, delivery_id: str, to: str, message: Message) -> None:
    """Writes the text message to ``var/sms/<delivery id>.txt``: no SMS provider is integrated."""
    text = f"To: {to}\n\n{message.subject}\n\n{message.body}"
    write_atomically(settings.var_dir / "sms" / f"{delivery_id}.txt", text.encode("utf-8"))


def write_atomically(path: Path, content: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as error:
        raise SendFailed(f"could not write {path.name}: {error.strerror or error}") from None


# Webhooks -----------------------------------------------------------------------------------


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def sign(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer that is not 2xx: the delivery is retried, never re-aimed."""

    def redirect_request(self, *_args, **_kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def post_webhook(url: str, secret: str, msg_id: str, payload: Mapping[str, Any]) -> None:
    body = json.dumps(payload, separators=(",", ":")).encode()
    timestamp = str(int(clock.now().timestamp()))
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Rapport-Webhooks/1",
            "webhook-id": msg_id,
            "webhook-timestamp": timestamp,
            "webhook-signature": sign(secret, msg_id, timestamp, body),
        },
    )
    try:
        with _opener.open(request, timeout=WEBHOOK_TIMEOUT) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        raise SendFailed(f"webhook answered {error.code}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
        reason = getattr(error, "reason", error)
        raise SendFailed(f"webhook unreachable: {reason}") from None
    if not 200 <= status < 300:
        raise SendFailed(f"webhook answered {status}")
