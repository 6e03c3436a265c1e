"""CPU cost of one ``GET /sessions/sessions/{id}`` in-process (Flask test client, PostgreSQL,
no gunicorn or nginx): less noisy than wrk on a shared machine, for judging per-request work.

    python -m bench.readcost [--profile]
"""
import cProfile
import pstats
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone

import psycopg

from bench.platform import LOCATION, ORG, PG_URL, drop_database
from rapport import services as host
from shared.auth import mint

database = f"rapport_bench_profweb_{uuid.uuid4().hex[:6]}"
with psycopg.connect(PG_URL, autocommit=True) as c:
    c.execute(f'CREATE DATABASE "{database}"')
url = f"{PG_URL.rsplit('/', 1)[0]}/{database}"
try:
    env = {"RAPPORT_VAR_DIR": "var/bench/readcost", "RAPPORT_BROKER_URL": "memory://", "RAPPORT_JWT_SECRET": "s"*40}
    s = host.build("sessions", host.settings_for("sessions", env, database_url=url))
    s.migrate()
    app = host.create_app(s)
    client = app.test_client()
    tok = mint("s"*40, role="manager", org=ORG, locations=[LOCATION], sub="m", ttl_seconds=3600)
    h = {"Authorization": f"Bearer {tok}"}
    t = client.post("/sessions/therapists", headers=h, json={"display_name": "x", "location_id": LOCATION, "techniques": ["swedish"]})
    tid = t.json["id"]
    from sqlalchemy.orm import Session

    from sessions import models
    with Session(s.engine) as db:
        cid = str(uuid.uuid4())
        db.add(models.Consent(consent_id=str(uuid.uuid4()), org_id=ORG, location_id=LOCATION, client_id=cid, status="active", version=1, techniques=["swedish"], areas=["shoulders"], excluded_areas=[], valid_until=None, updated_at=datetime.now(timezone.utc)))
        db.commit()
    b = client.post("/sessions/sessions", headers=h, json={"client_id": cid, "therapist_id": tid, "location_id": LOCATION, "starts_at": (datetime.now(timezone.utc)+timedelta(days=2)).isoformat(), "duration_minutes": 60, "technique": "swedish", "areas": ["shoulders"]})
    sid = b.json["id"]
    path = f"/sessions/sessions/{sid}"
    for _ in range(50): client.get(path, headers=h)
    n = 500
    t0 = time.process_time(); w0 = time.perf_counter()
    for _ in range(n): r = client.get(path, headers=h)
    print("read cpu ms/request", (time.process_time()-t0)*1000/n, "wall", (time.perf_counter()-w0)*1000/n)
    if len(sys.argv) > 1:
        pr = cProfile.Profile(); pr.enable()
        for _ in range(300): client.get(path, headers=h)
        pr.disable()
        pstats.Stats(pr).sort_stats("tottime").print_stats(30)
    s.close()
finally:
    drop_database(database)
