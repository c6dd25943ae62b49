"""Lifecycle throughput: turnovers from the sync that sees them to the invite sent.

A turnover is the hardest everyday path (L7, L8, L3): the household of an occupied
unit whose devices are in the resident configuration moves out, and a new one moves
in. The sync that sees it removes the leavers, revokes their doors and asks the
devices for the vacant configuration; when the devices report it complete, the new
household moves in and, the installation being complete, its head is invited. The
latency measured is from the start of that sync to the invite's arrival at an SMTP
server (an aiosmtpd sink in this process).

Preparation, not timed: the chosen units are marked installed, their residents'
invites accepted and their devices brought to the resident configuration, through
the engine's own completions. Then the PMS serves the turnovers, its answers are
rendered, and the worker processes start.

Two ways to run the workers, each with one and with two processes:

- ``procrastinate``: ``leasesync worker`` processes on the PostgreSQL job queue,
  as in production; the poll is one ``sync_property`` job per property, deferred
  through :class:`~leasesync.jobs.queueing.JobQueue`; SMTP mail and the bundled
  device simulator (answering at once) are set through the environment. The
  worker hands simulated device answers over in its housekeeping, once a second,
  so up to a second of each turnover is that poll (see :data:`SEGMENTS`).
- ``in-process loop``: N processes of the delivery loop the embedded worker runs —
  each takes properties to sync from a shared queue and, between syncs, delivers
  due effects, hands device reports back and re-plans due units.

Latency is measured from the start of the sync run that applied the turnover (its
``sync_runs.started_at``: the snapshot is fetched, its application begins), and
also from the poll: when the job was deferred (procrastinate) or the worker called
``sync_property`` (loop), which adds queueing and the fetch. :func:`segments`
splits each latency into its steps, from the timestamps the store keeps.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import queue
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

import httpx
import psycopg
from aiosmtpd.controller import Controller
from sqlalchemy import select

from leasesync.engine import completions
from leasesync.engine.delivery import deliver_due_effects
from leasesync.engine.runtime import Engine
from leasesync.engine.syncing import sync_property
from leasesync.gateways.devices import SimulatedDeviceGateway
from leasesync.gateways.mail.smtp import SmtpMailGateway
from leasesync.store import db
from leasesync.store import models as m
from measuring import (
    analyze,
    cpu_seconds,
    delta,
    peak_rss_mb,
    postgres_cpu_seconds,
    server_url,
    settled_rows,
)
from pms import PortfolioSpec, fetch_answers
from portfolio import (
    change_households,
    generate_site,
    siteid_of,
    turn_over,
    turnover_units,
)
from stack import (
    TOKEN_SECRET,
    DroppedMail,
    RpxConnectors,
    build_engine,
    instant_devices,
)

LOOP = "in-process loop"
PROCRASTINATE = "procrastinate"
MODES = (PROCRASTINATE, LOOP)
IDLE_SLEEP = 0.01
SENDER = "leasesync@bench.example"


@dataclass(kw_only=True)
class LifecycleRun:
    """One lifecycle measurement."""

    workers: int
    mode: str
    turnovers: int
    arrived: int = 0
    p50_seconds: float | None = None
    p99_seconds: float | None = None
    max_seconds: float | None = None
    p50_from_poll_seconds: float | None = None
    p99_from_poll_seconds: float | None = None
    wall_seconds: float = 0.0
    worker_cpu_seconds: float = 0.0
    worker_peak_rss_mb: float = 0.0
    db_cpu_seconds: float | None = None
    rows_written: int = 0
    rows_by_table: dict[str, int] = field(default_factory=dict)
    prepared_units: int = 0
    prepare_seconds: float = 0.0
    segments: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class Turnover:
    property_id: int
    unit: str
    address: str


# -- choosing the turnovers ------------------------------------------------------------


def plan_turnovers(
    spec: PortfolioSpec,
    property_ids: list[int],
    turnovers: int,
    runs: int,
    fraction: float,
) -> tuple[list[list[Turnover]], list[dict[str, list[str]]]]:
    """Per run, its turnovers and the PMS's cumulative turnover units by siteid."""
    counts = _spread(turnovers, spec.properties)
    chosen: list[list[Turnover]] = [[] for _ in range(runs)]
    served: list[dict[str, list[str]]] = [{} for _ in range(runs)]
    for index, count in enumerate(counts):
        if not count:
            continue
        site = change_households(
            generate_site(spec.seed, index, spec.units, spec.today),
            fraction,
            spec.seed,
            spec.today,
        )
        candidates = turnover_units(site, count * runs)
        for run in range(runs):
            cumulative = candidates[: count * (run + 1)]
            addresses = turn_over(site, cumulative, spec.today)[1]
            mine = slice(count * run, count * (run + 1))
            served[run][siteid_of(index)] = cumulative
            chosen[run] += [
                Turnover(property_id=property_ids[index], unit=unit, address=address)
                for unit, address in zip(cumulative[mine], addresses[mine], strict=True)
            ]
    return chosen, served


