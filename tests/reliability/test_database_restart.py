"""The database restarted under load: intake's web app (`rapport serve intake web`, gunicorn) on a
dedicated PostgreSQL cluster that the test kills (SIGKILL of every PostgreSQL process: crash
recovery on restart), stops fast, or keeps answering while a table is locked (as by a
migration or a stuck transaction), while clients keep registering clients.

During the outage every request gets a quick 503 problem+json with Retry-After (no hang, no
500); the service recovers by itself once the database is back; every 201 it answered is still
in the database afterwards.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass

import psycopg
import pytest
import requests
from sqlalchemy import select

from intake.models import Client
from tests.conftest import token_for
from tests.reliability.harness import RapportProcess, eventually
from tests.support import servers
from tests.support.pg_cluster import PgCluster, postgres_bin
from tests.support.platforms import free_port

OUTAGE = 1.5  # seconds the database stays down each time
LOCK_HELD = 4.0  # seconds the clients table stays locked: longer than any answer may take
UNAVAILABLE_BOUND = 3.0  # seconds within which any request is answered, outage or not
RECOVERY_BOUND = 5.0  # seconds from the database accepting connections to the next 201


@dataclass
class Answer:
    started: float
    ended: float
    status: int
    content_type: str
    retry_after: str | None
    client_id: str | None


@pytest.fixture
def cluster():
    if postgres_bin() is None:
        servers.unavailable("PostgreSQL server binaries", "none under /usr/lib/postgresql/*/bin")
    with PgCluster() as cluster:
        cluster.start()
        yield cluster


def _register(http: requests.Session, url: str, headers: dict, answers: list[Answer], stop: threading.Event) -> None:
    while not stop.is_set():
        body = {
            "first_name": "Ada", "last_name": "Lovelace", "email": f"{uuid.uuid4().hex[:12]}@example.com",
            "phone": "+1 555 0100", "location_id": "loc-a", "preferred_channel": "email",
        }  # fmt: skip
        started = time.monotonic()
        try:
            response = http.post(url, json=body, headers=headers, timeout=15)
            answers.append(
                Answer(
                    started, time.monotonic(), response.status_code, response.headers.get("Content-Type", ""),
                    response.headers.get("Retry-After"),
                    response.json().get("id") if response.status_code == 201 else None,
                )
            )  # fmt: skip
        except (requests.RequestException, ValueError) as error:  # counted as neither 201 nor 503
            answers.append(Answer(started, time.monotonic(), 0, type(error).__name__, None, None))
            continue
        if response.status_code != 201:
            stop.wait(0.05)


def test_requests_during_a_database_outage_get_a_quick_503_and_nothing_committed_is_lost(
    cluster, build_service, tmp_path, profile, record_fault
):
    intake = build_service("intake", database_url=cluster.create_database("intake"), broker_url="memory://")
    port = free_port()
    url = f"http://127.0.0.1:{port}/intake/clients"
    headers = token_for(intake, "front_desk")
    faults = ["crash", "stop-fast", "lock"] * profile.pick(1, 2)
    answers: list[Answer] = []
    restarted_at: list[float] = []
    windows: list[tuple[float, float]] = []
    stop = threading.Event()
    bind = f"--bind=127.0.0.1:{port}"
    with RapportProcess(intake, "web", tmp_path, bind, RAPPORT_WEB_THREADS="4", RAPPORT_WEB_WORKERS="1") as web:
        eventually(lambda: _answers(f"http://127.0.0.1:{port}/intake/healthz"), 30, "gunicorn to listen")
        clients = [requests.Session() for _ in range(3)]
        threads = [threading.Thread(target=_register, args=(c, url, headers, answers, stop), daemon=True) for c in clients]
        for thread in threads:
            thread.start()
        try:
            eventually(lambda: any(a.status == 201 for a in list(answers)), 20, "the first client registered")
            for fault in faults:
                time.sleep(0.5)
                began = time.monotonic()
                _inject(cluster, fault)
                restarted_at.append(time.monotonic())
                windows.append((began, restarted_at[-1]))
                eventually(lambda: any(a.status == 201 and a.started > restarted_at[-1] for a in list(answers)),
                           RECOVERY_BOUND + 10, "the service to recover")  # fmt: skip
            time.sleep(0.5)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=20)
        assert web.process.poll() is None, web.tail()

    with intake.sessions() as session:
        stored = set(session.execute(select(Client.id)).scalars())
    committed = [a.client_id for a in answers if a.status == 201]
    lost = [c for c in committed if c not in stored]
    unavailable = [a for a in answers if a.status == 503]
    other = [a for a in answers if a.status not in (201, 503)]
    slowest = max(a.ended - a.started for a in answers)
    recoveries = [
        min(a.ended for a in answers if a.status == 201 and a.started > at) - at for at in restarted_at
    ]
    during = [[a for a in answers if a.started < ended and a.ended > began] for began, ended in windows]
    missed = [
        (fault, sorted((round(a.started - w[0], 2), round(a.ended - a.started, 2), a.status) for a in seen))
        for fault, w, seen in zip(faults, windows, during) if not any(a.status == 503 for a in seen)
    ]  # fmt: skip

    assert lost == [], f"{len(lost)} clients answered 201 are gone"
    assert other == [], f"answers other than 201/503: {[(a.status, a.content_type) for a in other[:5]]}"
    assert missed == [], f"outages that no request met with a 503: {missed}"
    assert all(a.content_type.startswith("application/problem+json") and a.retry_after for a in unavailable)
    assert slowest < UNAVAILABLE_BOUND, f"a request took {slowest:.2f}s"
    assert max(recoveries) < RECOVERY_BOUND, f"recovery took {recoveries}"
    record_fault(
        "database-restart",
        fault="the service's PostgreSQL killed (SIGKILL, crash recovery), stopped fast, or a table locked, under load",
        injected=f"dedicated cluster; {OUTAGE}s outages, {LOCK_HELD}s table locks; 3 clients POSTing continuously to `rapport serve intake web`",
        times=len(faults),
        requests=len(answers),
        committed_2xx=len(committed),
        answered_503=len(unavailable),
        other_status=len(other),
        lost=len(lost),
        slowest_answer_s=round(slowest, 2),
        slowest_503_s=round(max((a.ended - a.started for a in unavailable), default=0.0), 2),
        recovery_after_restart_max_s=round(max(recoveries), 2),
    )


def _inject(cluster: PgCluster, fault: str) -> None:
    if fault == "lock":
        with psycopg.connect(cluster.url("intake"), connect_timeout=5) as connection:
            connection.execute(f"LOCK TABLE {Client.__table__.name} IN ACCESS EXCLUSIVE MODE")
            time.sleep(LOCK_HELD)
            connection.rollback()
        return
    cluster.crash() if fault == "crash" else cluster.stop_fast()
    time.sleep(OUTAGE)
    cluster.start()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False
