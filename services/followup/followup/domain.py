"""followup's rules, free of I/O: the followup lifecycle, escalation and the progress trend.

A followup moves ``scheduled → due`` when its time comes, then ``completed`` or ``escalated``
when the client answers; a followup not yet answered may instead become ``cancelled``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Sequence

SCHEDULED = "scheduled"
DUE = "due"
COMPLETED = "completed"
ESCALATED = "escalated"
CANCELLED = "cancelled"
STATUSES = (SCHEDULED, DUE, COMPLETED, ESCALATED, CANCELLED)
OPEN = (SCHEDULED, DUE)
ANSWERED = (COMPLETED, ESCALATED)

SORENESS = ("none", "mild", "moderate", "severe")

ADVERSE_REACTION = "adverse_reaction"
SEVERE_SORENESS = "severe_soreness"
CLIENT_CONCERN = "client_concern"

SESSION_CANCELLED = "session_cancelled"
CONSENT_WITHDRAWN = "consent_withdrawn"
CANCEL_REASONS = (SESSION_CANCELLED, CONSENT_WITHDRAWN)

IMPROVING = "improving"
STEADY = "steady"
WORSENING = "worsening"
UNKNOWN = "unknown"
TRENDS = (IMPROVING, STEADY, WORSENING, UNKNOWN)
TREND_WINDOW = 3

# Roles that may read the text of a client's concerns (the client may always read their own).
CONCERN_READERS = ("therapist", "manager", "org_admin")


class FollowupClosed(Exception):
    """The followup was already answered or cancelled."""


def due_at(completed_at: datetime, delay: timedelta) -> datetime:
    return completed_at + delay


def check_open(status: str) -> None:
    if status not in OPEN:
        raise FollowupClosed(f"This followup is {status}; it takes no more responses.")


def escalation_reasons(*, adverse_reaction: bool, soreness: str | None, concerns: str | None) -> list[str]:
    """Why a response needs a person to call the client back, in a fixed order."""
    reasons = []
    if adverse_reaction:
        reasons.append(ADVERSE_REACTION)
    if soreness == "severe":
        reasons.append(SEVERE_SORENESS)
    if concerns and concerns.strip():
        reasons.append(CLIENT_CONCERN)
    return reasons


def outcome(reasons: Sequence[str]) -> str:
    return ESCALATED if reasons else COMPLETED


def may_read_concerns(role: str) -> bool:
    return role in CONCERN_READERS or role == "client"


def cancelled_by_withdrawal(completed_at: datetime, last_withdrawal: datetime | None) -> bool:
    """A session completed before a consent withdrawal already seen gets no live followup.

    Events may arrive out of order: when the withdrawal was handled first, the late
    ``session.completed`` must not schedule a check-in the withdrawal would have cancelled.
    """
    return last_withdrawal is not None and completed_at <= last_withdrawal


def trend(pains_after: Sequence[int]) -> str:
    """How the client's pain after sessions moves, oldest first.

    ``unknown`` with fewer than 2 points. Otherwise the first and the last ``k`` points are
    compared, where ``k`` is half the points rounded down, at most 3 (so the two windows never
    overlap: 2 points compare one with one, 5 points two with two, 6 or more three with three).
    The last window's average pain lower by 1 or more is ``improving``, higher by 1 or more is
    ``worsening``, anything else ``steady``.
    """
    if len(pains_after) < 2:
        return UNKNOWN
    k = min(TREND_WINDOW, len(pains_after) // 2)
    change = sum(pains_after[-k:]) - sum(pains_after[:k])  # k times the change of the averages
    if change <= -k:
        return IMPROVING
    if change >= k:
        return WORSENING
    return STEADY
