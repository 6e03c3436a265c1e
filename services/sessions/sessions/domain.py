"""sessions' rules, free of I/O: vocabularies, consent coverage, holds, booking times and the
session life cycle.

The vocabularies are sessions' own copy of intake's (services share no code); keep them in step
with CONTRACT.md.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Iterable, Protocol, Sequence, TypeVar

from shared.errors import DomainError

AREAS = (
    "head", "neck", "shoulders", "upper_back", "lower_back", "glutes",
    "arms", "hands", "chest", "abdomen", "legs", "feet",
)  # fmt: skip
TECHNIQUES = (
    "swedish", "deep_tissue", "sports", "prenatal",
    "trigger_point", "myofascial", "hot_stone", "lymphatic",
)  # fmt: skip
PRESSURE_FEEDBACK = ("lighter", "ok", "firmer")
REQUESTERS = ("client", "therapist")

BOOKED = "booked"
IN_PROGRESS = "in_progress"
COMPLETED = "completed"
STOPPED = "stopped"
CANCELLED = "cancelled"
STATUSES = (BOOKED, IN_PROGRESS, COMPLETED, STOPPED, CANCELLED)
ACTIVE_STATUSES = (BOOKED, IN_PROGRESS)
TRANSITIONS = {BOOKED: (IN_PROGRESS, CANCELLED), IN_PROGRESS: (COMPLETED, STOPPED)}

MIN_DURATION = 15
MAX_DURATION = 240
BOOKING_GRACE = timedelta(minutes=15)

# Codes for session.cancelled's ``reason``; free text stays in the database.
CLIENT_REQUEST = "client_request"
CLINIC_REQUEST = "clinic_request"
CONSENT_WITHDRAWN = "consent_withdrawn"

# Roles that may read session notes, check-in notes and free-text reasons (all audited).
NOTE_READERS = ("therapist", "manager", "org_admin")
# Aftercare is written for the client, so the client reads it too.
AFTERCARE_READERS = (*NOTE_READERS, "client")


class SessionError(DomainError):
    """Base of the session rule violations."""


class StartsInPast(SessionError):
    """A session cannot be booked more than BOOKING_GRACE in the past."""


class TherapistUnqualified(SessionError):
    """The therapist is inactive, works elsewhere, or does not offer the technique."""


class ConsentRequired(SessionError):
    """No active consent covers the technique and every area on the session's date."""


class ContraindicationHold(SessionError):
    def __init__(self, codes: Sequence[str]) -> None:
        super().__init__(f"Uncleared contraindication holds: {', '.join(codes)}.")
        self.codes = list(codes)


class TherapistUnavailable(SessionError):
    """The therapist already has a booked or in-progress session overlapping this one."""


class InvalidTransition(SessionError):
    pass


class NotInProgress(SessionError):
    """Check-ins are taken only while a session is in progress."""


class RequesterMismatch(SessionError):
    """A client stops a session as the client, never in the therapist's name."""


class NoSuchHold(SessionError):
    """The code is not a hold on the client's latest intake form."""


class AlreadyCleared(SessionError):
    pass


class ConsentLike(Protocol):
    status: str
    location_id: str
    techniques: list[str]
    areas: list[str]
    excluded_areas: list[str]
    valid_until: date | None


class TherapistLike(Protocol):
    active: bool
    location_id: str
    techniques: list[str]


C = TypeVar("C", bound=ConsentLike)


def covers(
    consent: ConsentLike, *, location_id: str, technique: str, areas: Iterable[str], on: date
) -> bool:
    """Active, at this location, valid on that day, for the technique and every area, none excluded."""
    wanted = set(areas)
    return (
        consent.status == "active"
        and consent.location_id == location_id
        and (consent.valid_until is None or consent.valid_until >= on)
        and technique in consent.techniques
        and wanted <= set(consent.areas)
        and not wanted & set(consent.excluded_areas)
    )


def covering(
    consents: Iterable[C], *, location_id: str, technique: str, areas: Iterable[str], on: date
) -> C | None:
    """The first consent that covers the session, if any."""
    areas = list(areas)
    for consent in consents:
        if covers(consent, location_id=location_id, technique=technique, areas=areas, on=on):
            return consent
    return None


def require_consent(
    consents: Iterable[C], *, location_id: str, technique: str, areas: Iterable[str], on: date
) -> C:
    areas = list(areas)
    consent = covering(consents, location_id=location_id, technique=technique, areas=areas, on=on)
    if consent is None:
        raise ConsentRequired(
            f"No active consent covers {technique} on {', '.join(areas)} at this location on {on.isoformat()}."
        )
    return consent


def coverage_day(status: str, starts_at: datetime, now: datetime) -> date:
    """The day a consent must be valid on: today once a session runs, else the day it starts."""
    return now.date() if status == IN_PROGRESS else starts_at.date()


def uncleared_holds(holds: Iterable[str], cleared: Iterable[str]) -> list[str]:
    done = set(cleared)
    return [code for code in holds if code not in done]


def check_holds(holds: Iterable[str], cleared: Iterable[str]) -> None:
    open_holds = uncleared_holds(holds, cleared)
    if open_holds:
        raise ContraindicationHold(open_holds)


def check_clearable(code: str, holds: Iterable[str], cleared: Iterable[str]) -> None:
    if code not in holds:
        raise NoSuchHold(f"{code} is not a hold on the client's latest intake form.")
    if code in set(cleared):
        raise AlreadyCleared(f"{code} is already cleared for the client's latest intake form.")


def check_therapist(therapist: TherapistLike, *, location_id: str, technique: str) -> None:
    if not therapist.active:
        raise TherapistUnqualified("The therapist is not taking sessions.")
    if therapist.location_id != location_id:
        raise TherapistUnqualified("The therapist does not work at this location.")
    if technique not in therapist.techniques:
        raise TherapistUnqualified(f"The therapist does not offer {technique}.")


def check_start_time(starts_at: datetime, now: datetime) -> None:
    if starts_at < now - BOOKING_GRACE:
        raise StartsInPast("starts_at lies more than 15 minutes in the past.")


def ends_at(starts_at: datetime, duration_minutes: int) -> datetime:
    return starts_at + timedelta(minutes=duration_minutes)


def advance(status: str, to: str) -> str:
    if to not in TRANSITIONS.get(status, ()):
        raise InvalidTransition(f"A {status} session cannot become {to}.")
    return to


def check_in_progress(status: str) -> None:
    if status != IN_PROGRESS:
        raise NotInProgress(f"Check-ins are taken only while a session is in progress, not {status}.")


def check_requester(role: str, requested_by: str) -> None:
    if role == "client" and requested_by != "client":
        raise RequesterMismatch("A client stops a session as the client.")


def cancel_reason_for(role: str) -> str:
    return CLIENT_REQUEST if role == "client" else CLINIC_REQUEST


def is_newer(incoming_version: int, stored_version: int | None) -> bool:
    """Events may arrive out of order: only a higher aggregate version changes the projection."""
    return stored_version is None or incoming_version > stored_version
