"""sessions' rules, no I/O."""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import pytest

from sessions import domain

DAY = date(2026, 12, 1)
NOON = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


@dataclass
class FakeConsent:
    status: str = "active"
    location_id: str = "loc-a"
    techniques: list = field(default_factory=lambda: ["swedish", "deep_tissue"])
    areas: list = field(default_factory=lambda: ["neck", "shoulders", "upper_back"])
    excluded_areas: list = field(default_factory=lambda: ["feet"])
    valid_until: date | None = None


@dataclass
class FakeTherapist:
    active: bool = True
    location_id: str = "loc-a"
    techniques: list = field(default_factory=lambda: ["swedish"])


def covers(consent, technique="swedish", areas=("neck",), location_id="loc-a", on=DAY) -> bool:
    return domain.covers(consent, location_id=location_id, technique=technique, areas=areas, on=on)


def test_a_consent_covers_its_technique_and_every_requested_area():
    assert covers(FakeConsent(), areas=["neck", "shoulders"])
    assert not covers(FakeConsent(), technique="hot_stone")
    assert not covers(FakeConsent(), areas=["neck", "legs"])


def test_an_excluded_area_is_never_covered_even_if_also_listed():
    assert not covers(FakeConsent(areas=["neck", "feet"], excluded_areas=["feet"]), areas=["feet"])


def test_only_an_active_consent_at_the_same_location_covers():
    assert not covers(FakeConsent(status="withdrawn"))
    assert not covers(FakeConsent(), location_id="loc-b")


def test_validity_runs_through_valid_until_inclusive():
    assert covers(FakeConsent(valid_until=DAY), on=DAY)
    assert not covers(FakeConsent(valid_until=DAY - timedelta(days=1)), on=DAY)
    assert covers(FakeConsent(valid_until=None), on=date(2099, 1, 1))


def test_require_consent_picks_a_covering_one_or_refuses():
    narrow, wide = FakeConsent(areas=["neck"]), FakeConsent(areas=["neck", "legs"])
    scope = {"location_id": "loc-a", "on": DAY}
    assert domain.require_consent([narrow, wide], technique="swedish", areas=["legs"], **scope) is wide
    with pytest.raises(domain.ConsentRequired, match="hot_stone"):
        domain.require_consent([narrow, wide], technique="hot_stone", areas=["neck"], **scope)
    assert domain.covering([], location_id="loc-a", technique="swedish", areas=["neck"], on=DAY) is None


def test_coverage_day_is_today_once_a_session_runs():
    tomorrow = NOON + timedelta(days=1)
    assert domain.coverage_day(domain.BOOKED, tomorrow, NOON) == tomorrow.date()
    assert domain.coverage_day(domain.IN_PROGRESS, tomorrow, NOON) == NOON.date()


def test_holds_block_until_cleared_and_the_error_names_them():
    assert domain.uncleared_holds(["dvt_risk", "acute_illness"], ["dvt_risk"]) == ["acute_illness"]
    domain.check_holds(["dvt_risk"], ["dvt_risk"])
    domain.check_holds([], [])
    with pytest.raises(domain.ContraindicationHold) as raised:
        domain.check_holds(["dvt_risk", "acute_illness"], [])
    assert raised.value.codes == ["dvt_risk", "acute_illness"]
    assert "dvt_risk" in str(raised.value) and "acute_illness" in str(raised.value)


def test_only_a_current_uncleared_hold_can_be_cleared():
    domain.check_clearable("dvt_risk", ["dvt_risk"], [])
    with pytest.raises(domain.NoSuchHold):
        domain.check_clearable("diabetes", ["dvt_risk"], [])
    with pytest.raises(domain.AlreadyCleared):
        domain.check_clearable("dvt_risk", ["dvt_risk"], ["dvt_risk"])


def test_a_therapist_must_be_active_local_and_offer_the_technique():
    domain.check_therapist(FakeTherapist(), location_id="loc-a", technique="swedish")
    for therapist, technique, words in (
        (FakeTherapist(active=False), "swedish", "not taking"),
        (FakeTherapist(location_id="loc-b"), "swedish", "location"),
        (FakeTherapist(), "sports", "sports"),
    ):
        with pytest.raises(domain.TherapistUnqualified, match=words):
            domain.check_therapist(therapist, location_id="loc-a", technique=technique)


def test_a_session_may_start_up_to_fifteen_minutes_ago():
    domain.check_start_time(NOON - timedelta(minutes=15), NOON)
    domain.check_start_time(NOON + timedelta(days=30), NOON)
    with pytest.raises(domain.StartsInPast):
        domain.check_start_time(NOON - timedelta(minutes=16), NOON)


def test_ends_at_adds_the_duration():
    assert domain.ends_at(NOON, 90) == NOON + timedelta(minutes=90)


@pytest.mark.parametrize(
    "status, to",
    [
        ("booked", "in_progress"),
        ("booked", "cancelled"),
        ("in_progress", "completed"),
        ("in_progress", "stopped"),
    ],
)
def test_allowed_transitions(status, to):
    assert domain.advance(status, to) == to


@pytest.mark.parametrize(
    "status, to",
    [
        ("booked", "completed"),
        ("booked", "stopped"),
        ("in_progress", "cancelled"),
        ("in_progress", "in_progress"),
        ("completed", "stopped"),
        ("stopped", "in_progress"),
        ("cancelled", "booked"),
        ("cancelled", "in_progress"),
    ],
)
def test_every_other_transition_is_refused(status, to):
    with pytest.raises(domain.InvalidTransition):
        domain.advance(status, to)


def test_check_ins_only_while_in_progress():
    domain.check_in_progress(domain.IN_PROGRESS)
    for status in (domain.BOOKED, domain.COMPLETED, domain.STOPPED, domain.CANCELLED):
        with pytest.raises(domain.NotInProgress):
            domain.check_in_progress(status)


def test_a_client_stops_only_as_the_client():
    domain.check_requester("client", "client")
    domain.check_requester("therapist", "client")
    domain.check_requester("manager", "therapist")
    with pytest.raises(domain.RequesterMismatch):
        domain.check_requester("client", "therapist")


def test_cancellation_reason_codes_follow_who_cancels():
    assert domain.cancel_reason_for("client") == domain.CLIENT_REQUEST
    assert domain.cancel_reason_for("front_desk") == domain.CLINIC_REQUEST
    assert domain.cancel_reason_for("org_admin") == domain.CLINIC_REQUEST


def test_only_a_higher_version_is_newer():
    assert domain.is_newer(1, None)
    assert domain.is_newer(2, 1)
    assert not domain.is_newer(1, 1)
    assert not domain.is_newer(1, 2)
