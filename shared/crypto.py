"""Encryption at rest for health history, notes and contact details (Fernet, per-service key)."""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

_keys: dict[str, MultiFernet] = {}


def register_key(keyring: str, keys: str) -> None:
    """Keys are comma-separated; the first encrypts, all decrypt (for key rotation)."""
    _keys[keyring] = MultiFernet([Fernet(k.strip().encode()) for k in keys.split(",") if k.strip()])


def _fernet(keyring: str) -> MultiFernet:
    try:
        return _keys[keyring]
    except KeyError:
        raise RuntimeError(f"no data key registered for {keyring!r}") from None


class EncryptedJSON(TypeDecorator):
    """A JSON value encrypted with the owning service's key before it reaches the database."""

    impl = Text
    cache_ok = True

    def __init__(self, keyring: str) -> None:
        super().__init__()
        self.keyring = keyring

    def process_bind_param(self, value: Any, dialect) -> str | None:
        if value is None:
            return None
        plain = json.dumps(value, separators=(",", ":")).encode()
        return _fernet(self.keyring).encrypt(plain).decode()

    def process_result_value(self, value: str | None, dialect) -> Any:
        if value is None:
            return None
        try:
            return json.loads(_fernet(self.keyring).decrypt(value.encode()))
        except InvalidToken:
            raise RuntimeError(f"cannot decrypt a {self.keyring} value: wrong data key") from None
