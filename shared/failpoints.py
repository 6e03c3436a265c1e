"""Failpoints: a test hook that kills the process at one named point of the outbox or inbox.

The reliability tests (``tests/reliability/``) set ``RAPPORT_FAILPOINT`` to one point name for a
relay or consumer subprocess; when that process reaches the point it dies at once with
``os._exit(137)`` — no ``finally`` blocks, no acks, no rollbacks, exactly like ``kill -9`` at that
instant. The variable is read once at import; with it unset, ``crash_point`` is one comparison.
Never set it in production.

Points:

- ``relay.before_publish``: outbox rows claimed (lease taken), nothing published yet;
- ``relay.after_publish``: the broker confirmed the batch, the rows are not marked published;
- ``consumer.after_commit``: a handler's effect and its inbox row committed, the delivery not acked.
"""

from __future__ import annotations

import os
import sys

ENV = "RAPPORT_FAILPOINT"
EXIT_CODE = 137
POINTS = frozenset({"relay.before_publish", "relay.after_publish", "consumer.after_commit"})

_armed = os.environ.get(ENV) or None
if _armed is not None and _armed not in POINTS:
    raise RuntimeError(f"{ENV}={_armed!r} names no failpoint; known: {', '.join(sorted(POINTS))}")


def crash_point(name: str) -> None:
    """Die here, without cleanup, if ``RAPPORT_FAILPOINT`` names this point."""
    if name == _armed:
        sys.stderr.write(f"failpoint {name}: exiting with {EXIT_CODE}\n")
        sys.stderr.flush()
        os._exit(EXIT_CODE)
