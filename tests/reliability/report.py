"""Figures of the fault-injection tests, and docs/reliability.md made from them.

Tests call ``record`` (through the ``record_fault`` fixture); each row is one JSON file under
``$RAPPORT_CHAOS_RESULTS`` (default ``var/chaos``). ``python -m tests.reliability.report``
turns the rows of the last run into ``docs/reliability.md``.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMMAND = "make chaos"


def results_dir() -> Path:
    return Path(os.environ.get("RAPPORT_CHAOS_RESULTS", ROOT / "var" / "chaos"))


@dataclass(frozen=True)
class Profile:
    """How hard to push: ``short`` for every CI run, ``full`` for ``make chaos``."""

    name: str

    @classmethod
    def from_env(cls) -> "Profile":
        name = os.environ.get("RAPPORT_CHAOS_PROFILE", "short")
        if name not in ("short", "full"):
            raise ValueError(f"RAPPORT_CHAOS_PROFILE must be short or full, not {name!r}")
        return cls(name)

    @property
    def full(self) -> bool:
        return self.name == "full"

    def pick(self, short, full):
        return full if self.full else short


def record(key: str, **row) -> None:
    folder = results_dir()
    folder.mkdir(parents=True, exist_ok=True)
    row = {"key": key, "recorded_at": datetime.now(timezone.utc).isoformat(), **row}
    (folder / f"{key}.json").write_text(json.dumps(row, indent=2, sort_keys=True, default=str))


def load_rows(folder: Path) -> list[dict]:
    return sorted(
        (json.loads(path.read_text()) for path in folder.glob("*.json")), key=lambda row: row["key"]
    )


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value).replace("|", "\\|")


def _machine() -> str:
    cpus = os.cpu_count()
    try:
        rabbit = subprocess.run(
            ["rabbitmqctl", "version"], capture_output=True, text=True, timeout=20
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        rabbit = "unknown"
    return (
        f"{platform.node()}: {platform.system()} {platform.release()}, {cpus} CPUs, "
        f"Python {platform.python_version()}, RabbitMQ {rabbit or 'unknown'}"
    )


def render(rows: list[dict]) -> str:
    lines = [
        "# Reliability under faults",
        "",
        "Each row is a fault-injection test in `tests/reliability/` that injected the fault for",
        "real against dedicated servers or processes (never the machine's shared RabbitMQ or",
        "PostgreSQL), then checked that nothing was lost, nothing done twice and nothing silently",
        "dropped. CI runs the same tests with the `short` profile on every change.",
        "",
        f"Produced by `{COMMAND}` (profile `full`) on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.",
        f"Machine: {_machine()}.",
        "",
        "| Fault | Injected | Times | Figures |",
        "|---|---|---|---|",
    ]
    for row in rows:
        figures = "<br>".join(f"{name}: {_cell(v)}" for name, v in sorted(row["figures"].items()))
        lines.append(
            f"| {_cell(row['fault'])} | {_cell(row['injected'])} | {row['times']} | {figures} |"
        )
    profiles = sorted({row["profile"] for row in rows})
    if profiles != ["full"]:
        lines += ["", f"Note: rows come from profile(s) {', '.join(profiles)}, not only `full`."]
    lines += ["", "See docs/operations.md for what each guarantee means for the on-call engineer.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    target = Path(argv[0]) if argv else ROOT / "docs" / "reliability.md"
    rows = load_rows(results_dir())
    if not rows:
        print(f"no results under {results_dir()}; run the reliability tests first", file=sys.stderr)
        return 1
    target.write_text(render(rows))
    print(f"wrote {target} ({len(rows)} faults)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
