"""followup's rules, no I/O."""

from datetime import datetime, timedelta, timezone

import pytest

from followup import domain

COMPLETED_AT = datetime(2026, 11, 27, 15, 0, tzinfo=timezone.utc)


def test_a_followup_falls_due_the_configured_delay_after_the_session():
    assert domain.due_at(COMPLETED_AT, timedelta(hours=24)) == datetime(2026, 11, 28, 15, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("status", domain.OPEN)
def test_scheduled_and_due_followups_take_a_response(status):
    domain.check_open(status)


@pytest.mark.parametrize("status", [domain.COMPLETED, domain.ESCALATED, domain.CANCELLED])
def test_answered_or_cancelled_followups_are_closed(status):
    with pytest.raises(domain.FollowupClosed, match=status):
        domain.check_open(status)


def test_a_calm_response_completes_the_followup():
    reasons = domain.escalation_reasons(adverse_reaction=False, soreness="moderate", concerns=None)
    assert reasons == []
    assert domain.outcome(reasons) == domain.COMPLETED


@pytest.mark.parametrize(
    "answers, reasons",
    [
        ({"adverse_reaction": True, "soreness": None, "concerns": None}, ["adverse_reaction"]),
        ({"adverse_reaction": False, "soreness": "severe", "concerns": None}, ["severe_soreness"]),
        ({"adverse_reaction": False, "soreness": "mild", "concerns": "a bruise"}, ["client_concern"]),
        (
            {"adverse_reaction": True, "soreness": "severe", "concerns": "dizzy since"},
            ["adverse_reaction", "severe_soreness", "client_concern"],
        ),
    ],
)
def test_each_warning_sign_escalates_with_its_reason_in_order(answers, reasons):
    assert domain.escalation_reasons(**answers) == reasons
    assert domain.outcome(reasons) == domain.ESCALATED


def test_blank_concerns_are_no_concern():
    assert domain.escalation_reasons(adverse_reaction=False, soreness="none", concerns="  \n ") == []
    assert domain.escalation_reasons(adverse_reaction=False, soreness="none", concerns="") == []


def test_concerns_text_is_for_the_client_and_clinicians_only():
    assert [role for role in ("org_admin", "manager", "front_desk", "therapist", "client")
            if domain.may_read_concerns(role)] == ["org_admin", "manager", "therapist", "client"]  # fmt: skip


def test_a_session_completed_before_a_seen_withdrawal_gets_no_live_followup():
    assert not domain.cancelled_by_withdrawal(COMPLETED_AT, None)
    assert domain.cancelled_by_withdrawal(COMPLETED_AT, COMPLETED_AT + timedelta(minutes=5))
    assert domain.cancelled_by_withdrawal(COMPLETED_AT, COMPLETED_AT)
    assert not domain.cancelled_by_withdrawal(COMPLETED_AT, COMPLETED_AT - timedelta(days=1))


@pytest.mark.parametrize("pains", [[], [4]])
def test_trend_is_unknown_with_fewer_than_two_points(pains):
    assert domain.trend(pains) == domain.UNKNOWN


@pytest.mark.parametrize(
    "pains, trend",
    [
        ([5, 4], "improving"),
        ([4, 5], "worsening"),
        ([5, 5], "steady"),
        ([6, 9, 5], "improving"),  # one against one: 6 then 5
        ([6, 6, 6, 5], "steady"),  # two against two: 6.0 then 5.5
        ([7, 7, 6, 6], "improving"),  # 7.0 then 6.0
        ([8, 8, 8, 2, 7, 7, 7], "improving"),  # three against three: 8.0 then 7.0
        ([8, 8, 8, 2, 8, 8, 7], "steady"),  # 8.0 then 7.67
        ([2, 2, 2, 9, 3, 3, 3], "worsening"),
        ([2, 3, 2, 9, 3, 3, 2], "steady"),  # 2.33 then 2.67
    ],
)
def test_trend_compares_the_first_and_last_points_of_pain_after(pains, trend):
    assert domain.trend(pains) == trend
