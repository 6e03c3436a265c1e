"""`make bench`: every benchmark on this machine's RabbitMQ and PostgreSQL in `make up` mode,
each against a baseline measured in the same run; prints a table, writes docs/performance.md.

    python -m bench [--quick] [--only pipeline,api,growth,scale,journeys] [--out docs/performance.md]
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

from bench import api, growth, journeys, memory, pipeline, rawmq, report
from bench.platform import Distributed, Embedded, Vhost

SECTIONS = ("pipeline", "api", "growth", "scale", "journeys")

SCALES = {
    "quick": dict(burst=300, paced_seconds=6, raw_burst=2000, api_seconds=5, api_connections=8,
                  growth=[10_000, 100_000], growth_requests=30, consumers=[1, 2, 4], scale_burst=300,
                  journey_concurrency=2, journey_seconds=15),
    "full": dict(burst=2000, paced_seconds=30, raw_burst=10_000, api_seconds=20, api_connections=16,
                 growth=[10_000, 100_000, 1_000_000], growth_requests=100, consumers=[1, 2, 4], scale_burst=2000,
                 journey_concurrency=4, journey_seconds=30),
}


def log(message: str) -> None:
    print(f"[bench {datetime.now(timezone.utc):%H:%M:%S}] {message}", flush=True)


class Budget:
    """The run's time budget: a section that would start after it is skipped (and said so)."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def left(self) -> float:
        return self.deadline - time.monotonic()


BUDGET: Budget | None = None


def _guard(results: dict, section: str, run, needs: float = 0.0) -> None:
    if BUDGET is not None and BUDGET.left() < needs:
        results.setdefault("skipped", {})[section] = f"time budget: {BUDGET.left():.0f}s left, needs ~{needs:.0f}s"
        log(f"skipping {section}: out of time budget")
        return
    began = time.monotonic()
    try:
        results[section] = run()
    except Exception as error:
        traceback.print_exc()
        results.setdefault("errors", {})[section] = f"{type(error).__name__}: {error}"
    results.setdefault("section_seconds", {})[section] = round(time.monotonic() - began, 1)


def _interrupt(_signum, _frame) -> None:
    """SIGTERM (make's timeout) unwinds like Ctrl-C, so every platform is taken down."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="small, fast smoke scale")
    parser.add_argument("--only", default=",".join(SECTIONS))
    parser.add_argument("--out", default="docs/performance.md")
    parser.add_argument("--results", default="var/bench/results.json")
    parser.add_argument("--work", default="var/bench/run")
    parser.add_argument("--budget", type=float, default=780.0,
                        help="seconds; sections that would start later are skipped so the report is always written")
    args = parser.parse_args(argv)
    global BUDGET
    BUDGET = Budget(args.budget)
    signal.signal(signal.SIGTERM, _interrupt)
    scale_name = "quick" if args.quick else "full"
    scale = SCALES[scale_name]
    only = [s for s in args.only.split(",") if s]
    work = Path(args.work)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    results: dict = {
        "scale": scale_name, "parameters": scale, "sections": only,
        "command": "make bench" + (f" BENCH_ARGS='{' '.join(argv or sys.argv[1:])}'" if (argv or sys.argv[1:]) else ""),
        "machine": report.machine(), "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }  # fmt: skip
    began = time.monotonic()
    with Vhost() as vhost:
        if {"pipeline", "api", "growth", "journeys", "scale"} & set(only):
            log("starting `rapport up` (1 consumer per service)")
            with Distributed(work / "up-1", vhost.url, consumers=1) as platform:
                time.sleep(3)
                results["memory_idle"] = memory.snapshot(platform)
                with memory.PeakSampler(platform) as sampler:
                    if "pipeline" in only or "scale" in only:
                        log(f"pipeline: burst of {scale['burst']} events")
                        _guard(results, "pipeline_burst", lambda: pipeline.run_burst(platform, scale["burst"]))
                    if "pipeline" in only:
                        peak = (results.get("pipeline_burst") or {}).get("events_per_s") or 20.0
                        rate = max(1.0, peak / 4)
                        log(f"pipeline: paced at {rate:.1f}/s for {scale['paced_seconds']}s")
                        _guard(results, "pipeline_paced",
                               lambda: pipeline.run_paced(platform, rate, scale["paced_seconds"]),
                               needs=scale["paced_seconds"] + 30)
                    if "api" in only:
                        log("api: wrk against booking, reading and the baseline")
                        _guard(results, "api", lambda: api.run(
                            platform, work, duration=scale["api_seconds"], connections=scale["api_connections"]),
                            needs=4 * scale["api_seconds"] + 30)
                    if "journeys" in only:
                        log("journeys: `make up` mode")
                        _guard(results, "journeys_up", lambda: journeys.run(
                            platform, concurrency=scale["journey_concurrency"], duration=scale["journey_seconds"]),
                            needs=scale["journey_seconds"] + 30)
                results["memory_load"] = sampler.peak
                if "growth" in only:
                    log(f"growth: {scale['growth']} rows")
                    _guard(results, "growth", lambda: growth.run(
                        platform, scale["growth"], scale["growth_requests"], budget=BUDGET.left), needs=60)
        if "pipeline" in only:
            size = (results.get("pipeline_burst") or {}).get("payload_bytes") or 600
            log(f"baseline: raw pika, {scale['raw_burst']} persistent confirmed messages")
            _guard(results, "raw_burst", lambda: rawmq.run_burst(vhost.url, scale["raw_burst"], size, 32, work))
            rate = (results.get("pipeline_paced") or {}).get("rate") or 5.0
            _guard(results, "raw_paced", lambda: rawmq.run_paced(vhost.url, rate, scale["paced_seconds"], size, 32, work))
        if "journeys" in only:
            log("journeys: embedded mode (`rapport run`)")

            def embedded():
                with Embedded(work / "embedded") as platform:
                    return journeys.run(
                        platform, concurrency=scale["journey_concurrency"], duration=scale["journey_seconds"]
                    )

            _guard(results, "journeys_embedded", embedded, needs=scale["journey_seconds"] + 30)
        if "scale" in only:
            curve = {}
            for consumers in scale["consumers"]:
                if BUDGET.left() < 90:
                    curve[consumers] = {"error": "skipped: out of time budget"}
                    continue
                if consumers == 1 and results.get("pipeline_burst") and scale["scale_burst"] == scale["burst"]:
                    curve[consumers] = results["pipeline_burst"]
                    continue
                log(f"scale: {consumers} consumers per service, burst of {scale['scale_burst']}")
                try:
                    with Distributed(work / f"up-{consumers}", vhost.url, consumers=consumers) as platform:
                        time.sleep(2)
                        curve[consumers] = pipeline.run_burst(platform, scale["scale_burst"])
                except Exception as error:
                    traceback.print_exc()
                    curve[consumers] = {"error": f"{type(error).__name__}: {error}"}
            results["scale_out"] = curve
    results["total_seconds"] = round(time.monotonic() - began, 1)
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    Path(args.results).write_text(json.dumps(results, indent=2, default=str))
    text = report.render(results)
    Path(args.out).write_text(text)
    print(report.summary_table(results))
    log(f"wrote {args.out} and {args.results} in {results['total_seconds']}s")
    return 1 if results.get("errors") else 0


if __name__ == "__main__":
    sys.exit(main())
