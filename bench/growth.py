"""Cost as data grows: list endpoints at 10k, 100k and 1M rows per table.

Rows are seeded with ``generate_series`` straight into each service's database, in the
benchmark's organisation spread over 50 locations (one of them the probed one) and two years.
Every probe has the same answer at every scale (a fixed set of "probe" rows), so what changes
is only what the database must walk past to find it:

- sessions by location and day: ``GET /sessions/sessions?location_id=&from=&to=``
- followups due at a location:  ``GET /followup/followups?location_id=&status=due``
- notifications of a client:    ``GET /notify/notifications?client_id=``

Seeded followups are never ``scheduled`` (their due times are past: followup's job would release
them all, and the flood of followup.due events would be what gets measured); the probed location
holds no ``due`` followups but the probe's.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import psycopg
import requests

from bench.platform import LOCATION, ORG
from bench.stats import percentile

PROBE_ROWS = 30
PROBE_CLIENT = "bench-probe-client"
PROBE_DAY = datetime(2026, 3, 10, tzinfo=timezone.utc)

SEED = {
    "sessions": """
        INSERT INTO sessions (id, org_id, location_id, client_id, therapist_id, starts_at, ends_at,
            duration_minutes, technique, areas, status, version, consent_id, booked_by, created_at, updated_at)
        SELECT md5('s' || g || %(salt)s)::uuid::text, %(org)s,
               CASE WHEN g %% 50 = 0 THEN %(loc)s ELSE 'loc-' || (g %% 50) END,
               md5('c' || (g %% 20000))::uuid::text, %(therapist)s,
               t, t + interval '60 minutes', 60, 'swedish', '["shoulders"]'::json,
               (ARRAY['booked','completed','cancelled'])[(1 + g %% 3)::int], 1, md5('k' || g)::uuid::text, 'bench',
               t - interval '7 days', t - interval '7 days'
        FROM (SELECT g, timestamptz '2025-01-01' + (g * 7919 %% 1051200) * interval '1 minute'
                        + CASE WHEN g %% 50 = 0 AND (g * 7919 %% 1051200) / 1440 = 433 THEN interval '1 day'
                               ELSE interval '0' END AS t
              FROM generate_series(%(start)s::bigint, %(stop)s::bigint) AS g) AS rows
    """,
    "followups": """
        INSERT INTO followups (id, org_id, location_id, session_id, client_id, therapist_id,
            session_completed_at, due_at, status, version, escalation_reasons, created_at, updated_at)
        SELECT md5('f' || g || %(salt)s)::uuid::text, %(org)s,
               CASE WHEN g %% 50 = 0 THEN %(loc)s ELSE 'loc-' || (g %% 50) END,
               md5('s' || g || %(salt)s), md5('c' || (g %% 20000)), 'bench-therapist',
               t, t + interval '1 day',
               CASE WHEN g %% 50 = 0 THEN (ARRAY['responded','cancelled','escalated'])[(1 + g / 50 %% 3)::int]
                    ELSE (ARRAY['due','responded','cancelled','escalated'])[(1 + g %% 4)::int] END,
               1, '[]'::json, t, t
        FROM (SELECT g, timestamptz '2025-01-01' + (g * 7919 %% 1051200) * interval '1 minute' AS t
              FROM generate_series(%(start)s::bigint, %(stop)s::bigint) AS g) AS rows
    """,
    "deliveries": """
        INSERT INTO deliveries (id, event_id, org_id, location_id, client_id, template, channel,
            recipient_kind, payload, status, attempts, not_before, created_at, sent_at)
        SELECT md5('d' || g || %(salt)s)::uuid::text, md5('e' || g || %(salt)s)::uuid::text, %(org)s,
               CASE WHEN g %% 50 = 0 THEN %(loc)s ELSE 'loc-' || (g %% 50) END,
               md5('c' || (g %% 20000))::uuid::text, 'aftercare', 'email', 'client', '{}'::json,
               'sent', 1, t, t, t
        FROM (SELECT g, timestamptz '2025-01-01' + (g * 7919 %% 1051200) * interval '1 minute' AS t
              FROM generate_series(%(start)s::bigint, %(stop)s::bigint) AS g) AS rows
    """,
}
DATABASE = {"sessions": "sessions", "followups": "followup", "deliveries": "notify"}


def _therapist(platform) -> str:
    with psycopg.connect(platform.db_url("sessions"), autocommit=True) as c:
        c.execute(
            "INSERT INTO therapists (id, org_id, location_id, display_name, techniques, active, created_at) "
            "VALUES ('00000000-0000-4000-8000-00000000be4c', %s, %s, 'Seed', '[\"swedish\"]', true, now()) "
            "ON CONFLICT DO NOTHING", (ORG, LOCATION),
        )  # fmt: skip
    return "00000000-0000-4000-8000-00000000be4c"


def seed_probes(platform, therapist: str) -> None:
    """The fixed answers: 30 sessions on the probe day, 30 due followups, 30 deliveries."""
    day = PROBE_DAY
    with psycopg.connect(platform.db_url("sessions"), autocommit=True) as c:
        c.execute("""
            INSERT INTO sessions (id, org_id, location_id, client_id, therapist_id, starts_at, ends_at,
                duration_minutes, technique, areas, status, version, consent_id, booked_by, created_at, updated_at)
            SELECT md5('probe' || g)::uuid::text, %s, %s, md5('c' || g)::uuid::text, %s,
                   %s + g * interval '20 minutes', %s + g * interval '20 minutes' + interval '60 minutes',
                   60, 'swedish', '["shoulders"]'::json, 'booked', 1, md5('pk' || g)::uuid::text, 'bench', now(), now()
            FROM generate_series(1, %s) AS g""", (ORG, LOCATION, therapist, day, day, PROBE_ROWS))  # fmt: skip
    with psycopg.connect(platform.db_url("followup"), autocommit=True) as c:
        c.execute("""
            INSERT INTO followups (id, org_id, location_id, session_id, client_id, therapist_id,
                session_completed_at, due_at, status, version, escalation_reasons, created_at, updated_at)
            SELECT md5('probe' || g)::uuid::text, %s, %s, 'probe-' || g, md5('c' || g), 'bench-therapist',
                   now() - interval '2 days', now() - g * interval '1 minute', 'due', 1, '[]'::json, now(), now()
            FROM generate_series(1, %s) AS g""", (ORG, LOCATION, PROBE_ROWS))  # fmt: skip
    with psycopg.connect(platform.db_url("notify"), autocommit=True) as c:
        c.execute("""
            INSERT INTO deliveries (id, event_id, org_id, location_id, client_id, template, channel,
                recipient_kind, payload, status, attempts, not_before, created_at, sent_at)
            SELECT md5('probe' || g)::uuid::text, md5('pe' || g)::uuid::text, %s, %s, %s, 'aftercare', 'email',
                   'client', '{}'::json, 'sent', 1, now(), now() - g * interval '1 hour', now()
            FROM generate_series(1, %s) AS g""", (ORG, LOCATION, PROBE_CLIENT, PROBE_ROWS))  # fmt: skip


def grow(platform, therapist: str, start: int, stop: int) -> float:
    """Rows ``start..stop`` into each table; returns the seconds it took."""
    began = time.monotonic()
    for table, sql in SEED.items():
        with psycopg.connect(platform.db_url(DATABASE[table]), autocommit=True) as c:
            c.execute(sql, {"salt": "x", "org": ORG, "loc": LOCATION, "therapist": therapist,
                            "start": start, "stop": stop})  # fmt: skip
            c.execute(f"VACUUM ANALYZE {table}")
    return time.monotonic() - began


def probes(platform) -> dict[str, tuple[str, str, str]]:
    """name -> (service, HTTP path, the SQL the service runs for it, for EXPLAIN)."""
    day, next_day = PROBE_DAY, PROBE_DAY + timedelta(days=1)
    q = lambda d: d.isoformat().replace("+00:00", "Z")  # noqa: E731
    return {
        "sessions by location and day": (
            "sessions",
            f"/sessions/sessions?location_id={LOCATION}&from={q(day)}&to={q(next_day)}",
            f"SELECT * FROM sessions WHERE org_id = '{ORG}' AND location_id IN ('{LOCATION}') "
            f"AND location_id = '{LOCATION}' AND starts_at >= '{day.isoformat()}' AND starts_at < '{next_day.isoformat()}' "
            "ORDER BY starts_at DESC, id DESC LIMIT 51",
        ),
        "followups due at a location": (
            "followup",
            f"/followup/followups?location_id={LOCATION}&status=due",
            f"SELECT * FROM followups WHERE org_id = '{ORG}' AND location_id IN ('{LOCATION}') "
            f"AND location_id = '{LOCATION}' AND status = 'due' ORDER BY due_at DESC, id DESC LIMIT 51",
        ),
        "notifications of a client": (
            "notify",
            f"/notify/notifications?client_id={PROBE_CLIENT}",
            f"SELECT * FROM deliveries WHERE org_id = '{ORG}' AND location_id IN ('{LOCATION}') "
            f"AND client_id = '{PROBE_CLIENT}' ORDER BY created_at DESC, id DESC LIMIT 51",
        ),
    }


def measure(platform, requests_per_probe: int) -> dict[str, dict]:
    http = requests.Session()
    headers = {"Authorization": f"Bearer {platform.token('manager')}"}
    found = {}
    for name, (_service, path, _sql) in probes(platform).items():
        url = platform.base_url + path
        first = http.get(url, headers=headers, timeout=30)
        if first.status_code != 200:
            raise RuntimeError(f"{path}: {first.status_code} {first.text}")
        items = len(first.json()["items"])
        timings = []
        for _ in range(requests_per_probe):
            began = time.perf_counter()
            response = http.get(url, headers=headers, timeout=30)
            timings.append((time.perf_counter() - began) * 1000)
            response.raise_for_status()
        found[name] = {"items": items, "p50_ms": percentile(timings, 50), "p99_ms": percentile(timings, 99)}
    return found


def explain(platform, repeats: int = 5) -> tuple[dict[str, str], dict[str, float]]:
    """Each probe's plan, and the median execution time PostgreSQL reports for it (ms)."""
    plans, executions = {}, {}
    for name, (service, _path, sql) in probes(platform).items():
        times = []
        with psycopg.connect(platform.db_url(service), autocommit=True) as c:
            for _ in range(repeats):
                rows = c.execute(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) {sql}").fetchall()
                plan = "\n".join(r[0] for r in rows)
                times.append(float(plan.rsplit("Execution Time:", 1)[1].split()[0]))
        plans[name], executions[name] = plan, round(sorted(times)[len(times) // 2], 3)
    return plans, executions


def run(platform, scales: list[int], requests_per_probe: int, budget=None) -> dict:
    therapist = _therapist(platform)
    seed_probes(platform, therapist)
    results: dict = {"scales": scales, "by_scale": {}, "seed_seconds": {}}
    have = 0
    done = []
    per_row = 0.0
    for scale in scales:
        # Seeding costs about the same per row at every step: skip a step that cannot finish.
        if budget is not None and per_row and per_row * (scale - have) + 30 > budget():
            results["skipped"] = f"{scale:,} rows: seeding would not finish within the time budget"
            break
        began = time.monotonic()
        results["seed_seconds"][scale] = round(grow(platform, therapist, have + 1, scale), 1)
        per_row = (time.monotonic() - began) / (scale - have)
        have = scale
        done.append(scale)
        time.sleep(2)  # let the seeding's checkpoint and autovacuum settle
        results["by_scale"][scale] = measure(platform, requests_per_probe)
        plans, executions = explain(platform)
        for name, ms in executions.items():
            results["by_scale"][scale][name]["db_ms"] = ms
    results["plans"] = plans
    results["scales"] = done
    return results
