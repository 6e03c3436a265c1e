"""Long-running loops of a service: the outbox relay (with the service's timed jobs) and the
event consumer. Each loop makes its own connections in its own thread or process.
"""

from __future__ import annotations

import logging
import signal
import threading
import time

from shared.broker import BrokerUnavailable, make_publisher
from shared.consumer import run_consumer
from shared.relay import OutboxRelay
from shared.service import Service
from shared.wakeup import OutboxWakeup

log = logging.getLogger("rapport.runner")


def run_relay(service: Service, stop: threading.Event) -> None:
    """Publish the outbox as it fills; run the service's jobs on their intervals."""
    settings = service.settings
    publisher = make_publisher(settings)
    relay = OutboxRelay(service, publisher)
    wakeup = OutboxWakeup(service)
    next_job_run = {job.name: 0.0 for job in service.jobs}
    backoff = 0.5
    try:
        while not stop.is_set():
            published = 0
            try:
                published = relay.run_once()
                backoff = 0.5
            except BrokerUnavailable as error:
                log.warning("broker unavailable (%s); retrying in %.1fs", error, backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            except Exception:
                log.exception("outbox relay failed; retrying")
                stop.wait(1.0)
                continue
            ran = _run_due_jobs(service, next_job_run)
            if published >= settings.relay_batch_size or ran:
                continue
            publisher.keepalive()
            wakeup.wait(settings.relay_poll_interval)
    finally:
        wakeup.close()
        publisher.close()


def _run_due_jobs(service: Service, next_run: dict[str, float]) -> int:
    done = 0
    now = time.monotonic()
    for job in service.jobs:
        if now < next_run[job.name]:
            continue
        next_run[job.name] = now + (job.interval or service.settings.job_interval)
        try:
            done += job.run(service)
        except Exception:
            log.exception("job %s failed; it runs again at its next interval", job.name)
    return done


def run_forever(target, service: Service) -> None:
    """Run one loop in the foreground until SIGTERM or SIGINT (for one-process-per-role modes)."""
    stop = threading.Event()

    def _stop(_signum, _frame):
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        target(service, stop)
    finally:
        service.close()


__all__ = ["run_relay", "run_consumer", "run_forever"]
