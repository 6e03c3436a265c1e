"""notify's rules, no I/O."""

from datetime import datetime, timedelta, timezone

import pytest

from notify import domain

UTC = timezone.utc


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# Template choice ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "routing_key, template",
    [
        ("client.registered.v1", "welcome"),
        ("consent.granted.v1", "consent_receipt"),
        ("consent.withdrawn.v1", "consent_withdrawn_receipt"),
        ("session.booked.v1", "booking_confirmation"),
        ("session.cancelled.v1", "cancellation_notice"),
        ("session.completed.v1", "aftercare"),
        ("followup.due.v1", "checkin_request"),
        ("followup.escalated.v1", "staff_escalation_alert"),
    ],
)
def test_each_event_calls_for_its_template(routing_key, template):
    assert domain.templates_for(routing_key, {}) == (template,)


def test_staff_hear_of_a_stopped_session_only_when_the_client_stopped_it():
    assert domain.templates_for("session.stopped.v1", {"requested_by": "client"}) == (
        "staff_client_stopped_alert",
    )
    assert domain.templates_for("session.stopped.v1", {"requested_by": "therapist"}) == ()


def test_events_without_a_template_call_for_none():
    assert domain.templates_for("session.started.v1", {}) == ()
    assert domain.templates_for("intake.submitted.v1", {}) == ()


def test_every_template_is_addressed_to_a_client_or_staff():
    used = {name for names in domain.EVENT_TEMPLATES.values() for name in names}
    assert used == set(domain.TEMPLATES)
    staff = {t.name for t in domain.TEMPLATES.values() if t.recipient == domain.STAFF}
    assert staff == {"staff_escalation_alert", "staff_client_stopped_alert"}


def test_the_payload_keeps_only_the_templates_ids_codes_and_times():
    data = {
        "consent_id": "c-1",
        "client_id": "cl-1",
        "version": 1,
        "scope": {"techniques": ["deep_tissue"], "areas": ["abdomen"], "excluded_areas": []},
        "granted_at": datetime(2026, 11, 27, 9, 30, tzinfo=UTC),
        "valid_until": None,
    }
    assert domain.message_payload("consent_receipt", data) == {
        "consent_id": "c-1",
        "granted_at": "2026-11-27T09:30:00+00:00",
        "valid_until": None,
    }


# Channels ---------------------------------------------------------------------------------------


def test_email_until_a_preference_is_known():
    assert domain.client_channel(None) == "email"
    assert domain.client_channel("sms") == "sms"
    assert domain.client_channel("none") == "none"


def test_route_takes_the_channel_and_falls_back_from_sms_to_email():
    assert domain.route("email", "ada@example.com", "+44 7700 900123") == domain.Route("email", "ada@example.com")
    assert domain.route("sms", "ada@example.com", "+44 7700 900123") == domain.Route("sms", "+44 7700 900123")
    assert domain.route("sms", "ada@example.com", None) == domain.Route("email", "ada@example.com")
    assert domain.route("email", None, "+44 7700 900123") is None
    assert domain.route("sms", None, None) is None


def test_a_card_sets_the_preference_until_one_is_chosen_in_notify():
    assert domain.channel_after_card(None, True, None, "sms") == "sms"
    assert domain.channel_after_card("email", True, "email", "none") == "none"


def test_a_card_changes_a_choice_made_in_notify_only_when_its_own_channel_changed():
    assert domain.channel_after_card("sms", False, "email", "email") == "sms"
    assert domain.channel_after_card("sms", False, None, "email") == "sms"
    assert domain.channel_after_card("sms", False, "email", "none") == "none"


# Quiet hours ------------------------------------------------------------------------------------

EVENINGS = {"start": "21:00", "end": "23:00", "timezone": "UTC"}
NIGHTS = {"start": "22:00", "end": "07:00", "timezone": "Europe/London"}


def test_outside_quiet_hours_nothing_waits():
    assert domain.quiet_until(None, at("2026-11-27T22:00:00+00:00")) is None
    assert domain.quiet_until(EVENINGS, at("2026-11-27T20:59:00+00:00")) is None
    assert domain.quiet_until(EVENINGS, at("2026-11-27T23:00:00+00:00")) is None


def test_inside_a_same_day_window_waits_for_its_end():
    assert domain.quiet_until(EVENINGS, at("2026-11-27T21:00:00+00:00")) == at("2026-11-27T23:00:00+00:00")
    assert domain.quiet_until(EVENINGS, at("2026-11-27T22:59:59+00:00")) == at("2026-11-27T23:00:00+00:00")


def test_a_window_crossing_midnight_ends_the_next_morning():
    assert domain.quiet_until(NIGHTS, at("2026-11-27T23:30:00+00:00")) == at("2026-11-28T07:00:00+00:00")
    assert domain.quiet_until(NIGHTS, at("2026-11-28T02:00:00+00:00")) == at("2026-11-28T07:00:00+00:00")
    assert domain.quiet_until(NIGHTS, at("2026-11-28T07:00:00+00:00")) is None
    assert domain.quiet_until(NIGHTS, at("2026-11-27T12:00:00+00:00")) is None


