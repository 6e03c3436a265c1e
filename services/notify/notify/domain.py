"""notify's rules, free of I/O: which template an event calls for, which channel and address a
message takes, quiet-hours deferral, retry back-off and webhook routing-key patterns.

Messages are built from first names, ids, codes and times only: email and SMS are not
confidential channels, so no health history, note text or consent details ever reach them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Iterable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

CHANNELS = ("email", "sms", "none")
OPTED_OUT = "none"
DEFAULT_CHANNEL = "email"
WEBHOOK = "webhook"

CLIENT = "client"
STAFF = "staff"
SET_AT_INTAKE = "intake"  # Preference.set_by when the channel came from intake's events

PENDING, SENT, FAILED, SUPPRESSED = "pending", "sent", "failed", "suppressed"
STATUSES = (SENT, FAILED, SUPPRESSED, PENDING)

CONTACT_GRACE = timedelta(minutes=10)
CONTACT_RECHECK = timedelta(seconds=2)
MAX_BACKOFF_SECONDS = 300


class WebhookLocationRequired(Exception):
    """Only an org_admin granted every location may subscribe to the whole organisation."""


@dataclass(frozen=True)
class Template:
    name: str
    recipient: str
    fields: tuple[str, ...]  # event data copied into the message: ids, codes and times only


TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in (
        Template("welcome", CLIENT, ("client_id",)),
        Template("consent_receipt", CLIENT, ("consent_id", "granted_at", "valid_until")),
        Template("consent_withdrawn_receipt", CLIENT, ("consent_id", "withdrawn_at")),
        Template("booking_confirmation", CLIENT, ("session_id", "starts_at", "duration_minutes")),
        Template("cancellation_notice", CLIENT, ("session_id", "cancelled_at")),
        Template("aftercare", CLIENT, ("session_id",)),
        Template("checkin_request", CLIENT, ("followup_id", "session_id")),
        Template("staff_escalation_alert", STAFF, ("followup_id", "session_id", "client_id", "reasons")),
        Template(
            "staff_client_stopped_alert", STAFF, ("session_id", "client_id", "therapist_id", "stopped_at")
        ),
    )
}

EVENT_TEMPLATES: dict[str, tuple[str, ...]] = {
    "client.registered.v1": ("welcome",),
    "consent.granted.v1": ("consent_receipt",),
    "consent.withdrawn.v1": ("consent_withdrawn_receipt",),
    "session.booked.v1": ("booking_confirmation",),
    "session.cancelled.v1": ("cancellation_notice",),
    "session.completed.v1": ("aftercare",),
    "followup.due.v1": ("checkin_request",),
    "followup.escalated.v1": ("staff_escalation_alert",),
    "session.stopped.v1": ("staff_client_stopped_alert",),
}

# Public events notify consumes and so can forward to webhooks. Its own notification.* events
# are not among them: a webhook on them would feed its own deliveries back to itself.
FORWARDED_EVENTS = (
    "client.registered.v1",
    "intake.submitted.v1",
    "consent.granted.v1",
    "consent.withdrawn.v1",
    "session.booked.v1",
    "session.started.v1",
    "session.stopped.v1",
    "session.completed.v1",
    "session.cancelled.v1",
    "followup.scheduled.v1",
    "followup.due.v1",
    "followup.responded.v1",
    "followup.escalated.v1",
)

_TIME_FIELDS = {"granted_at", "withdrawn_at", "starts_at", "cancelled_at", "stopped_at"}


def templates_for(routing_key: str, data: Mapping[str, Any]) -> tuple[str, ...]:
    """The templates an event calls for. A session stop alerts staff only when the client asked."""
    if routing_key == "session.stopped.v1" and data.get("requested_by") != CLIENT:
        return ()
    return EVENT_TEMPLATES.get(routing_key, ())


def message_payload(template: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The event fields a template is rendered from, as JSON values."""
    payload: dict[str, Any] = {}
    for name in TEMPLATES[template].fields:
        value = data.get(name)
        if isinstance(value, (datetime, date)):
            value = value.isoformat()
        payload[name] = value
    return payload


# Channels and addresses ---------------------------------------------------------------------


def client_channel(preferred: str | None) -> str:
    """The client's preference; email until notify learns one."""
    return preferred or DEFAULT_CHANNEL


def channel_after_card(
    current: str | None, set_at_intake: bool, previous_card: str | None, card: str
) -> str:
    """The preference after a newer contact card arrives.

    Intake is the source of a preference until the client or staff set one in notify. After
    that, a card changes it only when the channel on the card itself changed (the client changed
    it at intake since), so a card sent for another reason keeps a choice made in notify.
    """
    if current is None or set_at_intake:
        return card
    if previous_card is not None and card != previous_card:
        return card
    return current


