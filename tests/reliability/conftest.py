"""Fault-injection tests (issue: reliability under faults).

Every test here injects a real fault — a killed broker node, a killed process, a broken TCP
connection, a restarted database — and records its figures with ``record_fault``. Two profiles:

- ``short`` (default; what ``make test`` and CI run): few repetitions, bounded to a few minutes;
- ``full`` (``make chaos``): more repetitions and load; its figures become docs/reliability.md.
"""

from __future__ import annotations

import pytest

from tests.reliability.report import Profile, record


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/reliability/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.reliability)


@pytest.fixture(scope="session")
def profile() -> Profile:
    return Profile.from_env()


@pytest.fixture
def record_fault(profile):
    """``record_fault(key, fault=..., injected=..., times=..., **figures)`` keeps one row of the report."""

    def _record(key: str, *, fault: str, injected: str, times: int, **figures) -> None:
        record(key, profile=profile.name, fault=fault, injected=injected, times=times, figures=figures)

    return _record
