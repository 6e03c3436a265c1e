"""Crashes at every point of the outbox and the inbox, injected for real.

sessions' relay and followup's consumer run as `rapport serve` subprocesses on the test's own
PostgreSQL databases and vhost. A failpoint (``shared.failpoints``) makes the process exit at
once (``os._exit(137)``, as a SIGKILL would) right after the outbox claim, right after the
broker confirmed a batch, or right after a handler committed its effect and inbox row; and a
plain SIGKILL lands wherever a consumer happens to be mid-stream. Another relay (the sweeper)
or consumer takes over. Every session must end with exactly one followup, one inbox row and
one ``followup.scheduled`` event: nothing lost, nothing done twice.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from followup.models import Followup
from rapport.services import declare_all
from sessions.models import Outbox as SessionsOutbox
from shared.broker import make_publisher
from shared.failpoints import EXIT_CODE
from shared.outbox import PENDING, PUBLISHED
from shared.relay import OutboxRelay
from tests.reliability.harness import (
    Broker,
    RapportProcess,
    count,
    eventually,
    one_followup_each,
    session_completed,
)

LEASE = 1.0  # RAPPORT_OUTBOX_LEASE for these tests: rows are retaken once it runs out, not before
SWEEP_BOUND = 0.5  # from the lease running out to the rows republished (the relay polls every 0.05 s)
POLL = 0.05
BATCH = 5


@pytest.fixture
def pipeline(build_service, make_database, amqp_url, tmp_path):
    """sessions (producer) and followup (consumer), each on its own database, one vhost."""
    sessions = build_service("sessions", database_url=make_database(), broker_url=amqp_url, outbox_lease=LEASE)
    followup = build_service("followup", database_url=make_database(), broker_url=amqp_url)
    declare_all({"followup": followup})
    broker = Broker(followup)
    logs = tmp_path / "logs"
    logs.mkdir()
    yield sessions, followup, broker, logs
    broker.close()


def _completed_in_outbox(sessions, n: int) -> list[str]:
    """Commit ``n`` session.completed events through sessions' outbox, as a request would."""
    with sessions.unit_of_work() as uow:
        events = [session_completed() for _ in range(n)]
        for event in events:
            uow.emit(
                event.routing_key, subject=event.subject, org_id=event.org_id,
                location_id=event.location_id, data=event.data,
            )  # fmt: skip
    return [e.data["session_id"] for e in events]


RELAY_POINTS = ("relay.before_publish", "relay.after_publish")


@dataclass
class RelayCrashes:
    """What the crashes at one relay failpoint showed."""

    sweeps: list[float] = field(default_factory=list)  # lease expiry -> republished
    crash_to_publish: list[float] = field(default_factory=list)
    early: list[float] = field(default_factory=list)  # republished minus lease expiry; never < 0
    copies: list[int] = field(default_factory=list)  # copies of each event the broker routed


def test_a_relay_killed_around_its_publish_loses_nothing_and_the_sweeper_republishes_within_the_lease(
    pipeline, profile, record_fault
):
    sessions, followup, broker, logs = pipeline
    repetitions = profile.pick(3, 8)
    tap = broker.tap("session.completed.v1")
    everything: list[str] = []
    seen = {point: RelayCrashes() for point in RELAY_POINTS}
    survivor = OutboxRelay(sessions, make_publisher(sessions.settings))
    with RapportProcess(followup, "consumer", logs) as consumer:
        for point in RELAY_POINTS * repetitions:
            batch = _completed_in_outbox(sessions, BATCH)
            everything += batch
            crashing = RapportProcess(sessions, "relay", logs, RAPPORT_FAILPOINT=point)
            code = crashing.wait_exit(timeout=30)
            assert code == EXIT_CODE, f"the relay did not crash at {point}:\n{crashing.tail()}"
            crashing.stop()
            crashed_at = time.time()
            with sessions.sessions() as session:
                stuck = session.execute(select(SessionsOutbox).where(SessionsOutbox.status == PENDING)).scalars().all()
            assert len(stuck) == BATCH and all(r.claimed_until is not None for r in stuck), "rows left in flight"
            lease_ends = min(r.claimed_until for r in stuck).timestamp()
            if time.time() < lease_ends - 0.1:
                assert survivor.run_once() == 0, "rows leased to the dead relay were taken before the lease ran out"

            # The sweeper: a relay that was running all along (here in the test process, polling
            # as `rapport serve sessions relay` does) retakes the rows once their lease runs out.
            republished_at = _sweep(survivor, sessions, len(everything), timeout=LEASE + 20)
            with sessions.sessions() as session:
                published = session.execute(
                    select(SessionsOutbox.published_at).where(SessionsOutbox.id.in_([r.id for r in stuck]))
                ).scalars().all()  # fmt: skip
            seen[point].sweeps.append(max(p.timestamp() for p in published) - lease_ends)
            seen[point].crash_to_publish.append(republished_at - crashed_at)
            seen[point].early.append(min(p.timestamp() for p in published) - lease_ends)
            copies = Counter(m.properties.get("message_id") for m in broker.drain(tap))
            assert set(copies) == set(_outbox_ids(sessions, batch)), "every event reached the broker"
            seen[point].copies += copies.values()
        eventually(lambda: count(followup, Followup) >= len(everything), 30, "followup to handle every event")
        time.sleep(0.5)  # let any last duplicate arrive before counting
        assert consumer.process.poll() is None, consumer.tail()
    survivor.publisher.close()

    figures = one_followup_each(followup, everything)
    for point, crashes in seen.items():
        assert min(crashes.early) >= -0.05, f"{point}: republished before the lease ran out: {crashes.early}"
        assert max(crashes.sweeps) <= SWEEP_BOUND, f"{point}: republished too late after the lease: {crashes.sweeps}"
        expected_copies = 2 if point == "relay.after_publish" else 1
        assert set(crashes.copies) == {expected_copies}, f"{point}: the crash did not happen where it says"
        record_fault(
            f"crash-{point.replace('.', '-').replace('_', '-')}",
            fault=f"relay process killed at `{point}`",
            injected="`RAPPORT_FAILPOINT` → `os._exit(137)` in `rapport serve sessions relay`; another relay sweeps",
            times=repetitions,
            events=repetitions * BATCH,
            copies_published_per_event=expected_copies,
            lease_s=LEASE,
            crash_to_republished_max_s=round(max(crashes.crash_to_publish), 2),
            republished_after_lease_expiry_max_s=round(max(crashes.sweeps), 2),
            **figures,
        )