def _spread(total: int, parts: int) -> list[int]:
    base, left = divmod(total, parts)
    return [base + (1 if number < left else 0) for number in range(parts)]


# -- preparing the units ---------------------------------------------------------------


def prepare(database_url: str, turnovers: list[Turnover]) -> int:
    """Bring each unit to occupied with resident devices; returns how many got there."""
    database = db.create_engine_for(database_url)
    connectors = RpxConnectors()
    box: list[Engine] = []
    devices = instant_devices(box)
    engine = build_engine(
        database, mail=DroppedMail(), connectors=connectors, devices=devices
    )
    box.append(engine)
    try:
        for turnover in turnovers:
            completions.mark_installed(
                engine, turnover.property_id, turnover.unit, "bench"
            )
        for _ in range(20):
            work = _accept_open_invites(engine, turnovers)
            work += _drain(engine, devices)
            if not work:
                break
        return _resident_units(engine, turnovers)
    finally:
        connectors.close()
        database.dispose()


def _drain(engine: Engine, devices: SimulatedDeviceGateway) -> int:
    total = 0
    while True:
        work = deliver_due_effects(engine) + devices.deliver_due(engine.clock.now())
        total += work
        if not work:
            return total


def _unit_rows(turnovers: list[Turnover]) -> Any:
    wanted = [(t.property_id, t.unit) for t in turnovers]
    return select(m.Unit.id).where(
        m.Unit.property_id.in_({p for p, _ in wanted}),
        m.Unit.pms_unit_id.in_({u for _, u in wanted}),
    )


def _accept_open_invites(engine: Engine, turnovers: list[Turnover]) -> int:
    with engine.transaction() as session:
        invites = session.execute(
            select(m.Invite.id, m.Invite.nonce).where(
                m.Invite.unit_id.in_(_unit_rows(turnovers)), m.Invite.status == "sent"
            )
        ).all()
    for invite_id, nonce in invites:
        completions.accept_invite(engine, engine.tokens.make(invite_id, nonce))
    return len(invites)


def _resident_units(engine: Engine, turnovers: list[Turnover]) -> int:
    with engine.transaction() as session:
        return len(
            session.scalars(
                select(m.Unit.id).where(
                    m.Unit.id.in_(_unit_rows(turnovers)), m.Unit.devices == "resident"
                )
            ).all()
        )


# -- the SMTP sink ---------------------------------------------------------------------


class Sink:
    """An aiosmtpd handler noting when each recipient's first message arrived."""

    def __init__(self, expected: set[str]) -> None:
        self._expected = expected
        self._lock = threading.Lock()
        self.arrivals: dict[str, float] = {}
        self.complete = threading.Event()
        if not expected:
            self.complete.set()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        now = time.time()
        with self._lock:
            for address in envelope.rcpt_tos:
                self.arrivals.setdefault(str(address).lower(), now)
            if self._expected <= self.arrivals.keys():
                self.complete.set()
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- the workers -----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class WorkerConfig:
    database_url: str
    smtp_port: int


