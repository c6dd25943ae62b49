"""``leasesync demo``: the product working, end to end, in under a minute.

It runs the bundled Maple Court scenario — five months of one small property — on the
embedded stack (SQLite, the RealPage simulator over real SOAP on loopback, simulated
devices and doors, the file outbox) under a virtual clock, prints what happened and
why as a timeline, then each unit's final state, and writes the full report.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import typer

from leasesync.cli.context import settings

RULE_STYLE = "dim"


def register(root: typer.Typer) -> None:
    root.command("demo")(demo)


def demo(
    ctx: typer.Context,
    report: Annotated[
        Path | None,
        typer.Option("--report", metavar="OUT.json", help="Where to write the report."),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", help="Only the final table.")
    ] = False,
) -> None:
    """Run the bundled demo property through five months and show what leasesync did."""
    from rich.console import Console

    from leasesync.cli.scenario import write_report
    from leasesync.logs import configure_logging
    from leasesync.scenarios.format import load_scenario

    data_dir = settings(ctx).data_dir
    configure_logging("text", "ERROR")
    console = Console()
    source = resources.files("leasesync.scenarios").joinpath("bundled/demo.yaml")
    with resources.as_file(source) as path:
        scenario = load_scenario(Path(path))
    console.rule(f"[bold]leasesync demo[/] — {scenario.property['name']}")
    with console.status("running five months of PMS changes on the embedded stack…"):
        result = _run(scenario)
    if not quiet:
        _timeline(console, result, scenario)
    _units(console, result)
    target = report or data_dir / "demo-report.json"
    write_report(result, target)
    _summary(console, result, target)


def _run(scenario: Any) -> dict[str, Any]:
    from leasesync.scenarios.reporting import build_report
    from leasesync.scenarios.running import embedded_run, play

    with embedded_run(scenario) as run:
        play(run)
        return build_report(run)


def _timeline(console: Any, result: dict[str, Any], scenario: Any) -> None:
    from rich.table import Table

    from leasesync.scenarios.narration import narrate, people_names

    names = people_names(scenario.steps)
    numbers = {
        key: unit["number"] for key, unit in result["snapshots"]["end"]["units"].items()
    }
    table = Table(title="What happened, and why", show_lines=False, expand=True)
    table.add_column("when (Chicago)", no_wrap=True)
    table.add_column("unit", no_wrap=True)
    table.add_column("what")
    table.add_column("rule", style=RULE_STYLE, no_wrap=True)
    for entry in result["timeline"]:
        if entry["event"] == "set_lifecycle":
            continue
        when = entry["at"][:16].replace("T", " ")
        unit = numbers.get(entry["unit"], entry["unit"] or "")
        table.add_row(when, unit, narrate(entry, names), entry["rule"])
    console.print(table)


def _units(console: Any, result: dict[str, Any]) -> None:
    from rich.table import Table

    end = result["snapshots"]["end"]
    table = Table(title=f"Units at {end['at'][:16].replace('T', ' ')}")
    for column in ("unit", "state", "devices", "installation", "residents"):
        table.add_column(column)
    for unit in end["units"].values():
        residents = "\n".join(
            f"{r['name']} — {r['status'].replace('_', ' ')}"
            + (f" ({', '.join(r['access'])})" if r["access"] else "")
            for r in unit["residents"].values()
        )
        table.add_row(
            unit["number"],
            unit["state"],
            unit["devices"],
            unit["installation"],
            residents or "—",
        )
    console.print(table)


def _summary(console: Any, result: dict[str, Any], target: Path) -> None:
    held = sum(1 for e in result["expectations"] if e["ok"])
    kinds = sorted({a["kind"] for a in result["alerts"]})
    console.print(
        f"{len(result['emails'])} invites e-mailed, "
        f"{len(result['device_commands'])} device reconfigurations, "
        f"alerts raised: {', '.join(kinds) or 'none'}."
    )
    console.print(
        f"{held} of {len(result['expectations'])} checks of the bundled scenario hold."
    )
    console.print(f"Full report: {target}")
    if held != len(result["expectations"]):
        failing = [e["path"] for e in result["expectations"] if not e["ok"]]
        console.print(f"[red]failing: {json.dumps(failing)}")
        raise typer.Exit(1)
