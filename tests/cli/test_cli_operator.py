"""The operator's commands (SPEC §6): property link|list, sync, state, unit mark-installed.

They run in-process through the Typer app against an SQLite database and the bundled
simulated RealPage site served over real HTTP on loopback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from leasesync.cli.main import app
from leasesync.embedded.bundled import BundledProperty, load_bundled
from leasesync.simulators.realpage import SCENARIO_LICENSE_KEY
from leasesync.simulators.serving import serve_in_thread

runner = CliRunner()


def invoke(*args: str) -> Result:
    return runner.invoke(app, list(args))


@pytest.fixture
def bundled() -> BundledProperty:
    return load_bundled()


@pytest.fixture
def rpx_url(bundled: BundledProperty) -> Iterator[str]:
    with serve_in_thread(bundled.simulator()) as url:
        yield url


@pytest.fixture(autouse=True)
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("LEASESYNC_DATABASE_URL", url)
    return url


def link(url: str, bundled: BundledProperty, *extra: str, key: str = "") -> Result:
    return invoke(
        "property",
        "link",
        "--url",
        url,
        "--pmcid",
        bundled.pmcid,
        "--siteid",
        bundled.siteid,
        "--license-key",
        key or SCENARIO_LICENSE_KEY,
        "--name",
        "Maple Court",
        "--timezone",
        "America/Chicago",
        "--common-area",
        "lobby",
        "--common-area",
        "gym",
        *extra,
    )


def errors(result: Result) -> list[str]:
    """The command's own error lines on stderr (log records start with a time)."""
    return [
        line for line in result.stderr.splitlines() if line.startswith("leasesync:")
    ]


def properties() -> list[dict[str, object]]:
    listed = invoke("property", "list", "--json")
    assert listed.exit_code == 0, listed.output
    found: list[dict[str, object]] = json.loads(listed.stdout)
    return found


def test_link_checks_then_stores_then_syncs(
    rpx_url: str, bundled: BundledProperty
) -> None:
    result = link(rpx_url, bundled, "--json")

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["property_id"] == 1
    assert report["sync"]["outcome"] == "applied"
    assert report["sync"]["units_changed"] == 6
    assert properties() == [
        {
            "id": 1,
            "name": "Maple Court",
            "pms": "realpage",
            "pms_ref": "1000001/1000101",
            "timezone": "America/Chicago",
            "sync": "ok",
            "units": 6,
            "poll_minutes": 15,
        }
    ]


def test_linking_twice_changes_nothing(rpx_url: str, bundled: BundledProperty) -> None:
    link(rpx_url, bundled)

    again = link(rpx_url, bundled, "--json")

    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["sync"]["outcome"] == "unchanged"
    assert len(properties()) == 1


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"key": "11111111-2222-3333-4444-555555555555"}, "cannot link"),
        ({"url": "unreachable"}, "cannot reach the PMS"),
        ({"timezone": "Mars/Olympus_Mons"}, "unknown time zone"),
    ],
)
def test_a_link_that_cannot_work_says_why_in_one_line_and_stores_nothing(
    rpx_url: str, bundled: BundledProperty, change: dict[str, str], words: str
) -> None:
    url = rpx_url
    if change.get("url") == "unreachable":
        url = "http://127.0.0.1:9/rpx"  # the discard port: nothing listens
    extra = ("--timezone", change["timezone"]) if "timezone" in change else ()

    result = link(url, bundled, *extra, key=change.get("key", ""))

    assert result.exit_code == 1
    [line] = errors(result)
    assert words in line
    assert SCENARIO_LICENSE_KEY not in result.output
    assert "Traceback" not in result.output
    assert properties() == []


def test_state_json_is_formats_state(rpx_url: str, bundled: BundledProperty) -> None:
    link(rpx_url, bundled)

    result = invoke("state", "1", "--json")

    assert result.exit_code == 0, result.output
    state = json.loads(result.stdout)
    assert set(state) == {"at", "property", "units"}
    assert state["at"].endswith(("-06:00", "-05:00"))  # Chicago time
    unit = state["units"]["30202"]
    assert unit["number"] == "202"
    assert unit["residents"]["60006"]["status"] == "uninvitable"  # L3: no e-mail


def test_unit_mark_installed_releases_the_held_invites(
    rpx_url: str, bundled: BundledProperty
) -> None:
    link(rpx_url, bundled)

    marked = invoke("unit", "mark-installed", "1", "30101", "--actor", "Ivy")
    state = json.loads(invoke("state", "1", "--json").stdout)

    assert marked.exit_code == 0, marked.output
    assert "marked installed by Ivy" in marked.stdout
    unit = state["units"]["30101"]
    assert unit["installation"] == "complete"
    assert {r["status"] for r in unit["residents"].values()} == {"invited"}


def test_sync_of_unchanged_pms_data_changes_nothing(
    rpx_url: str, bundled: BundledProperty
) -> None:
    link(rpx_url, bundled)

    result = invoke("sync", "1", "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["outcome"] == "unchanged"  # L13


@pytest.mark.parametrize(
    "args",
    [
        ("sync", "9"),
        ("state", "9", "--json"),
        ("unit", "mark-installed", "9", "30101"),
    ],
)
def test_an_unknown_property_is_one_line_and_status_1(args: tuple[str, ...]) -> None:
    result = invoke(*args)

    assert result.exit_code == 1
    assert errors(result) == ["leasesync: no property 9"]


@pytest.mark.postgres
def test_commands_on_an_unmigrated_postgres_say_to_migrate(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEASESYNC_DATABASE_URL", postgres_url)

    result = invoke("property", "list")

    assert result.exit_code == 1
    assert "leasesync db upgrade" in result.stderr
