"""Whole client journeys per second through a platform's gateway (embedded or `make up`).

One journey: register the client, their intake form, their consent, book (retried until
sessions has learnt of the consent from consent.granted.v1), start, check in, complete, and
wait until notify has recorded the aftercare message (session.completed.v1). ``concurrency``
threads run journeys back to back for ``duration`` seconds, each with its own therapist.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import requests

from bench.platform import LOCATION
from bench.stats import percentile


def _at(minutes: int) -> str:
    return (datetime.now(timezone.utc) + timedelta(minutes=minutes)).replace(microsecond=0).isoformat()


class Journeys:
    def __init__(self, platform, timeout: float = 30.0) -> None:
        self.p = platform
        self.timeout = timeout
        self.http = threading.local()

    def _call(self, method: str, path: str, role: str, sub: str | None = None, **kwargs):
        if not hasattr(self.http, "session"):
            self.http.session = requests.Session()
        headers = {"Authorization": f"Bearer {self.p.token(role, sub)}"}
        return self.http.session.request(method, self.p.base_url + path, headers=headers, timeout=30, **kwargs)

    def _ok(self, response, status: int) -> dict:
        if response.status_code != status:
            raise RuntimeError(f"{response.request.method} {response.request.url}: {response.status_code} {response.text[:300]}")
        return response.json()

    def therapist(self) -> str:
        return self._ok(self._call("POST", "/sessions/therapists", "manager", json={
            "display_name": "Bench", "location_id": LOCATION, "techniques": ["swedish"]}), 201)["id"]

    def one(self, therapist_id: str, slot: int) -> None:
        client = self._ok(self._call("POST", "/intake/clients", "front_desk", json={
            "first_name": "Bench", "last_name": "Client", "email": f"{uuid.uuid4().hex[:12]}@example.com",
            "location_id": LOCATION, "preferred_channel": "email"}), 201)["id"]  # fmt: skip
        self._ok(self._call("POST", f"/intake/clients/{client}/intake-forms", "client", client, json={
            "goals": ["relax"], "concerns": "none", "preferences": {"pressure": "medium", "focus_areas": ["shoulders"],
            "avoid_areas": []}, "health_history": {"conditions": [], "medications": []}}), 201)  # fmt: skip
        self._ok(self._call("POST", f"/intake/clients/{client}/consents", "client", client, json={
            "scope": {"techniques": ["swedish"], "areas": ["shoulders", "neck"], "excluded_areas": []},
            "form_version": "consent-v3", "signature": {"signed_name": "Bench Client"}}), 201)  # fmt: skip
        booking = {"client_id": client, "therapist_id": therapist_id, "location_id": LOCATION,
                   "starts_at": _at(60 + slot * 90), "duration_minutes": 60, "technique": "swedish",
                   "areas": ["shoulders"]}  # fmt: skip
        deadline = time.monotonic() + self.timeout
        while True:
            response = self._call("POST", "/sessions/sessions", "front_desk", json=booking)
            if response.status_code == 201:
                session_id = response.json()["id"]
                break
            if response.status_code != 409 or time.monotonic() > deadline:
                self._ok(response, 201)
            time.sleep(0.02)
        self._ok(self._call("POST", f"/sessions/sessions/{session_id}/start", "therapist", therapist_id), 200)
        self._ok(self._call("POST", f"/sessions/sessions/{session_id}/check-ins", "therapist", therapist_id,
                            json={"comfort": 4, "pressure": "ok"}), 201)  # fmt: skip
        self._ok(self._call("POST", f"/sessions/sessions/{session_id}/complete", "therapist", therapist_id,
                            json={"notes": {"subjective": "s", "objective": "o", "assessment": "a", "plan": "p"},
                                  "aftercare": ["water"]}), 200)  # fmt: skip
        while True:
            items = self._ok(self._call("GET", f"/notify/notifications?client_id={client}", "manager"), 200)["items"]
            if any(d["template"] == "aftercare" for d in items):
                return
            if time.monotonic() > deadline:
                raise RuntimeError("aftercare never recorded")
            time.sleep(0.02)


def run(platform, *, concurrency: int, duration: float) -> dict:
    journeys = Journeys(platform)
    therapists = [journeys.therapist() for _ in range(concurrency)]
    times: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + duration

    def worker(index: int) -> None:
        slot = 0
        while time.monotonic() < stop_at:
            began = time.monotonic()
            try:
                journeys.one(therapists[index], slot)
                with lock:
                    times.append(time.monotonic() - began)
            except Exception as error:  # a failed journey is counted, not fatal
                with lock:
                    errors.append(str(error)[:200])
            slot += 1

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    return {
        "concurrency": concurrency, "seconds": round(elapsed, 1), "journeys": len(times), "errors": len(errors),
        "first_error": errors[0] if errors else None, "journeys_per_s": round(len(times) / elapsed, 2),
        "p50_s": percentile(times, 50), "p99_s": percentile(times, 99),
    }  # fmt: skip