def worker_main(
    config: WorkerConfig,
    tasks: Any,
    events: Any,
    stop: EventType,
) -> None:
    """One worker process: syncs from ``tasks`` and the delivery loop, until ``stop``."""
    database = db.create_engine_for(config.database_url)
    connectors = RpxConnectors()
    box: list[Engine] = []
    devices = instant_devices(box)
    mail = SmtpMailGateway("127.0.0.1", config.smtp_port, sender=SENDER, timeout=30)
    engine = build_engine(database, mail=mail, connectors=connectors, devices=devices)
    box.append(engine)
    events.put(("ready", 0, 0.0))
    while not stop.is_set():
        if not _one_round(engine, devices, tasks, events):
            time.sleep(IDLE_SLEEP)
    connectors.close()
    database.dispose()
    events.put(("done", cpu_seconds(), peak_rss_mb()))


def _one_round(
    engine: Engine, devices: SimulatedDeviceGateway, tasks: Any, events: Any
) -> int:
    work = 0
    try:
        property_id = tasks.get_nowait()
    except queue.Empty:
        property_id = None
    if property_id is not None:
        events.put(("sync", property_id, time.time()))
        sync_property(engine, property_id, trigger="poll")
        work += 1
    work += deliver_due_effects(engine)
    work += devices.deliver_due(engine.clock.now())
    return work + completions.run_due_units(engine)


# -- one run -------------------------------------------------------------------------


def available_modes() -> tuple[str, ...]:
    """The production workers where ``leasesync worker`` exists, else the loop."""
    try:
        import leasesync.jobs.queueing
        import leasesync.jobs.worker  # noqa: F401
    except ImportError:
        return (LOOP,)
    return (PROCRASTINATE,) if _worker_command().exists() else (LOOP,)


def run_lifecycle(
    *,
    spec: PortfolioSpec,
    database_url: str,
    pms_url: str,
    property_ids: list[int],
    turnovers: int,
    runs: list[tuple[str, int]],
    fraction: float,
    say: Callable[[str], None],
) -> list[LifecycleRun]:
    """Each (mode, worker count) in turn, on turnovers of its own."""
    chosen, served = plan_turnovers(spec, property_ids, turnovers, len(runs), fraction)
    results = []
    for number, (mode, count) in enumerate(runs):
        label = f"lifecycle, {mode}, {count} worker(s)"
        say(f"{label}: preparing {len(chosen[number])} units")
        started = time.perf_counter()
        prepared = prepare(database_url, chosen[number])
        prepare_seconds = time.perf_counter() - started
        _serve_turnovers(pms_url, spec, served[number], fraction)
        say(f"{label}: {len(chosen[number])} turnovers")
        run = _measure(database_url, property_ids, chosen[number], mode, count)
        run.prepared_units, run.prepare_seconds = prepared, prepare_seconds
        results.append(run)
    return results


def _serve_turnovers(
    pms_url: str, spec: PortfolioSpec, units: dict[str, list[str]], fraction: float
) -> None:
    command = {"fraction": fraction, "turnovers": units}
    httpx.post(f"{pms_url}/_bench/state", json=command, timeout=3600).raise_for_status()
    for _ in fetch_answers(pms_url, [siteid_of(i) for i in range(spec.properties)]):
        pass


def _measure(
    database_url: str,
    property_ids: list[int],
    turnovers: list[Turnover],
    mode: str,
    workers: int,
) -> LifecycleRun:
    run = LifecycleRun(workers=workers, mode=mode, turnovers=len(turnovers))
    sink = Sink({t.address for t in turnovers})
    port = _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    analyze(database_url)  # NB: the preparation wrote thousands of rows
    rows_before, db_before = settled_rows(database_url), postgres_cpu_seconds()
    cpu_before, since = _children_cpu(), datetime.now(UTC)
    drive = _drive_procrastinate if mode == PROCRASTINATE else _drive_loop
    wanted = {t.property_id for t in turnovers}
    order = sorted(property_ids, key=lambda p: (p not in wanted, p))
    try:
        polls, peaks = drive(database_url, port, order, workers, sink, len(turnovers))
    finally:
        controller.stop()
    run.worker_cpu_seconds = _children_cpu() - cpu_before
    run.worker_peak_rss_mb = max(peaks, default=0.0)
    starts = _sync_starts(database_url, since)
    _latencies(run, turnovers, starts, polls, sink.arrivals)
    run.segments = segments(database_url, turnovers, since, starts, sink.arrivals)
    rows = delta(rows_before, settled_rows(database_url))
    run.rows_by_table, run.rows_written = rows, sum(rows.values())
    db_after = postgres_cpu_seconds()
    if db_before is not None and db_after is not None:
        run.db_cpu_seconds = db_after - db_before
    return run


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _deadline(turnovers: int) -> float:
    return max(120.0, 2.0 * turnovers)


