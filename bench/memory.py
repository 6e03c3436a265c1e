"""Resident memory (VmRSS from /proc) of every service's web workers and consumers."""

from __future__ import annotations

import os
import threading
from pathlib import Path


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry))
    return found


def processes(platform) -> dict[str, list[int]]:
    """``<svc>-web`` -> its gunicorn workers (not the master); ``<svc>-consumer*`` -> itself."""
    found: dict[str, list[int]] = {}
    for name, pid in platform.pids().items():
        if name.endswith("-web"):
            found[name] = children(pid)
        elif "-consumer" in name:
            found[name] = [pid]
    return found


def snapshot(platform) -> dict[str, float]:
    """The largest RSS among each role's processes (each worker is its own process)."""
    return {
        name: max((r for r in (rss_mb(p) for p in pids) if r is not None), default=0.0)
        for name, pids in processes(platform).items()
    }


class PeakSampler:
    """Samples every ``interval`` seconds in a thread; keeps each role's peak."""

    def __init__(self, platform, interval: float = 0.5) -> None:
        self.platform, self.interval = platform, interval
        self.peak: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for name, value in snapshot(self.platform).items():
                self.peak[name] = max(self.peak.get(name, 0.0), value)
            self._stop.wait(self.interval)

    def __enter__(self) -> "PeakSampler":
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _postgres_backends(platform) -> list[int]:
    import psycopg

    from bench.platform import PG_URL

    with psycopg.connect(PG_URL, autocommit=True) as c:
        rows = c.execute("SELECT pid FROM pg_stat_activity WHERE datname LIKE %s", (platform.prefix + "%",)).fetchall()
    return [r[0] for r in rows]


def _rabbitmq() -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/comm").read_text().strip() == "beam.smp":
                    found.append(int(entry))
            except OSError:
                pass
    return found


def cpu_by_role(platform) -> dict[str, dict[int, float]]:
    """CPU seconds so far of every process, grouped: each service's web/consumer/relay, nginx,
    the platform's PostgreSQL backends, and RabbitMQ (shared with whoever else uses it)."""
    groups: dict[str, dict[int, float]] = {}
    for name, pid in platform.pids().items():
        role = name if name == "gateway" else name.rsplit("-", 1)[0] if name[-1].isdigit() else name
        pids = [pid, *children(pid)]
        groups.setdefault(role, {}).update({p: cpu_seconds(p) for p in pids})
    groups["postgresql"] = {p: cpu_seconds(p) for p in _postgres_backends(platform)}
    groups["rabbitmq (shared)"] = {p: cpu_seconds(p) for p in _rabbitmq()}
    return groups


def cpu_used(before: dict, after: dict) -> dict[str, float]:
    return {
        role: round(sum(v - before.get(role, {}).get(p, 0.0) for p, v in pids.items()), 2)
        for role, pids in after.items()
    }
