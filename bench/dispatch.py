"""Consumer cost per message, in-process: ``shared.consumer.dispatch`` (parse, validate, inbox,
handler, commit) of session.completed.v1 into followup's and notify's real PostgreSQL schema,
without the broker. CPU time of this process and of its PostgreSQL backend per message is far
less noisy than end-to-end throughput on a shared machine, so consumer changes are judged here.

    python -m bench.dispatch [N]
"""

from __future__ import annotations

import statistics
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import psycopg
from sqlalchemy import text

from bench.memory import cpu_seconds
from bench.platform import LOCATION, ORG, PG_URL, drop_database
from shared.events import Event, to_amqp


def _message(client_id: str) -> tuple[dict, str, bytes]:
    now = datetime.now(timezone.utc)
    event = Event(
        routing_key="session.completed.v1", source="/sessions", subject=str(uuid.uuid4()), org_id=ORG,
        location_id=LOCATION, correlation_id=str(uuid.uuid4()),
        data={"session_id": str(uuid.uuid4()), "client_id": client_id, "therapist_id": str(uuid.uuid4()),
              "completed_at": now.isoformat(), "check_in_count": 1},
    )  # fmt: skip
    message = to_amqp(event)
    return message.headers, message.content_type, message.body


def measure(service_name: str, count: int, work: Path) -> dict:
    from rapport import services as host
    from shared.consumer import dispatch

    database = f"rapport_bench_dispatch_{uuid.uuid4().hex[:8]}_{service_name}"
    with psycopg.connect(PG_URL, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{database}"')
    url = f"{PG_URL.rsplit('/', 1)[0]}/{database}"
    env = {"RAPPORT_VAR_DIR": str(work), "RAPPORT_DATABASE_URL": url, "RAPPORT_BROKER_URL": "memory://"}
    try:
        settings = host.settings_for(service_name, env, database_url=url)
        service = host.build(service_name, settings)
        service.migrate()
        messages = [_message(str(uuid.uuid4())) for _ in range(count + 50)]
        for headers, content_type, body in messages[:50]:  # warm up: pools, caches, plans
            dispatch(service, headers, content_type, body)
        with service.engine.connect() as c:
            backend = c.execute(text("SELECT pg_backend_pid()")).scalar()
        pg_before, cpu_before, wall_before = cpu_seconds(backend), time.process_time(), time.perf_counter()
        walls = []
        for headers, content_type, body in messages[50:]:
            began = time.perf_counter()
            dispatch(service, headers, content_type, body)
            walls.append((time.perf_counter() - began) * 1000)
        elapsed = time.perf_counter() - wall_before
        python_ms = (time.process_time() - cpu_before) * 1000 / count
        pg_ms = (cpu_seconds(backend) - pg_before) * 1000 / count
        service.close()
        return {
            "messages": count, "wall_ms_median": round(statistics.median(walls), 2),
            "python_cpu_ms": round(python_ms, 2), "postgres_cpu_ms": round(pg_ms, 2),
            "messages_per_s": round(count / elapsed, 1),
        }  # fmt: skip
    finally:
        drop_database(database)


def run(count: int, work: Path) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    return {name: measure(name, count, work) for name in ("followup", "notify")}


if __name__ == "__main__":
    import json

    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 500, Path("var/bench/dispatch")), indent=2))
