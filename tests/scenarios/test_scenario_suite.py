"""End to end: every scenario file runs on the embedded stack and its expectations hold.

The scenarios in ``scenarios/`` and the shared examples beside the repository are the
acceptance suite of the lifecycle rules (each file names its rules). They go through
the real connector over HTTP, the engine, the store and the simulators.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leasesync.cli.main import app
from leasesync.cli.scenario import run_file

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "scenarios"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SUITE = sorted((REPO / "scenarios").glob("*.yaml")) + sorted(SHARED.glob("*.yaml"))


@pytest.mark.parametrize("path", SUITE, ids=[p.stem for p in SUITE])
def test_scenario_expectations_hold(path: Path) -> None:
    report = run_file(path)

    failures = [e for e in report["expectations"] if not e["ok"]]
    assert report["expectations"], "a scenario in the suite must expect something"
    assert not failures, json.dumps(failures, indent=1)


def test_the_shared_examples_are_part_of_the_suite() -> None:
    names = {p.name for p in SUITE}
    assert {"move-in.yaml", "roommate-change.yaml", "turnover.yaml"} <= names


def test_a_failing_expectation_exits_1_and_names_it(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = CliRunner().invoke(
        app,
        [
            "scenario",
            "run",
            str(FIXTURES / "failing_expectation.yaml"),
            "--report",
            str(out),
        ],
    )

    assert result.exit_code == 1
    report = json.loads(out.read_text())
    failing = [e["path"] for e in report["expectations"] if not e["ok"]]
    assert failing
    assert all(f"FAIL {path}" in result.output for path in failing)


@pytest.mark.parametrize(
    ("fixture", "location"),
    [
        ("malformed_unknown_key.yaml", "unknown key 'wait'"),
        ("malformed_bad_date.yaml", "steps[2].at"),
        ("malformed_wrong_type.yaml", "property.settings.poll_minutes"),
    ],
)
def test_a_malformed_scenario_exits_2_with_its_location(
    fixture: str, location: str
) -> None:
    result = CliRunner().invoke(app, ["scenario", "run", str(FIXTURES / fixture)])

    assert result.exit_code == 2
    assert location in result.output


def test_running_a_scenario_twice_gives_identical_reports() -> None:
    path = SHARED / "move-in.yaml"

    first, second = run_file(path), run_file(path)

    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
