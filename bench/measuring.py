"""What a benchmark phase cost: wall time, CPU, peak RSS and rows written.

A :class:`Meter` brackets one phase. Wall time is ``time.perf_counter``; CPU time is
this process's user + system time from ``resource.getrusage`` (every thread of it);
peak RSS is the kernel's high-water mark (``VmHWM``), reset at the start of the
phase through ``/proc/self/clear_refs`` so each phase reports its own peak rather
than the process's lifetime one (``ru_maxrss`` when that is not possible).

Rows written are PostgreSQL's own counts: the change in ``n_tup_ins + n_tup_upd +
n_tup_del`` of every table in ``pg_stat_user_tables``. A backend reports its counts
lazily, at the latest when it exits, so the phase's engine is disposed before the
counts are read and :func:`settled_rows` waits until no other backend is connected
to the benchmark's database.

When PostgreSQL runs on this machine and its processes are readable, the phase's
database CPU is reported too: the user + system time of every ``postgres`` process
plus what the postmaster collected from backends that have exited.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")
_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(kw_only=True)
class Measurement:
    """One phase's figures; ``extra`` holds what only that phase has."""

    name: str
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    db_cpu_seconds: float | None = None
    peak_rss_mb: float = 0.0
    rows_written: int = 0
    rows_by_table: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


# -- process figures ---------------------------------------------------------------


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def reset_peak_rss() -> bool:
    """Start a new high-water mark; False where the kernel does not allow it."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def peak_rss_mb() -> float:
    """The peak resident set since the last reset (or since the process started)."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def postgres_cpu_seconds() -> float | None:
    """CPU used so far by the local PostgreSQL server, or None if it cannot be read."""
    total, seen = 0, False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name, _, rest = text.partition(") ")
        if not name.endswith("(postgres"):
            continue
        fields = rest.split()
        # NB: fields 14-17 of stat (utime, stime, cutime, cstime) are 11-14 here,
        # counted after the command name; cutime is where exited backends end up.
        total += sum(int(value) for value in fields[11:15])
        seen = True
    return total / _TICKS if seen else None


# -- the database --------------------------------------------------------------------


def server_url(url: str) -> str:
    """A libpq URL (no SQLAlchemy driver) for ``url``."""
    return make_url(url).set(drivername="postgresql").render_as_string(False)


@contextmanager
def fresh_database(url: str) -> Iterator[str]:
    """A new database on ``url``'s server, dropped afterwards; yields its SQLAlchemy URL."""
    server = server_url(url)
    name = f"leasesync_bench_{uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield (
            make_url(server)
            .set(drivername="postgresql+psycopg", database=name)
            .render_as_string(False)
        )
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            admin.execute(drop.format(sql.Identifier(name)))


def rows_by_table(url: str) -> dict[str, int]:
    """Rows inserted, updated and deleted so far in each table of the database."""
    with psycopg.connect(server_url(url), autocommit=True) as connection:
        connection.execute("SELECT pg_stat_clear_snapshot()")
        rows = connection.execute(
            "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables"
        ).fetchall()
    return {str(name): int(count) for name, count in rows}


def settled_rows(url: str, timeout: float = 30.0) -> dict[str, int]:
    """:func:`rows_by_table` once every other backend of the database has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _other_backends(url) == 0:
            break
        time.sleep(0.05)
    time.sleep(0.05)
    return rows_by_table(url)


def _other_backends(url: str) -> int:
    with psycopg.connect(server_url(url), autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    return int(row[0]) if row else 0


def analyze(url: str) -> None:
    """Refresh the planner's statistics, as autovacuum would after a bulk load.

    Test servers often run with ``autovacuum = off``; without statistics the planner
    misjudges the freshly filled tables and the phases after the first link measure
    that rather than leasesync.
    """
    with psycopg.connect(server_url(url), autocommit=True) as connection:
        connection.execute("ANALYZE")


def server_settings(url: str) -> dict[str, str]:
    """The server settings that change what the figures mean."""
    names = ("server_version", "autovacuum", "synchronous_commit", "shared_buffers")
    with psycopg.connect(server_url(url), autocommit=True) as connection:
        return {
            name: str(connection.execute(f"SHOW {name}").fetchone()[0])  # type: ignore[index]
            for name in names
        }


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    changes = {name: after[name] - before.get(name, 0) for name in after}
    return {name: count for name, count in sorted(changes.items()) if count}


# -- one phase -------------------------------------------------------------------------


@contextmanager
def measured(name: str, url: str, quiesce: Callable[[], None]) -> Iterator[Measurement]:
    """Measure the ``with`` block as the phase ``name``.

    ``quiesce`` is called when the block ends, before rows are counted: it must
    close every connection the phase opened (dispose its engines, stop workers).
    """
    result = Measurement(name=name)
    rows_before = settled_rows(url)
    reset_peak_rss()
    db_before = postgres_cpu_seconds()
    cpu_before, started = cpu_seconds(), time.perf_counter()
    yield result
    result.wall_seconds = time.perf_counter() - started
    result.cpu_seconds = cpu_seconds() - cpu_before
    result.peak_rss_mb = peak_rss_mb()
    quiesce()
    rows = delta(rows_before, settled_rows(url))
    db_after = postgres_cpu_seconds()
    if db_before is not None and db_after is not None:
        result.db_cpu_seconds = db_after - db_before
    result.rows_by_table, result.rows_written = rows, sum(rows.values())
