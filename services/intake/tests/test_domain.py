"""intake's rules, no I/O."""

from datetime import date

import pytest

from intake import domain


def test_rule_table_finds_codes_in_conditions_and_medications():
    history = {"conditions": ["History of DVT in 2019", "Type 2 diabetes"], "medications": ["Warfarin 5mg"]}
    assert domain.contraindications(history) == ["dvt_risk", "diabetes", "anticoagulants"]


def test_keywords_match_whole_words_only():
    assert domain.contraindications({"conditions": ["advtraining"]}) == []
    assert domain.contraindications({"conditions": ["flu last week"]}) == ["acute_illness"]


def test_flags_become_codes():
    history = {"conditions": [], "pregnant": True, "recent_injury_or_surgery": "knee surgery, May"}
    assert domain.contraindications(history) == ["pregnancy", "recent_injury_or_surgery"]
    assert domain.contraindications({"conditions": [], "recent_injury_or_surgery": "  "}) == []


def test_any_allergy_is_a_caution():
    assert domain.contraindications({"conditions": [], "allergies": ["nut oils"]}) == ["allergies"]


def test_holds_are_the_codes_that_block_booking():
    codes = ["dvt_risk", "diabetes", "acute_illness", "recent_injury_or_surgery", "pregnancy"]
    assert domain.holds(codes) == ["dvt_risk", "acute_illness", "recent_injury_or_surgery"]


def test_every_rule_has_a_known_severity_and_guidance():
    for rule in domain.RULES_BY_CODE.values():
        assert rule.severity in (domain.HOLD, domain.CAUTION)
        assert rule.guidance


def test_scope_rejects_an_area_both_consented_and_excluded():
    domain.check_scope(["neck", "legs"], ["feet"])
    with pytest.raises(domain.ScopeOverlap, match="legs"):
        domain.check_scope(["neck", "legs"], ["legs"])


def test_consent_status_reports_expiry():
    today = date(2026, 11, 27)
    assert domain.consent_status("active", None, today) == "active"
    assert domain.consent_status("active", date(2026, 11, 27), today) == "active"
    assert domain.consent_status("active", date(2026, 11, 26), today) == "expired"
    assert domain.consent_status("withdrawn", date(2026, 11, 26), today) == "withdrawn"
