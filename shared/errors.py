"""Domain errors every service raises; each service maps its own in one table (its api module)."""

from __future__ import annotations


class DomainError(Exception):
    """A rule said no. Subclasses are mapped to problem+json answers."""


class NotFound(DomainError):
    """Unknown id, or one outside the caller's organisation, locations or own records."""

    def __init__(self, what: str) -> None:
        super().__init__(f"No such {what} in your scope.")
        self.what = what


class Forbidden(DomainError):
    """The caller's role or locations do not allow this."""
