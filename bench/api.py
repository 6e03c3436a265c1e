"""The API through the nginx gateway, loaded by wrk from a separate process.

- booking: ``POST /sessions/sessions`` (auth, validation, consent check, therapist lock,
  insert, outbox), with a unique bookable body per request;
- reading: ``GET /sessions/sessions/{id}``;
- baseline: a bare Flask JSON app (bench/baseline_app.py) on the same gunicorn settings behind
  an nginx with the same configuration, POST and GET alike.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from bench import memory
from bench.platform import LOCATION, ORG, PG_URL
from shared.db import normalise_url
from tests.support.platforms import free_port

LUA = Path(__file__).resolve().parent / "lua"


def seed_booking_data(platform, therapists: int, clients: int) -> tuple[list[str], list[str]]:
    """Therapists at the benchmark's location and clients whose consent sessions already knows."""
    from sessions import models

    engine = create_engine(normalise_url(platform.db_url("sessions")))
    now = datetime.now(timezone.utc)
    therapist_ids = [str(uuid.uuid4()) for _ in range(therapists)]
    client_ids = [str(uuid.uuid4()) for _ in range(clients)]
    with Session(engine) as session:
        for tid in therapist_ids:
            session.add(models.Therapist(
                id=tid, org_id=ORG, location_id=LOCATION, display_name="Bench", techniques=["swedish"],
                active=True, created_at=now,
            ))  # fmt: skip
        for cid in client_ids:
            session.add(models.Consent(
                consent_id=str(uuid.uuid4()), org_id=ORG, location_id=LOCATION, client_id=cid, status="active",
                version=1, techniques=["swedish"], areas=["shoulders", "neck", "upper_back"],
                excluded_areas=[], valid_until=None, updated_at=now,
            ))  # fmt: skip
        session.commit()
    engine.dispose()
    return therapist_ids, client_ids


def wrk(url: str, script: str, env: dict, *, threads: int, connections: int, duration: int) -> dict:
    done = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", "-s", str(LUA / script), url],
        env={**os.environ, **env, "BENCH_THREADS": str(threads)}, capture_output=True, text=True,
        timeout=duration + 60,
    )  # fmt: skip
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            raw = json.loads(line.split(" ", 1)[1])
            seconds = raw["duration_us"] / 1e6
            ok = raw["requests"] - raw["non2xx"]
            return {
                "requests": raw["requests"], "non2xx": raw["non2xx"], "socket_errors": raw["socket_errors"],
                "rps": round(ok / seconds, 1), "p50_ms": round(raw["p50_us"] / 1000, 1),
                "p99_ms": round(raw["p99_us"] / 1000, 1),
            }  # fmt: skip
    raise RuntimeError(f"wrk gave no result: {done.stdout}\n{done.stderr}")


