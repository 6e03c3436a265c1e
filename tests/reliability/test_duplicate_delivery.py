"""Every event delivered three times, to two competing `rapport serve followup consumer`
processes at once: the copies race each other through the inbox, and each session still gets one
followup, one inbox row and one ``followup.scheduled`` event."""

from __future__ import annotations

import time

from followup.models import Followup
from rapport.services import declare_all
from tests.reliability.harness import (
    Broker,
    RapportProcess,
    count,
    eventually,
    one_followup_each,
    session_completed,
)

COPIES = 3


def test_three_copies_to_two_competing_consumers_make_one_side_effect(
    build_service, make_database, amqp_url, tmp_path, profile, record_fault
):
    followup = build_service("followup", database_url=make_database(), broker_url=amqp_url)
    declare_all({"followup": followup})
    events = [session_completed() for _ in range(profile.pick(40, 200))]
    broker = Broker(followup)
    try:
        with RapportProcess(followup, "consumer", tmp_path, RAPPORT_PREFETCH="4") as first, \
                RapportProcess(followup, "consumer", tmp_path, RAPPORT_PREFETCH="4") as second:  # fmt: skip
            eventually(lambda: broker.queue("rapport.followup")[1] == 2, 20, "both consumers to subscribe")
            started = time.monotonic()
            for event in events:
                for _ in range(COPIES):  # back to back: the copies reach both consumers together
                    broker.publish_event(event)
            eventually(lambda: count(followup, Followup) == len(events), 60, "every event to be handled")
            eventually(lambda: broker.queue("rapport.followup") == (0, 2), 30, "every copy to be consumed")
            elapsed = time.monotonic() - started
            time.sleep(0.3)
            for process in (first, second):
                assert process.process.poll() is None, process.tail()
    finally:
        broker.close()

    figures = one_followup_each(followup, [e.data["session_id"] for e in events])
    record_fault(
        "duplicate-concurrent-delivery",
        fault="every event delivered 3 times to 2 competing consumers",
        injected="each event published 3× back to back; two `rapport serve followup consumer` processes (prefetch 4)",
        times=len(events),
        deliveries=len(events) * COPIES,
        side_effects=count(followup, Followup),
        seconds_to_drain=round(elapsed, 2),
        **figures,
    )
