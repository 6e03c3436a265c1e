"""The whole trust flow, as a clinic lives it, through a running platform's gateway.

Used by the embedded and the distributed end-to-end tests alike; every step asserts what a
user would see: HTTP answers, and the mail clients and staff receive.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tests.support.platforms import Platform, wait_for

CLIENT_EMAIL = "maya.client@example.com"
STAFF_EMAIL = "front-desk@loc-1.example.com"
EVENTUAL = 20.0  # seconds an asynchronous effect may take to show through the gateway


def at(minutes_from_now: int) -> str:
    when = datetime.now(timezone.utc) + timedelta(minutes=minutes_from_now)
    return when.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def expect(response, status: int) -> dict:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.status_code} {response.text}"
    return response.json() if response.content else {}


def subjects(platform: Platform, address: str) -> list[str]:
    return [str(m["Subject"]) for m in platform.mail_to(address)]


def wait_for_mail(platform: Platform, address: str, count: int, what: str) -> list[str]:
    return wait_for(lambda: len(platform.mail_to(address)) >= count and subjects(platform, address), EVENTUAL, what)


def run_trust_flow(p: Platform) -> dict:
    """Register → intake → consent → book → start → check in → complete → followup → answer."""
    expect(p.call("PUT", f"/notify/locations/{p.location}/staff-contact", json={"email": STAFF_EMAIL}), 200)

    client = expect(p.call("POST", "/intake/clients", role="front_desk", json={
        "first_name": "Maya", "last_name": "Okafor", "email": CLIENT_EMAIL,
        "location_id": p.location, "preferred_channel": "email",
    }), 201)  # fmt: skip
    client_id = client["id"]
    form = expect(p.call("POST", f"/intake/clients/{client_id}/intake-forms", role="client", sub=client_id, json={
        "goals": ["ease shoulder tension"],
        "concerns": "works at a desk",
        "preferences": {"pressure": "medium", "focus_areas": ["shoulders"], "avoid_areas": ["feet"]},
        "health_history": {"conditions": ["mild hypertension"], "medications": []},
    }), 201)  # fmt: skip
    assert form["contraindications"] == ["hypertension"] and form["holds"] == []

    therapist = expect(p.call("POST", "/sessions/therapists", json={
        "display_name": "Sam", "location_id": p.location, "techniques": ["swedish", "deep_tissue"],
    }), 201)  # fmt: skip
    booking = {
        "client_id": client_id, "therapist_id": therapist["id"], "location_id": p.location,
        "starts_at": at(60), "duration_minutes": 60, "technique": "swedish", "areas": ["shoulders", "neck"],
    }  # fmt: skip
    refused = p.call("POST", "/sessions/sessions", role="front_desk", json=booking)
    assert refused.status_code == 409 and refused.json()["type"] == "urn:rapport:problem:consent-required"

    consent = expect(p.call("POST", f"/intake/clients/{client_id}/consents", role="client", sub=client_id, json={
        "scope": {"techniques": ["swedish"], "areas": ["shoulders", "neck", "upper_back"], "excluded_areas": ["feet"]},
        "form_version": "consent-v3", "signature": {"signed_name": "Maya Okafor"},
    }), 201)  # fmt: skip
    session = wait_for(
        lambda: _booked(p.call("POST", "/sessions/sessions", role="front_desk", json=booking)),
        EVENTUAL, "sessions to learn of the consent (consent.granted.v1)",
    )  # fmt: skip
    assert session["status"] == "booked"

    excluded = p.call("POST", "/sessions/sessions", role="front_desk", json={**booking, "starts_at": at(240), "areas": ["feet"]})
    assert excluded.status_code == 409 and excluded.json()["type"] == "urn:rapport:problem:consent-required"

    sid, tid = session["id"], therapist["id"]
    assert expect(p.call("POST", f"/sessions/sessions/{sid}/start", role="therapist", sub=tid), 200)["status"] == "in_progress"
    expect(p.call("POST", f"/sessions/sessions/{sid}/check-ins", role="therapist", sub=tid,
                  json={"comfort": 4, "pressure": "lighter", "note": "asked for lighter pressure"}), 201)  # fmt: skip
    completed = expect(p.call("POST", f"/sessions/sessions/{sid}/complete", role="therapist", sub=tid, json={
        "notes": {"subjective": "tight shoulders", "objective": "trapezius hypertonic",
                  "assessment": "responded well", "plan": "fortnightly"},
        "aftercare": ["drink water", "gentle stretches"],
    }), 200)  # fmt: skip
    assert completed["status"] == "completed"
    seen = expect(p.call("GET", f"/sessions/sessions/{sid}", role="therapist", sub=tid), 200)
    assert len(seen["check_ins"]) == 1

    followup = wait_for(
        lambda: _single(p.call("GET", f"/followup/followups?client_id={client_id}", role="manager"), status="due"),
        EVENTUAL, "the followup to fall due (RAPPORT_FOLLOWUP_DELAY after completion)",
    )  # fmt: skip
    assert followup["session_id"] == sid

    wait_for_mail(p, CLIENT_EMAIL, 5, "welcome, consent receipt, booking, aftercare and check-in request")
    answered = expect(p.call("POST", f"/followup/followups/{followup['id']}/responses", role="client", sub=client_id, json={
        "wellbeing": 2, "pain_before": 5, "pain_after": 6, "soreness": "severe", "adverse_reaction": True,
        "concerns": "bruising on the left shoulder",
    }), 201)  # fmt: skip
    assert answered
    escalated = expect(p.call("GET", f"/followup/followups/{followup['id']}", role="manager"), 200)
    assert escalated["status"] == "escalated"
    wait_for_mail(p, STAFF_EMAIL, 1, "the staff alert for the escalation")

    deliveries = wait_for(
        lambda: _all_sent(p.call("GET", f"/notify/notifications?client_id={client_id}", role="manager"), 5),
        EVENTUAL, "notify to record its deliveries as sent",
    )  # fmt: skip
    templates = {d["template"] for d in deliveries}
    assert {"welcome", "consent_receipt", "booking_confirmation", "aftercare", "checkin_request"} <= templates

    _check_client_mail(p)
    return {"client_id": client_id, "therapist_id": tid, "consent_id": consent["id"], "booking": booking}


def run_withdrawal_flow(p: Platform, ids: dict) -> None:
    """Withdrawing consent cancels upcoming sessions, refuses new ones, and tells the client."""
    booking = {**ids["booking"], "starts_at": at(24 * 60)}
    upcoming = expect(p.call("POST", "/sessions/sessions", role="front_desk", json=booking), 201)
    withdrawn = expect(p.call("POST", f"/intake/consents/{ids['consent_id']}/withdraw", role="client",
                              sub=ids["client_id"], json={"reason": "changed my mind"}), 200)  # fmt: skip
    assert withdrawn["status"] == "withdrawn"

    cancelled = wait_for(
        lambda: _with_status(p.call("GET", f"/sessions/sessions/{upcoming['id']}", role="manager"), "cancelled"),
        EVENTUAL, "the upcoming session to be cancelled by consent.withdrawn.v1",
    )  # fmt: skip
    assert cancelled["status"] == "cancelled"
    refused = p.call("POST", "/sessions/sessions", role="front_desk", json={**booking, "starts_at": at(48 * 60)})
    assert refused.status_code == 409 and refused.json()["type"] == "urn:rapport:problem:consent-required"
    wait_for(
        lambda: {"consent_withdrawn_receipt", "cancellation_notice"}
        <= {d["template"] for d in _items(p.call("GET", f"/notify/notifications?client_id={ids['client_id']}", role="manager")) if d["status"] == "sent"},
        EVENTUAL, "the client to be told of the withdrawal and the cancellation",
    )  # fmt: skip


def _booked(response):
    if response.status_code == 201:
        return response.json()
    assert response.status_code == 409, response.text
    return None


def _items(response) -> list[dict]:
    assert response.status_code == 200, response.text
    return response.json()["items"]


def _single(response, status: str):
    items = _items(response)
    return items[0] if len(items) == 1 and items[0]["status"] == status else None


def _with_status(response, status: str):
    assert response.status_code == 200, response.text
    body = response.json()
    return body if body["status"] == status else None


def _all_sent(response, at_least: int):
    items = [d for d in _items(response) if d["recipient_kind"] == "client"]
    return items if len(items) >= at_least and all(d["status"] == "sent" for d in items) else None


def _check_client_mail(p: Platform) -> None:
    mail = p.mail_to(CLIENT_EMAIL)
    assert mail, "no mail reached the client"
    for message in mail:
        text = message.get_body(preferencelist=("plain",)).get_content()
        for private in ("hypertension", "trapezius", "bruising", "tight shoulders", "at a desk"):
            assert private not in text, f"{message['Subject']!r} leaks {private!r}"