class Baseline:
    """bench.baseline_app under gunicorn (rapport.gunicorn_conf) behind its own nginx, rendered
    by the same code and template `rapport up` uses."""

    def __init__(self, root: Path, workers: int, threads: int) -> None:
        self.root, self.workers, self.threads = root, workers, threads
        self.app_port = free_port()
        self.gateway_port = free_port()
        self.processes: list[subprocess.Popen] = []
        self.base_url = f"http://127.0.0.1:{self.gateway_port}"

    def __enter__(self) -> "Baseline":
        from rapport import local

        self.root.mkdir(parents=True, exist_ok=True)
        layout = local.Layout(
            var=self.root.resolve(), pg_url=PG_URL, broker_url="", db_prefix="", gateway_port=self.gateway_port,
            port_base=self.app_port - 1,  # sessions is the second service: its upstream is the app
        )  # fmt: skip
        config = local.write_gateway_config(layout)
        log = open(self.root / "baseline.log", "ab")
        env = {**os.environ, "RAPPORT_LOG_LEVEL": "WARNING"}
        self.processes.append(subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "python:rapport.gunicorn_conf",
             "--bind", f"127.0.0.1:{self.app_port}", "--workers", str(self.workers), "--threads", str(self.threads),
             "bench.baseline_app:create_app()"],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=Path(__file__).resolve().parent.parent,
        ))  # fmt: skip
        self.processes.append(subprocess.Popen(
            [local._nginx_binary(), "-p", str(layout.gateway_dir), "-c", str(config), "-g", "daemon off;"],
            stdout=log, stderr=subprocess.STDOUT,
        ))  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.base_url}/sessions/readyz", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.__exit__()
        raise RuntimeError("baseline app did not come up")

    def __exit__(self, *_exc) -> None:
        for process in reversed(self.processes):
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def _with_cpu(platform, run_wrk) -> dict:
    """A wrk run, plus the CPU each of the platform's processes spent per answered request while
    it ran (the work a request sets going downstream included, as far as it happened in time)."""
    before = memory.cpu_by_role(platform)
    result = run_wrk()
    used = memory.cpu_used(before, memory.cpu_by_role(platform))
    answered = max(1, result["requests"] - result["non2xx"])
    result["cpu_ms_per_request"] = {
        role: round(seconds * 1000 / answered, 2) for role, seconds in sorted(used.items()) if seconds > 0
    }
    return result


def run(platform, root: Path, *, duration: int, connections: int, threads: int = 2) -> dict:
    web_workers = int(platform.env.get("RAPPORT_WEB_WORKERS", "2"))
    web_threads = int(platform.env.get("RAPPORT_WEB_THREADS", "4"))
    therapist_ids, client_ids = seed_booking_data(platform, therapists=threads * 16, clients=200)
    token = platform.token("front_desk", sub="bench-desk")
    base_epoch = int((datetime.now(timezone.utc) + timedelta(days=1)).timestamp())
    book_env = {
        "BENCH_TOKEN": token, "BENCH_LOCATION": LOCATION, "BENCH_THERAPISTS": ",".join(therapist_ids),
        "BENCH_CLIENTS": ",".join(client_ids), "BENCH_BASE_EPOCH": str(base_epoch),
    }  # fmt: skip
    # One booked session to read; checked by hand so a broken setup fails loudly.
    first = requests.post(
        f"{platform.base_url}/sessions/sessions", headers={"Authorization": f"Bearer {token}"}, timeout=10,
        json={"client_id": client_ids[0], "therapist_id": therapist_ids[0], "location_id": LOCATION,
              "starts_at": (datetime.now(timezone.utc) + timedelta(days=400)).isoformat(),
              "duration_minutes": 60, "technique": "swedish", "areas": ["shoulders"]},
    )  # fmt: skip
    if first.status_code != 201:
        raise RuntimeError(f"booking setup failed: {first.status_code} {first.text}")
    session_id = first.json()["id"]
    load = dict(threads=threads, connections=connections, duration=duration)
    results = {
        "read": _with_cpu(platform, lambda: wrk(platform.base_url, "read.lua", {
            "BENCH_TOKEN": platform.token("manager"), "BENCH_PATH": f"/sessions/sessions/{session_id}"}, **load)),
        "book": _with_cpu(platform, lambda: wrk(platform.base_url, "book.lua", book_env, **load)),
    }  # fmt: skip
    with Baseline(root / "baseline", web_workers, web_threads) as baseline:
        results["baseline_read"] = wrk(
            baseline.base_url, "read.lua", {"BENCH_TOKEN": "", "BENCH_PATH": f"/sessions/baseline/{session_id}"}, **load
        )
        results["baseline_post"] = wrk(
            baseline.base_url, "book.lua", {**book_env, "BENCH_PATH": "/sessions/baseline"}, **load
        )
    results["settings"] = {
        "wrk_threads": threads, "connections": connections, "duration_s": duration,
        "web_workers": web_workers, "web_threads": web_threads,
    }  # fmt: skip
    return results