def test_quiet_hours_are_the_clients_local_time():
    new_york = {"start": "22:00", "end": "07:00", "timezone": "America/New_York"}
    # 03:00 UTC is 22:00 in New York (EST, UTC-5): quiet until 07:00 EST, i.e. 12:00 UTC.
    assert domain.quiet_until(new_york, at("2026-11-28T03:00:00+00:00")) == at("2026-11-28T12:00:00+00:00")
    assert domain.quiet_until(new_york, at("2026-11-28T02:59:00+00:00")) is None


def test_a_night_across_a_clock_change_ends_at_local_seven():
    # The UK moves to BST on 29 March 2026: 07:00 local that morning is 06:00 UTC.
    assert domain.quiet_until(NIGHTS, at("2026-03-28T23:00:00+00:00")) == at("2026-03-29T06:00:00+00:00")


def test_an_empty_window_never_defers():
    assert domain.quiet_until({"start": "08:00", "end": "08:00", "timezone": "UTC"}, at("2026-11-27T08:00:00+00:00")) is None


def test_times_of_day_and_timezones_are_checked():
    assert domain.parse_hhmm("00:00").hour == 0
    assert domain.parse_hhmm("23:59").minute == 59
    for bad in ("24:00", "7:00", "07:60", "0700", "07:00:00", ""):
        with pytest.raises(ValueError):
            domain.parse_hhmm(bad)
    assert domain.known_timezone("Europe/London")
    assert not domain.known_timezone("Mars/Olympus_Mons")
    assert not domain.known_timezone("../etc/passwd")


# Retries ----------------------------------------------------------------------------------------


def test_retries_back_off_exponentially_up_to_five_minutes():
    assert [domain.retry_delay(n).total_seconds() for n in (1, 2, 3, 8)] == [2, 4, 8, 256]
    assert domain.retry_delay(9) == timedelta(seconds=300)
    assert domain.retry_delay(1000) == timedelta(seconds=300)


def test_giving_up_after_the_configured_attempts():
    assert not domain.gives_up(4, 5)
    assert domain.gives_up(5, 5)


def test_a_young_delivery_may_still_be_waiting_for_its_contact_card():
    created = at("2026-11-27T09:00:00+00:00")
    assert domain.waiting_for_contact(created, created + timedelta(minutes=9, seconds=59))
    assert not domain.waiting_for_contact(created, created + timedelta(minutes=10))


# Rendering --------------------------------------------------------------------------------------


def test_times_read_in_the_clients_timezone():
    assert domain.format_time("2026-12-01T14:00:00+00:00", None) == "Tuesday 01 December 2026 at 14:00 (UTC)"
    assert domain.format_time("2026-07-01T14:00:00+00:00", "Europe/London") == "Wednesday 01 July 2026 at 15:00 (BST)"


def test_the_context_has_the_first_name_and_readable_values():
    payload = {"followup_id": "f-1", "session_id": "s-1", "client_id": "c-1", "reasons": ["adverse_reaction", "severe_soreness"]}
    context = domain.render_context("staff_escalation_alert", payload, None, None)
    assert context["reasons"] == "adverse_reaction, severe_soreness"
    assert context["first_name"] == "there"
    receipt = domain.render_context("consent_receipt", {"consent_id": "c", "granted_at": None, "valid_until": None}, "Ada", None)
    assert receipt["valid_until"] == "until you withdraw it" and receipt["first_name"] == "Ada"


# Webhook patterns -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern, routing_key, expected",
    [
        ("session.booked.v1", "session.booked.v1", True),
        ("session.*.v1", "session.booked.v1", True),
        ("session.*", "session.booked.v1", False),
        ("*.v1", "session.booked.v1", False),
        ("session.#", "session.booked.v1", True),
        ("#", "followup.escalated.v1", True),
        ("#.v1", "followup.escalated.v1", True),
        ("followup.#.escalated.v1", "followup.escalated.v1", True),
        ("session.#", "sessions.booked.v1", False),
        ("consent.granted.v1", "consent.granted.v2", False),
    ],
)
def test_patterns_match_like_amqp_topics(pattern, routing_key, expected):
    assert domain.matches(pattern, routing_key) is expected


def test_patterns_are_dot_separated_words_or_wildcards():
    for good in ("session.*.v1", "#", "followup.escalated.v1", "client.#"):
        assert domain.valid_pattern(good)
    for bad in ("", "session..v1", "Session.booked.v1", "session.book*", "session.booked.v1 "):
        assert not domain.valid_pattern(bad)


def test_only_patterns_that_match_a_forwarded_event_are_useful():
    assert domain.forwardable(["#", "session.*.v1", "notification.#", "billing.paid.v1"]) == ["#", "session.*.v1"]