@dataclass(frozen=True)
class Route:
    channel: str
    address: str


def route(channel: str, email: str | None, phone: str | None) -> Route | None:
    """Where a client message goes; SMS falls back to email when no phone number is known."""
    if channel == "sms" and phone:
        return Route("sms", phone)
    if email:
        return Route("email", email)
    return None


def waiting_for_contact(created_at: datetime, now: datetime) -> bool:
    """A delivery this young may be waiting for its contact card, still on its way."""
    return now - created_at < CONTACT_GRACE


def retry_delay(attempts: int) -> timedelta:
    """Back-off after ``attempts`` failed sends: 2, 4, 8 ... seconds, at most five minutes."""
    return timedelta(seconds=min(2 ** min(attempts, 16), MAX_BACKOFF_SECONDS))


def gives_up(attempts: int, max_attempts: int) -> bool:
    return attempts >= max_attempts


# Quiet hours --------------------------------------------------------------------------------

_HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


def parse_hhmm(text: str) -> time:
    match = _HHMM.match(text)
    if not match:
        raise ValueError(f"not a time of day as HH:MM: {text!r}")
    return time(int(match.group(1)), int(match.group(2)))


def known_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def quiet_until(quiet_hours: Mapping[str, str] | None, at: datetime) -> datetime | None:
    """When the quiet window ``at`` falls in ends (UTC), or None when ``at`` is outside it.

    ``quiet_hours`` is ``{start: "HH:MM", end: "HH:MM", timezone}`` in the client's local time;
    a window whose end is before its start crosses midnight (22:00-07:00).
    """
    if not quiet_hours:
        return None
    start, end = parse_hhmm(quiet_hours["start"]), parse_hhmm(quiet_hours["end"])
    if start == end:
        return None
    zone = ZoneInfo(quiet_hours["timezone"])
    local = at.astimezone(zone)
    now_of_day = local.time().replace(tzinfo=None)
    if start < end:
        if not start <= now_of_day < end:
            return None
        ends_on = local.date()
    else:
        if end <= now_of_day < start:
            return None
        ends_on = local.date() + timedelta(days=1) if now_of_day >= start else local.date()
    return datetime.combine(ends_on, end, tzinfo=zone).astimezone(timezone.utc)


# Rendering ----------------------------------------------------------------------------------


def format_time(value: str | None, zone_name: str | None) -> str:
    """An RFC 3339 time from an event, as a person reads it, in their timezone when known."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    zone = ZoneInfo(zone_name) if zone_name else timezone.utc
    local = moment.astimezone(zone)
    return f"{local:%A %d %B %Y at %H:%M} ({local.tzname() or zone_name})"


def render_context(
    template: str, payload: Mapping[str, Any], first_name: str | None, zone_name: str | None
) -> dict[str, str]:
    """Everything a template may use: the first name and the payload's ids, codes and times."""
    context = {"first_name": first_name or "there"}
    for name in TEMPLATES[template].fields:
        value = payload.get(name)
        if name in _TIME_FIELDS:
            context[name] = format_time(value, zone_name)
        elif name == "valid_until":
            context[name] = f"until {value}" if value else "until you withdraw it"
        elif name == "reasons":
            context[name] = ", ".join(value or []) or "none given"
        else:
            context[name] = "" if value is None else str(value)
    return context


# Webhooks -----------------------------------------------------------------------------------

_PATTERN_WORD = re.compile(r"^([a-z][a-z_-]*|v[0-9]+|\*|#)$")


def valid_pattern(pattern: str) -> bool:
    return bool(pattern) and all(_PATTERN_WORD.match(word) for word in pattern.split("."))


def matches(pattern: str, routing_key: str) -> bool:
    """AMQP topic matching: ``*`` is exactly one word, ``#`` zero or more words."""
    return _match(pattern.split("."), routing_key.split("."))


def _match(pattern: list[str], words: list[str]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_match(rest, words[i:]) for i in range(len(words) + 1))
    if not words:
        return False
    return (head == "*" or head == words[0]) and _match(rest, words[1:])


def matches_any(patterns: Iterable[str], routing_key: str) -> bool:
    return any(matches(p, routing_key) for p in patterns)


def forwardable(patterns: Iterable[str]) -> list[str]:
    """The patterns that match at least one event notify forwards."""
    return [p for p in patterns if any(matches(p, key) for key in FORWARDED_EVENTS)]
