"""What the background work did, as Prometheus metrics (``GET /metrics``).

The metrics live in prometheus_client's default registry, one set per process: the
server exposes its own (the embedded worker runs inside it), and each ``leasesync
worker`` can expose its own with ``--metrics-port``. Counters are bumped by
:mod:`leasesync.jobs.work`, where every task of either worker passes; the gauge of
pending effects is read from the store when scraped, because it is a fact of the
database, not of one process.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Gauge, Histogram

SYNCS = Counter(
    "leasesync_syncs",
    "Property syncs by outcome (unchanged, applied, approved, held, failed).",
    ["outcome"],
)
SYNC_FAILURES = Counter(
    "leasesync_sync_failures",
    "Property syncs whose PMS fetch failed (SPEC L12).",
)
PLAN_SIZES = Histogram(
    "leasesync_plan_actions",
    "Actions planned by one applied sync, over all its units.",
    buckets=(0, 1, 2, 5, 10, 20, 50, 100, 250, 1000),
)
JOB_SECONDS = Histogram(
    "leasesync_job_duration_seconds",
    "How long one background task took, by task.",
    ["task"],
)
JOB_LATENESS = Histogram(
    "leasesync_job_lateness_seconds",
    "How long after its due instant a scheduled task started, by task.",
    ["task"],
)
JOB_ERRORS = Counter(
    "leasesync_job_errors",
    "Background tasks that ended with an unexpected error, by task.",
    ["task"],
)
PENDING_EFFECTS = Gauge(
    "leasesync_pending_effects",
    "Side effects (invites, device commands, grants, revokes) not yet delivered.",
)


@contextmanager
def timed(task: str) -> Iterator[None]:
    """Count the block as one run of ``task``: its duration, and its error if any."""
    started = time.perf_counter()
    try:
        yield
    except Exception:
        JOB_ERRORS.labels(task).inc()
        raise
    finally:
        JOB_SECONDS.labels(task).observe(time.perf_counter() - started)


def record_sync(outcome: str, actions: int) -> None:
    SYNCS.labels(outcome).inc()
    if outcome == "failed":
        SYNC_FAILURES.inc()
    if outcome in ("applied", "approved"):
        PLAN_SIZES.observe(actions)


def record_lateness(task: str, seconds: float) -> None:
    JOB_LATENESS.labels(task).observe(max(0.0, seconds))