def _drive_loop(
    database_url: str,
    port: int,
    property_ids: list[int],
    workers: int,
    sink: Sink,
    turnovers: int,
) -> tuple[dict[int, float], list[float]]:
    """Start loop workers, poll every property once, wait for every invite."""
    context = multiprocessing.get_context("spawn")
    tasks, events, stop = context.Queue(), context.Queue(), context.Event()
    config = WorkerConfig(database_url=database_url, smtp_port=port)
    processes = [
        context.Process(target=worker_main, args=(config, tasks, events, stop))
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    for _ in processes:
        events.get(timeout=120)  # NB: "ready": latency must not include start-up
    for property_id in property_ids:
        tasks.put(property_id)
    sink.complete.wait(timeout=_deadline(turnovers))
    stop.set()
    polls: dict[int, float] = {}
    peaks: list[float] = []
    while len(peaks) < workers:
        kind, first, second = events.get(timeout=300)
        if kind == "sync":
            polls.setdefault(int(first), float(second))
        elif kind == "done":
            peaks.append(float(second))
    for process in processes:
        process.join(60)
    return polls, peaks


def _worker_command() -> Path:
    return Path(sys.executable).parent / "leasesync"


def _worker_environment(database_url: str, port: int, data_dir: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith("LEASESYNC_")}
    return {
        **keep,
        "LEASESYNC_DATA_DIR": data_dir,
        "LEASESYNC_DATABASE_URL": database_url,
        "LEASESYNC_WORKER": "procrastinate",
        "LEASESYNC_SECRET_KEY": TOKEN_SECRET,
        "LEASESYNC_LOG_LEVEL": "WARNING",
        "LEASESYNC_MAIL__BACKEND": "smtp",
        "LEASESYNC_MAIL__SMTP_HOST": "127.0.0.1",
        "LEASESYNC_MAIL__SMTP_PORT": str(port),
        "LEASESYNC_MAIL__SMTP_STARTTLS": "false",
        "LEASESYNC_MAIL__FROM_ADDRESS": SENDER,
        "LEASESYNC_DEVICES__BACKEND": "simulated",
        "LEASESYNC_DEVICES__SIMULATED_DELAY_SECONDS": "0",
    }


def _drive_procrastinate(
    database_url: str,
    port: int,
    property_ids: list[int],
    workers: int,
    sink: Sink,
    turnovers: int,
) -> tuple[dict[int, float], list[float]]:
    """Start ``leasesync worker`` processes, defer one poll per property, wait."""
    from leasesync.jobs.queueing import JobQueue, ensure_queue_schema

    conninfo = server_url(database_url)
    ensure_queue_schema(conninfo)
    with tempfile.TemporaryDirectory(prefix="leasesync-bench-") as folder:
        environment = _worker_environment(database_url, port, folder)
        processes = [
            subprocess.Popen([str(_worker_command()), "worker"], env=environment)
            for _ in range(workers)
        ]
        try:
            _wait_for_workers(conninfo, processes)
            polls = _defer_polls(JobQueue(conninfo), property_ids)
            sink.complete.wait(timeout=_deadline(turnovers))
            peaks = [_peak_rss_of(process.pid) for process in processes]
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                _stop(process)
    return polls, peaks


def _wait_for_workers(conninfo: str, processes: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if any(process.poll() is not None for process in processes):
            raise RuntimeError("a leasesync worker exited at start; see its output")
        with psycopg.connect(conninfo, autocommit=True) as connection:
            row = connection.execute(
                "SELECT count(*) FROM procrastinate_workers"
            ).fetchone()
        if row and int(row[0]) >= len(processes):
            return
        time.sleep(0.1)
    raise RuntimeError("the leasesync workers did not start within two minutes")


def _defer_polls(queue: Any, property_ids: list[int]) -> dict[int, float]:
    polls: dict[int, float] = {}
    queue.open()
    try:
        for property_id in property_ids:
            polls[property_id] = time.time()
            queue.sync_property(property_id, "poll")
    finally:
        queue.close()
    return polls


def _peak_rss_of(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _stop(process: subprocess.Popen[bytes]) -> None:
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(30)


def _sync_starts(database_url: str, since: datetime) -> dict[int, float]:
    """When each property's first applied sync run since ``since`` started."""
    with psycopg.connect(server_url(database_url), autocommit=True) as connection:
        rows = connection.execute(
            "SELECT property_id, min(started_at) FROM sync_runs"
            " WHERE started_at >= %s AND outcome = 'applied' GROUP BY property_id",
            (since,),
        ).fetchall()
    return {int(pid): _timestamp(started) for pid, started in rows}


def _timestamp(value: datetime) -> float:
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.timestamp()


def _latencies(
    run: LifecycleRun,
    turnovers: list[Turnover],
    starts: dict[int, float],
    polls: dict[int, float],
    arrivals: dict[str, float],
) -> None:
    arrived = [t for t in turnovers if t.address in arrivals]
    run.arrived = len(arrived)
    from_run = sorted(
        arrivals[t.address] - starts[t.property_id]
        for t in arrived
        if t.property_id in starts
    )
    from_poll = sorted(
        arrivals[t.address] - polls[t.property_id]
        for t in arrived
        if t.property_id in polls
    )
    if from_run:
        run.p50_seconds = percentile(from_run, 0.50)
        run.p99_seconds = percentile(from_run, 0.99)
        run.max_seconds = from_run[-1]
    if from_poll:
        run.p50_from_poll_seconds = percentile(from_poll, 0.50)
        run.p99_from_poll_seconds = percentile(from_poll, 0.99)
    if polls and arrivals:
        run.wall_seconds = max(arrivals.values()) - min(polls.values())


_COMMANDS = """
SELECT u.property_id, u.pms_unit_id, c.requested_at, e.done_at, c.finished_at
FROM device_commands c
JOIN units u ON u.id = c.unit_id
LEFT JOIN effects e ON e.kind = 'device_command' AND e.idempotency_key = c.idempotency_key
WHERE c.configuration = 'vacant' AND c.requested_at >= %s
"""
_INVITES = """
SELECT i.email, i.sent_at, e.done_at
FROM invites i
LEFT JOIN effects e ON e.kind = 'invite_email' AND e.idempotency_key = 'invite:' || i.id
WHERE i.sent_at >= %s
"""
SEGMENTS = (
    "sync start → vacant command decided",
    "decided → command handed to the devices",
    "handed → devices' report applied",
    "report applied → invite decided",
    "invite decided → invite delivery started",
    "delivery started → arrived at the sink",
)


def segments(
    database_url: str,
    turnovers: list[Turnover],
    since: datetime,
    starts: dict[int, float],
    arrivals: dict[str, float],
) -> dict[str, dict[str, float]]:
    """Where each turnover's latency went: p50 and p99 of each step, in seconds."""
    with psycopg.connect(server_url(database_url), autocommit=True) as connection:
        commands = connection.execute(_COMMANDS, (since,)).fetchall()
        invites = connection.execute(_INVITES, (since,)).fetchall()
    by_unit = {(int(row[0]), str(row[1])): row[2:] for row in commands}
    by_address = {str(row[0]): row[1:] for row in invites}
    steps: list[list[float]] = [[] for _ in SEGMENTS]
    for turnover in turnovers:
        command = by_unit.get((turnover.property_id, turnover.unit))
        invite = by_address.get(turnover.address)
        if command is None or invite is None or turnover.address not in arrivals:
            continue
        instants = [starts.get(turnover.property_id), *command, *invite]
        instants.append(arrivals[turnover.address])
        moments = [_timestamp(i) if isinstance(i, datetime) else i for i in instants]
        for number, (begin, end) in enumerate(pairwise(moments)):
            if begin is not None and end is not None:
                steps[number].append(float(end) - float(begin))
    return {
        name: {
            "p50": percentile(sorted(values), 0.5),
            "p99": percentile(sorted(values), 0.99),
        }
        for name, values in zip(SEGMENTS, steps, strict=True)
        if values
    }


def percentile(ordered: list[float], share: float) -> float:
    """The nearest-rank percentile of an ascending list."""
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]
