"""Idempotency keys: a POST retried with the same key and body returns the first answer."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from flask import Request, Response
from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from shared.clock import now as utcnow
from shared.crypto import EncryptedJSON
from shared.db import UTCDateTime

_KEPT_HEADERS = ("Content-Type", "Location")


class IdempotencyMixin:
    """Columns of a service's ``idempotency_keys`` table.

    Stored answers may hold personal data or secrets (a webhook's signing secret), so the body
    is encrypted with the owning service's key, named by ``__keyring__``.
    """

    __keyring__: str

    org_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    headers: Mapped[str] = mapped_column(Text)

    @declared_attr
    def body(cls) -> Mapped[str]:
        return mapped_column(EncryptedJSON(cls.__keyring__))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @classmethod
    def from_response(cls, principal, key: str, fingerprint: str, response: Response):
        headers = {name: response.headers[name] for name in _KEPT_HEADERS if name in response.headers}
        return cls(
            org_id=principal.org,
            key=key,
            fingerprint=fingerprint,
            status_code=response.status_code,
            headers=json.dumps(headers),
            body=response.get_data(as_text=True),
        )


def fingerprint_of(request: Request, principal) -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.path, principal.sub, principal.role):
        digest.update(part.encode())
        digest.update(b"\0")
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def stored_response(record) -> Response:
    response = Response(record.body, status=record.status_code)
    for name, value in json.loads(record.headers).items():
        response.headers[name] = value
    response.headers["Idempotent-Replayed"] = "true"
    return response
