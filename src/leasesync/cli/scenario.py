"""``leasesync scenario run FILE``: run a scenario on the embedded stack (FORMAT.md).

Exit statuses follow FORMAT.md: 0 when every expectation holds, 1 when one fails (each
failing expectation is printed with its expected and actual value), 2 when the file
itself is invalid (its location and the reason are printed).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from leasesync.cli.context import fail

app = typer.Typer(
    help="Run scenario files on the embedded stack.", no_args_is_help=True
)

EXIT_EXPECTATION = 1
EXIT_INVALID = 2


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="scenario")


@app.command("run")
def run_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The scenario file (YAML or JSON).")],
    report: Annotated[
        Path | None,
        typer.Option("--report", metavar="OUT.json", help="Write the report."),
    ] = None,
) -> None:
    """Run FILE and check its expectations."""
    from leasesync.cli.context import state
    from leasesync.logs import configure_logging
    from leasesync.scenarios.format import ScenarioFileError

    chosen = state(ctx)
    configure_logging(chosen.log_format or "text", chosen.log_level or "WARNING")
    if report is not None and report.is_dir():
        fail(f"--report {report}: is a folder; name a file", code=EXIT_INVALID)
    try:
        result = run_file(file)
    except ScenarioFileError as error:
        fail(f"{file}: invalid scenario: {error}", code=EXIT_INVALID)
    if report is not None:
        write_report(result, report)
    failures = [e for e in result["expectations"] if not e["ok"]]
    for failure in failures:
        typer.echo(
            f"FAIL {failure['path']}: expected {json.dumps(failure['expected'])}, "
            f"actual {json.dumps(failure['actual'])}",
            err=True,
        )
    total = len(result["expectations"])
    typer.echo(
        f"{result['scenario']}: {total - len(failures)} of {total} expectations hold"
    )
    if failures:
        raise typer.Exit(EXIT_EXPECTATION)


def run_file(file: Path) -> dict[str, Any]:
    """Load, run and report one scenario file."""
    from leasesync.scenarios.format import load_scenario
    from leasesync.scenarios.reporting import build_report
    from leasesync.scenarios.running import embedded_run, play

    scenario = load_scenario(file)
    with embedded_run(scenario) as run:
        play(run)
        return build_report(run)


def write_report(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", "utf-8")
