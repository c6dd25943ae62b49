"""Portfolio benchmarks on PostgreSQL, each beside its physical floor (issue #7).

Run ``make bench`` (quick: 10 properties × 200 units, about a minute) or
``make bench-full`` (200 × 500 = 100,000 units, 1,000 turnovers), or
``.venv/bin/python bench/run.py --help`` for the knobs. The database server is
``LEASESYNC_BENCH_DATABASE_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``);
the run creates a database of its own there and drops it at the end.

The phases, in one run, on one portfolio (:mod:`portfolio`) served over loopback
HTTP by RealPage simulators in a child process (:mod:`pms`):

1. *first link*: link and sync every property;
2. *unchanged resync*: sync them all again, PMS unchanged — should write nothing;
3. *1 % changed*: a hundredth of the households change, sync them all again;
4. *lifecycle*: turnovers (a household moves out, a new one moves in) through one
   and then two worker processes, timed from the start of the sync that sees the
   change to the new household's invite arriving at an SMTP sink (:mod:`lifecycle`).

Floors (:mod:`floors`): parsing the same response bytes (for 2 and 3) and that
plus a ``COPY`` of as many rows as the phase wrote (for 1 and 3). Results go to a
Rich table and to ``bench/results/<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import logging
import os
import platform
import pstats
import signal
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from floors import Floor, copy_floor, parse_floor
from leasesync.engine.linking import link_property
from leasesync.engine.runtime import Engine
from leasesync.engine.syncing import SyncOutcome, sync_property
from leasesync.store import db
from leasesync.store import models as m
from lifecycle import LOOP, SEGMENTS, LifecycleRun, available_modes, run_lifecycle
from measuring import (
    Measurement,
    analyze,
    current_rss_mb,
    fresh_database,
    measured,
    peak_rss_mb,
    server_settings,
)
from pms import PortfolioSpec, fetch_answers, portfolio_pms, site_url
from portfolio import PMCID, current_households, generate_site, site_identity, siteid_of
from stack import DroppedMail, RpxConnectors, build_engine, link_for

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
RESULTS = Path(__file__).parent / "results"
CHANGED_FRACTION = 0.01
FLOORS_CAPTION = (
    "floor: lxml parse of the same response bytes (unchanged resync), plus a "
    "PostgreSQL COPY of as many rows as the phase wrote (first link, 1 % changed)"
)
SIZES = {
    "quick": {"properties": 10, "units": 100, "turnovers": 30},
    "full": {"properties": 200, "units": 500, "turnovers": 1000},
}


@dataclass(kw_only=True)
class Bench:
    """One run's configuration and what it has found so far."""

    spec: PortfolioSpec
    database_url: str
    pms_url: str
    turnovers: int
    runs: list[tuple[str, int]]
    property_ids: list[int] = field(default_factory=list)
    measurements: list[Measurement] = field(default_factory=list)
    floors: dict[str, Floor] = field(default_factory=dict)
    lifecycle: list[LifecycleRun] = field(default_factory=list)

    def sites(self) -> Iterator[int]:
        return iter(range(self.spec.properties))


# -- the phases ----------------------------------------------------------------------


def first_link(bench: Bench) -> Measurement:
    """Phase 1: link every property (credentials checked, created, synced)."""
    engine, quiesce = _engine(bench)
    outcomes: list[SyncOutcome] = []
    checkpoints: list[dict[str, float]] = []
    with measured("first link", bench.database_url, quiesce) as result:
        for index in bench.sites():
            site = site_identity(index)
            url = site_url(bench.pms_url, site.siteid)
            connector = engine.connectors(_probe(site.siteid, url))
            property_id, outcome = link_property(engine, link_for(site, url), connector)
            bench.property_ids.append(property_id)
            outcomes.append(outcome)
            checkpoints.append({"properties": index + 1, "peak_rss_mb": peak_rss_mb()})
            _progress(index + 1, bench.spec.properties)
    result.extra.update(_summary(outcomes), rss_checkpoints=_thin(checkpoints))
    return result


