"""intake's rules, free of I/O: vocabularies, the contraindication rule table, consent scope.

The contraindication table is documented for clinics in docs/contraindications.md; keep the two
in step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Iterable, Mapping

AREAS = (
    "head", "neck", "shoulders", "upper_back", "lower_back", "glutes",
    "arms", "hands", "chest", "abdomen", "legs", "feet",
)  # fmt: skip
TECHNIQUES = (
    "swedish", "deep_tissue", "sports", "prenatal",
    "trigger_point", "myofascial", "hot_stone", "lymphatic",
)  # fmt: skip
CHANNELS = ("email", "sms", "none")
PRESSURES = ("light", "medium", "firm")
CONVERSATION = ("quiet", "some", "chatty")
THERAPIST_GENDER = ("any", "female", "male")

HOLD = "hold"
CAUTION = "caution"

# Roles that may see health history (the client may always see their own).
HEALTH_READERS = ("therapist", "manager", "org_admin")


class ConsentError(Exception):
    """Base of the consent rule violations."""


class ScopeOverlap(ConsentError):
    """An area is both consented to and excluded."""


class AlreadyWithdrawn(ConsentError):
    pass


class ValidityInPast(ConsentError):
    """valid_until lies before today."""


class IntakeRequired(ConsentError):
    """Informed consent needs an intake form on file."""


@dataclass(frozen=True)
class Rule:
    code: str
    severity: str
    source: str  # "conditions", "medications" or "allergies"
    keywords: tuple[str, ...]
    guidance: str


RULES: tuple[Rule, ...] = (
    Rule("dvt_risk", HOLD, "conditions",
         ("deep vein thrombosis", "dvt", "blood clot", "blood clots", "thrombosis", "pulmonary embolism"),
         "Massage may dislodge a clot. No treatment until cleared."),
    Rule("acute_illness", HOLD, "conditions",
         ("fever", "flu", "influenza", "covid", "covid-19", "acute infection", "vomiting", "diarrhoea", "diarrhea"),
         "Reschedule until recovered, or clear after review."),
    Rule("contagious_skin_condition", HOLD, "conditions",
         ("ringworm", "scabies", "impetigo", "shingles", "cellulitis", "herpes"),
         "Contagious or infected skin: no contact until cleared."),
    Rule("cardiac_condition", CAUTION, "conditions",
         ("heart disease", "heart failure", "arrhythmia", "pacemaker", "angina", "heart attack"),
         "Shorter sessions, gentle pressure, watch positioning."),
    Rule("hypertension", CAUTION, "conditions",
         ("hypertension", "high blood pressure"),
         "Avoid vigorous techniques; rise slowly after the session."),
    Rule("diabetes", CAUTION, "conditions", ("diabetes", "diabetic"),
         "Reduced sensation possible: moderate pressure, check feet."),
    Rule("osteoporosis", CAUTION, "conditions", ("osteoporosis", "osteopenia"),
         "No deep pressure over bone."),
    Rule("cancer_treatment", CAUTION, "conditions",
         ("cancer", "chemotherapy", "radiotherapy", "radiation therapy", "lymphoma", "tumour", "tumor"),
         "Gentle work; avoid treatment sites; oncology-trained therapist preferred."),
    Rule("varicose_veins", CAUTION, "conditions", ("varicose veins", "varicose"),
         "No pressure over affected veins."),
    Rule("seizure_disorder", CAUTION, "conditions", ("epilepsy", "seizure", "seizures"),
         "Know the client's plan; avoid known triggers."),
    Rule("lymphedema", CAUTION, "conditions", ("lymphedema", "lymphoedema"),
         "Only lymphatic drainage by a trained therapist."),
    Rule("anticoagulants", CAUTION, "medications",
         ("warfarin", "heparin", "apixaban", "rivaroxaban", "dabigatran", "edoxaban",
          "clopidogrel", "blood thinner", "blood thinners", "anticoagulant"),
         "Bruises easily: no deep tissue."),
    Rule("allergies", CAUTION, "allergies", (),
         "Check oils, lotions and linens against the listed allergies."),
)  # fmt: skip

PREGNANCY = Rule("pregnancy", CAUTION, "flag", (), "Prenatal positioning and technique only.")
RECENT_INJURY = Rule(
    "recent_injury_or_surgery", HOLD, "flag", (), "Needs review before any work near the site."
)
RULES_BY_CODE = {rule.code: rule for rule in (*RULES, PREGNANCY, RECENT_INJURY)}


def _mentions(texts: Iterable[str], keywords: Iterable[str]) -> bool:
    for text in texts:
        lowered = text.lower()
        for keyword in keywords:
            if re.search(rf"(?<![a-z]){re.escape(keyword)}(?![a-z])", lowered):
                return True
    return False


def contraindications(health_history: Mapping) -> list[str]:
    """Codes the rule table finds in a health history, in table order, without duplicates."""
    sources = {
        "conditions": health_history.get("conditions") or [],
        "medications": health_history.get("medications") or [],
        "allergies": health_history.get("allergies") or [],
    }
    found: list[str] = []
    for rule in RULES:
        texts = sources[rule.source]
        if (rule.keywords and _mentions(texts, rule.keywords)) or (not rule.keywords and texts):
            found.append(rule.code)
    if health_history.get("pregnant"):
        found.append(PREGNANCY.code)
    if (health_history.get("recent_injury_or_surgery") or "").strip():
        found.append(RECENT_INJURY.code)
    return found


def holds(codes: Iterable[str]) -> list[str]:
    return [code for code in codes if RULES_BY_CODE[code].severity == HOLD]


def check_scope(areas: Iterable[str], excluded_areas: Iterable[str]) -> None:
    overlap = sorted(set(areas) & set(excluded_areas))
    if overlap:
        raise ScopeOverlap(f"areas both consented to and excluded: {', '.join(overlap)}")


def consent_status(status: str, valid_until: date | None, today: date) -> str:
    """``active``, ``withdrawn`` or ``expired`` (an active consent past its valid_until)."""
    if status == "active" and valid_until is not None and valid_until < today:
        return "expired"
    return status