def _sweep(relay: OutboxRelay, sessions, published: int, timeout: float) -> float:
    """Run the relay loop until ``published`` rows are marked; returns when that happened."""
    deadline = time.monotonic() + timeout
    while count(sessions, SessionsOutbox, SessionsOutbox.status == PUBLISHED) < published:
        assert time.monotonic() < deadline, "the sweeper did not republish the rows left in flight"
        if not relay.run_once():
            time.sleep(POLL)
    return time.time()


def _outbox_ids(sessions, session_ids: list[str]) -> set[str]:
    with sessions.sessions() as session:
        rows = session.execute(select(SessionsOutbox.id, SessionsOutbox.headers)).all()
    wanted = set(session_ids)
    return {id_ for id_, headers in rows if json.loads(headers).get("ce-subject") in wanted}


def test_a_consumer_killed_after_commit_before_ack_changes_nothing_twice(pipeline, profile, record_fault):
    sessions, followup, broker, logs = pipeline
    repetitions = profile.pick(3, 20)
    everything: list[str] = []
    with RapportProcess(followup, "consumer", logs) as survivor:
        eventually(lambda: broker.queue("rapport.followup")[1] == 1, 20, "the surviving consumer")
        for _ in range(repetitions):
            crashing = RapportProcess(followup, "consumer", logs, RAPPORT_FAILPOINT="consumer.after_commit")
            eventually(lambda: broker.queue("rapport.followup")[1] == 2, 20, "the crashing consumer to subscribe")
            events = [session_completed() for _ in range(BATCH * 2)]
            for event in events:
                broker.publish_event(event)
            everything += [e.data["session_id"] for e in events]
            assert crashing.wait_exit(timeout=30) == EXIT_CODE, crashing.tail()
            crashing.stop()
            eventually(lambda: count(followup, Followup) == len(everything), 30, "the survivor to take over")
            assert survivor.process.poll() is None, survivor.tail()
        eventually(lambda: broker.queue("rapport.followup") == (0, 1), 20, "the queue to drain")
        time.sleep(0.3)

    figures = one_followup_each(followup, everything)
    record_fault(
        "crash-consumer-after-commit",
        fault="consumer process killed at `consumer.after_commit` (effect and inbox row committed, not acked)",
        injected="`RAPPORT_FAILPOINT` → `os._exit(137)` in one of two competing `rapport serve followup consumer`",
        times=repetitions,
        events=len(everything),
        **figures,
    )


def test_a_consumer_killed_by_sigkill_mid_stream_loses_nothing_and_does_nothing_twice(
    pipeline, profile, record_fault
):
    """No failpoint: a real SIGKILL wherever the consumer happens to be, amid a stream of events."""
    _, followup, broker, logs = pipeline
    repetitions = profile.pick(2, 8)
    stream = 100
    everything: list[str] = []
    handled_at_kill: list[int] = []
    for _ in range(repetitions):
        before = count(followup, Followup)
        events = [session_completed() for _ in range(stream)]
        for event in events:
            broker.publish_event(event)
        everything += [e.data["session_id"] for e in events]
        victim = RapportProcess(followup, "consumer", logs)
        eventually(lambda: count(followup, Followup) >= before + 10, 30, "the consumer to be mid-stream", interval=0.01)
        victim.kill()
        handled_at_kill.append(count(followup, Followup) - before)
        victim.stop()
    with RapportProcess(followup, "consumer", logs) as survivor:
        eventually(lambda: count(followup, Followup) == len(everything), 30, "a new consumer to finish the stream")
        eventually(lambda: broker.queue("rapport.followup") == (0, 1), 20, "the queue to drain")
        time.sleep(0.3)
        assert survivor.process.poll() is None, survivor.tail()

    assert max(handled_at_kill) < stream, f"the kills did not land mid-stream: {handled_at_kill}"
    figures = one_followup_each(followup, everything)
    record_fault(
        "crash-consumer-sigkill",
        fault="consumer process SIGKILLed mid-stream (wherever it was)",
        injected=f"`kill -9` of `rapport serve followup consumer` after ≥10 of {stream} queued events were handled; a new one takes over",
        times=repetitions,
        events=len(everything),
        handled_before_kill_max=max(handled_at_kill),
        **figures,
    )
