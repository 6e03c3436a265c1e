"""The benchmark report renders from a results dict alone (no timing is asserted here)."""

from bench import report

RESULTS = {
    "scale": "quick",
    "parameters": {"burst": 10},
    "command": "make bench BENCH_ARGS='--quick'",
    "started": "2026-01-01T00:00:00+00:00",
    "total_seconds": 12.5,
    "machine": {"cpus": 2, "cpu_model": "cpu", "memory": "1 GiB", "kernel": "6", "python": "3.11",
                "postgresql": "15", "rabbitmq": "3.10", "nginx": "1.22", "wrk": "wrk 4", "git_commit": "abc"},
    "pipeline_burst": {"events": 10, "seconds": 1.0, "events_per_s": 10.0, "payload_bytes": 600,
                       "cpu_ms_per_event": {"sessions-relay": 1.0, "postgresql": 2.0}},
    "raw_burst": {"events": 100, "seconds": 1.0, "events_per_s": 100.0},
    "pipeline_paced": {"rate": 2.5, "events": 5, "p50_ms": 20.0, "p99_ms": 80.0, "achieved_rate": 2.5},
    "raw_paced": {"rate": 2.5, "events": 5, "p50_ms": 1.0, "p99_ms": 2.0},
    "api": {"read": {"rps": 60.0, "p99_ms": 9.0}, "book": {"rps": 30.0, "p99_ms": 20.0},
            "baseline_read": {"rps": 100.0, "p99_ms": 3.0}, "baseline_post": {"rps": 100.0, "p99_ms": 3.0},
            "settings": {"wrk_threads": 2, "connections": 8, "duration_s": 5, "web_workers": 2, "web_threads": 4}},
    "growth": {"scales": [10, 100], "seed_seconds": {"10": 0.1, "100": 0.2},
               "by_scale": {"10": {"probe": {"items": 3, "p50_ms": 2.0, "p99_ms": 3.0}},
                            "100": {"probe": {"items": 3, "p50_ms": 2.5, "p99_ms": 4.0}}},
               "plans": {"probe": "Index Scan using ix on t"}},
    "scale_out": {"1": {"events_per_s": 10.0, "seconds": 1.0}, "2": {"events_per_s": 15.0, "seconds": 0.7}},
    "memory_idle": {"sessions-web": 60.0}, "memory_load": {"sessions-web": 70.0},
    "journeys_up": {"concurrency": 2, "journeys_per_s": 1.0}, "journeys_embedded": {"concurrency": 2, "journeys_per_s": 2.0},
}


def test_render_states_ratios_goals_and_plans():
    text = report.render({**RESULTS, "scale": "quick"})
    assert "# Performance" in text and "make bench BENCH_ARGS='--quick'" in text
    assert "0.10×" in text  # pipeline throughput against raw pika
    assert "0.60×" in text and "met" in text  # read against the baseline
    assert "**not met**" in text  # booking at 0.3× and p99 at 80 ms
    assert "Index Scan using ix on t" in text
    assert "quick" in text


def test_summary_table_has_a_row_per_figure():
    table = report.summary_table(RESULTS)
    assert table.splitlines()[0].startswith("Figure")
    assert any("Pipeline throughput" in line for line in table.splitlines())