def resync(bench: Bench, name: str) -> Measurement:
    """Phases 2 and 3: sync every linked property once, as a poll would."""
    engine, quiesce = _engine(bench)
    outcomes: list[SyncOutcome] = []
    with measured(name, bench.database_url, quiesce) as result:
        for property_id in bench.property_ids:
            outcomes.append(sync_property(engine, property_id, trigger="poll"))
    result.extra.update(_summary(outcomes))
    return result


def _progress(done: int, total: int) -> None:
    if total >= 20 and done % (total // 10) == 0:
        logging.getLogger("bench").warning(
            "first link: %d of %d properties", done, total
        )


def _engine(bench: Bench) -> tuple[Engine, Any]:
    database = db.create_engine_for(bench.database_url)
    connectors = RpxConnectors()
    engine = build_engine(database, mail=DroppedMail(), connectors=connectors)

    def quiesce() -> None:
        connectors.close()
        database.dispose()

    return engine, quiesce


def _probe(siteid: str, url: str) -> m.Property:
    """A transient property row, only to ask the connector factory for a connector."""
    return m.Property(pms_ref=f"{PMCID}/{siteid}", connection={"url": url})


def _summary(outcomes: list[SyncOutcome]) -> dict[str, Any]:
    return {
        "outcomes": dict(Counter(o.outcome for o in outcomes)),
        "units_changed": sum(o.units_changed for o in outcomes),
        "actions": sum(o.actions for o in outcomes),
    }


def _thin(points: list[dict[str, float]], keep: int = 11) -> list[dict[str, float]]:
    step = max(1, (len(points) - 1) // (keep - 1))
    chosen = points[::step]
    return chosen if chosen[-1] is points[-1] else [*chosen, points[-1]]


# -- the floors ----------------------------------------------------------------------


def response_bodies(bench: Bench) -> Iterator[bytes]:
    """Every RPX answer of every property (rendered now, so timed syncs do not wait)."""
    return fetch_answers(bench.pms_url, (siteid_of(i) for i in bench.sites()))


def switch_state(bench: Bench, **command: Any) -> None:
    """Ask the PMS process to serve a later state (see :func:`pms.PortfolioPms`)."""
    response = httpx.post(f"{bench.pms_url}/_bench/state", json=command, timeout=3600)
    response.raise_for_status()


def changed_households(bench: Bench) -> int:
    """How many households phase 3 changes (:func:`portfolio.change_households`)."""
    total = 0
    for index in bench.sites():
        site = generate_site(bench.spec.seed, index, bench.spec.units, bench.spec.today)
        households = len(current_households(site))
        total += max(1, round(households * CHANGED_FRACTION))
    return total


# -- profiling -----------------------------------------------------------------------


def profile_one_property(bench: Bench, stamp: str) -> dict[str, str]:
    """cProfile a first link and an unchanged resync of property 0, in a scratch database."""
    written: dict[str, str] = {}
    with fresh_database(bench.database_url) as url:
        db.upgrade(url)
        scratch = Bench(
            spec=bench.spec,
            database_url=url,
            pms_url=bench.pms_url,
            turnovers=0,
            runs=[],
        )
        engine, quiesce = _engine(scratch)
        site = site_identity(0)
        link = link_for(site, site_url(bench.pms_url, site.siteid))
        connector = engine.connectors(_probe(site.siteid, link.connection["url"]))
        property_id, _ = _profiled(
            written, stamp, "first-link", link_property, engine, link, connector
        )
        _profiled(
            written, stamp, "unchanged-resync", sync_property, engine, property_id
        )
        quiesce()
    return written


def _profiled(
    written: dict[str, str], stamp: str, name: str, work: Any, *args: Any
) -> Any:
    profiler = cProfile.Profile()
    result = profiler.runcall(work, *args)
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text).strip_dirs()
    stats.sort_stats("cumulative").print_stats(40)
    stats.sort_stats("tottime").print_stats(25)
    path = RESULTS / f"{stamp}-profile-{name}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.getvalue(), encoding="utf-8")
    written[name] = str(path)
    return result


# -- the report ----------------------------------------------------------------------


def ratio(value: float, floor: Floor | None) -> float | None:
    if floor is None or floor.wall_seconds <= 0:
        return None
    return value / floor.wall_seconds


def combined(*parts: Floor) -> Floor:
    return Floor(
        wall_seconds=sum(p.wall_seconds for p in parts),
        cpu_seconds=sum(p.cpu_seconds for p in parts),
        items=sum(p.items for p in parts),
    )


def verdicts(bench: Bench, changed: int) -> list[dict[str, Any]]:
    """Issue #7's targets against what was measured."""
    phases = {item.name: item for item in bench.measurements}
    first, same, moved = (
        phases["first link"],
        phases["unchanged resync"],
        phases["1 % changed"],
    )
    same_ratio = ratio(same.wall_seconds, bench.floors["unchanged resync"])
    moved_ratio = ratio(moved.wall_seconds, bench.floors["1 % changed"])
    first_ratio = ratio(first.wall_seconds, bench.floors["first link"])
    share = moved.rows_written / max(first.rows_written, 1)
    checkpoints = first.extra["rss_checkpoints"]
    early = checkpoints[min(1, len(checkpoints) - 1)]["peak_rss_mb"]
    growth = checkpoints[-1]["peak_rss_mb"] / max(early, 1.0)
    targets = [
        _target(
            "unchanged resync writes nothing",
            same.rows_written == 0,
            f"{same.rows_written} rows",
        ),
        _target(
            "unchanged resync ≤ 2× floor",
            same_ratio is not None and same_ratio <= 2,
            f"{same_ratio:.1f}×" if same_ratio else "n/a",
        ),
        _target(
            "1 % changed: rows proportional to the change",
            share <= 3 * CHANGED_FRACTION,
            f"{moved.rows_written} rows for {changed} households "
            f"({moved.rows_written / max(changed, 1):.1f} each; "
            f"{share:.2%} of the first link's rows for a {CHANGED_FRACTION:.0%} change)",
        ),
        _target(
            "1 % changed ≤ 3× floor",
            moved_ratio is not None and moved_ratio <= 3,
            f"{moved_ratio:.1f}×" if moved_ratio else "n/a",
        ),
        _target(
            "first link ≤ 5× floor",
            first_ratio is not None and first_ratio <= 5,
            f"{first_ratio:.1f}×" if first_ratio else "n/a",
        ),
        _target(
            "peak RSS bounded by the largest property",
            growth <= 1.25,
            f"{early:.0f} MB after the first properties, "
            f"{checkpoints[-1]['peak_rss_mb']:.0f} MB after all ({growth:.2f}×)",
        ),
    ]
    for run in bench.lifecycle:
        if run.workers != 2:
            continue
        p99 = run.p99_seconds
        complete = run.arrived == run.turnovers
        targets.append(
            _target(
                f"lifecycle p99 < 2 s with two workers ({run.mode})",
                complete and p99 is not None and p99 < 2,
                "no invite arrived"
                if p99 is None
                else f"p99 {p99:.2f} s, {run.arrived} of {run.turnovers} arrived",
            )
        )
    return targets


def _target(name: str, met: bool, measured_value: str) -> dict[str, Any]:
    return {"target": name, "met": met, "measured": measured_value}


def render(bench: Bench, targets: list[dict[str, Any]], console: Console) -> None:
    table = Table(title=_title(bench), caption=FLOORS_CAPTION)
    for column in (
        "phase",
        "wall s",
        "CPU s",
        "DB CPU s",
        "peak RSS MB",
        "rows written",
        "floor s",
        "× floor",
    ):
        table.add_column(column, justify="left" if column == "phase" else "right")
    for item in bench.measurements:
        floor = bench.floors.get(item.name)
        shown = ratio(item.wall_seconds, floor)
        table.add_row(
            item.name,
            f"{item.wall_seconds:.2f}",
            f"{item.cpu_seconds:.2f}",
            "–" if item.db_cpu_seconds is None else f"{item.db_cpu_seconds:.2f}",
            f"{item.peak_rss_mb:.0f}",
            f"{item.rows_written:,}",
            "–" if floor is None else f"{floor.wall_seconds:.2f}",
            "–" if shown is None else f"{shown:.1f}×",
        )
    console.print(table)
    _render_lifecycle(bench, console)
    _render_targets(targets, console)


def _title(bench: Bench) -> str:
    spec = bench.spec
    return (
        f"leasesync benchmarks: {spec.properties} properties × {spec.units} units "
        f"= {spec.properties * spec.units:,} units, PostgreSQL"
    )


def _render_lifecycle(bench: Bench, console: Console) -> None:
    if not bench.lifecycle:
        return
    table = Table(
        title="lifecycle: turnover seen by a sync → new household's invite at the SMTP sink",
        caption="from run: from the start of the sync run that applied it; "
        "from poll: from the job's defer (procrastinate) or the sync call (loop)",
    )
    for column in (
        "mode",
        "workers",
        "turnovers",
        "arrived",
        "p50 s",
        "p99 s",
        "max s",
        "p50 s from poll",
        "p99 s from poll",
        "worker CPU s",
        "rows written",
    ):
        table.add_column(column, justify="left" if column == "mode" else "right")
    for run in bench.lifecycle:
        table.add_row(
            run.mode,
            str(run.workers),
            str(run.turnovers),
            str(run.arrived),
            _seconds(run.p50_seconds),
            _seconds(run.p99_seconds),
            _seconds(run.max_seconds),
            _seconds(run.p50_from_poll_seconds),
            _seconds(run.p99_from_poll_seconds),
            f"{run.worker_cpu_seconds:.1f}",
            f"{run.rows_written:,}",
        )
    console.print(table)
    _render_segments(bench, console)


def _render_segments(bench: Bench, console: Console) -> None:
    table = Table(title="where a turnover's latency goes (p50 / p99 s)")
    table.add_column("step")
    for run in bench.lifecycle:
        table.add_column(f"{run.mode}, {run.workers}w", justify="right")
    names = {name for run in bench.lifecycle for name in run.segments}
    for name in [n for n in SEGMENTS if n in names]:
        cells = [
            "–"
            if name not in run.segments
            else f"{run.segments[name]['p50']:.2f} / {run.segments[name]['p99']:.2f}"
            for run in bench.lifecycle
        ]
        table.add_row(name, *cells)
    console.print(table)


def _seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _render_targets(targets: list[dict[str, Any]], console: Console) -> None:
    table = Table(title="targets (issue #7)")
    for column in ("target", "met", "measured"):
        table.add_column(column)
    for target in targets:
        met = "[green]yes[/green]" if target["met"] else "[red]no[/red]"
        table.add_row(target["target"], met, target["measured"])
    console.print(table)


def machine() -> dict[str, Any]:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def write_results(
    bench: Bench, targets: list[dict[str, Any]], extra: dict[str, Any], stamp: str
) -> Path:
    """Write what is known so far; called after every phase, so a late failure keeps it."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    document = {
        "format": "leasesync-bench/1",
        "at": stamp,
        "machine": machine(),
        "portfolio": {**asdict(bench.spec), "today": bench.spec.today.isoformat()},
        "measurements": [asdict(item) for item in bench.measurements],
        "floors": {name: asdict(floor) for name, floor in bench.floors.items()},
        "lifecycle": [asdict(run) for run in bench.lifecycle],
        "targets": targets,
        **extra,
    }
    path = RESULTS / f"{stamp}.json"
    path.write_text(json.dumps(document, indent=2, default=str), encoding="utf-8")
    return path


# -- the run -------------------------------------------------------------------------


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else ""
    )
    parser.add_argument("--size", choices=sorted(SIZES), default="quick")
    parser.add_argument("--properties", type=int)
    parser.add_argument("--units", type=int)
    parser.add_argument("--turnovers", type=int)
    parser.add_argument("--workers", default="1,2", help="worker counts, e.g. 1,2")
    parser.add_argument(
        "--lifecycle-modes",
        default=",".join(available_modes()),
        help="procrastinate and/or loop (the in-process delivery loop)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-lifecycle", action="store_true")
    parser.add_argument("--profile", action="store_true", help="cProfile one property")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("LEASESYNC_BENCH_DATABASE_URL", DEFAULT_DATABASE_URL),
    )
    return parser.parse_args(argv)


def _interrupted(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    # NB: a run started in the background inherits an ignored SIGINT, and SIGTERM
    # would end it without cleanup; both must drop the database and stop the PMS.
    signal.signal(signal.SIGINT, _interrupted)
    signal.signal(signal.SIGTERM, _interrupted)
    options = parse_arguments(argv)
    size = SIZES[options.size]
    spec = PortfolioSpec(
        seed=options.seed,
        properties=options.properties or size["properties"],
        units=options.units or size["units"],
        today=datetime.now(UTC).date(),
    )
    turnovers = (
        options.turnovers if options.turnovers is not None else size["turnovers"]
    )
    counts = [int(w) for w in options.workers.split(",") if w.strip()]
    modes = [_mode(name) for name in options.lifecycle_modes.split(",") if name.strip()]
    runs = [(mode, count) for mode in modes for count in counts]
    logging.basicConfig(level=logging.WARNING)
    console = Console()
    if not console.is_terminal:
        console = Console(width=150)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    with fresh_database(options.database_url) as url:
        db.upgrade(url)
        with portfolio_pms(spec) as pms_url:
            bench = Bench(
                spec=spec,
                database_url=url,
                pms_url=pms_url,
                turnovers=0 if options.no_lifecycle else turnovers,
                runs=runs,
            )
            extra = run_phases(bench, console, stamp, profile=options.profile)
    targets = verdicts(bench, extra["changed_households"])
    render(bench, targets, console)
    path = write_results(bench, targets, extra, stamp)
    console.print(f"results: {path}")
    return 0


def _mode(name: str) -> str:
    name = name.strip()
    return {"loop": LOOP}.get(name, name)


def run_phases(
    bench: Bench, console: Console, stamp: str, *, profile: bool
) -> dict[str, Any]:
    """Every phase and floor in order; returns what the report needs besides them."""
    extra: dict[str, Any] = {"complete": False}

    def say(message: str) -> None:
        write_results(bench, [], extra, stamp)
        console.log(message)

    say(f"portfolio PMS at {bench.pms_url}; rendering and parsing the base answers")
    base_parse = parse_floor(response_bodies(bench))
    say("phase 1: first link")
    bench.measurements.append(first_link(bench))
    extra["server"] = server_settings(bench.database_url)
    analyze(bench.database_url)
    say("phase 2: unchanged resync")
    bench.measurements.append(resync(bench, "unchanged resync"))

    say("serving the 1 % change; rendering and parsing its answers")
    switch_state(bench, fraction=CHANGED_FRACTION)
    changed_parse = parse_floor(response_bodies(bench))
    changed = changed_households(bench)
    extra["changed_households"] = changed
    say("phase 3: 1 % changed")
    bench.measurements.append(resync(bench, "1 % changed"))

    say("floors: COPY of as many rows as phases 1 and 3 wrote")
    rows = {item.name: item.rows_written for item in bench.measurements}
    properties = bench.spec.properties
    bench.floors["first link"] = combined(
        base_parse, copy_floor(bench.database_url, rows["first link"], properties)
    )
    bench.floors["unchanged resync"] = base_parse
    bench.floors["1 % changed"] = combined(
        changed_parse, copy_floor(bench.database_url, rows["1 % changed"], properties)
    )
    if bench.turnovers:
        bench.lifecycle.extend(
            run_lifecycle(
                spec=bench.spec,
                database_url=bench.database_url,
                pms_url=bench.pms_url,
                property_ids=bench.property_ids,
                turnovers=bench.turnovers,
                runs=bench.runs,
                fraction=CHANGED_FRACTION,
                say=say,
            )
        )
    extra.update(
        changed_households=changed,
        parse_floor_items=base_parse.items,
        process_rss_mb_at_end=current_rss_mb(),
    )
    if profile:
        say("profiling one property's first link and unchanged resync")
        try:
            extra["profiles"] = profile_one_property(bench, stamp)
        except Exception as error:  # NB: a profile is a bonus; keep the figures
            extra["profiles"] = {"error": repr(error)}
    extra["complete"] = True
    return extra


if __name__ == "__main__":
    sys.exit(main())
