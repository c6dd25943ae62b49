"""The ``leasesync`` command's skeleton: help, version, global options, ``db …``.

Most tests drive the Typer app in-process; the ones about what a person sees when
start-up fails run the real entry point in a subprocess, since tracebacks and exit
statuses are decided there.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib.metadata import version
from pathlib import Path

import pytest
import typer
from pydantic import SecretStr
from sqlalchemy import func, inspect, select
from typer.testing import CliRunner, Result

from leasesync.cli.context import JsonOption, emit, sessions, to_jsonable
from leasesync.cli.main import app
from leasesync.store.db import create_engine_for, head_revisions, unit_of_work
from leasesync.store.models import Base, Property

runner = CliRunner()


def invoke(*args: str) -> Result:
    return runner.invoke(app, list(args))


def run_entry_point(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leasesync.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def database(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("LEASESYNC_DATABASE_URL", sqlite_url)
    return sqlite_url


def test_help_lists_the_global_options_and_the_db_group() -> None:
    result = invoke("--help")

    assert result.exit_code == 0
    for word in ("--config", "--log-format", "--version", "db"):
        assert word in result.stdout


def test_version_is_the_installed_distributions() -> None:
    result = invoke("--version")

    assert result.exit_code == 0
    assert result.stdout.strip() == f"leasesync {version('leasesync')}"


def test_db_upgrade_creates_every_table_and_current_reports_head(database: str) -> None:
    upgraded = invoke("db", "upgrade")
    current = invoke("db", "current", "--json")

    assert upgraded.exit_code == 0, upgraded.output
    assert current.exit_code == 0, current.output
    report = json.loads(current.stdout)
    assert report["current"] == report["head"] == list(head_revisions())
    assert report["up_to_date"] is True
    engine = create_engine_for(database)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_db_downgrade_to_base_leaves_no_revision(database: str) -> None:
    assert invoke("db", "upgrade").exit_code == 0

    result = invoke("db", "downgrade", "base", "--json")

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["current"] == []
    assert report["up_to_date"] is False


def test_db_downgrade_insists_on_a_revision(database: str) -> None:
    result = invoke("db", "downgrade")

    assert result.exit_code == 2


def test_a_config_file_given_on_the_command_line_is_used(tmp_path: Path) -> None:
    target = tmp_path / "from-config.sqlite3"
    config = tmp_path / "leasesync.toml"
    config.write_text(f'database_url = "sqlite:///{target}"\n', encoding="utf-8")

    result = invoke("--config", str(config), "db", "upgrade")

    assert result.exit_code == 0, result.output
    assert target.exists()
    assert str(target) in result.stdout


def test_json_log_format_writes_one_object_per_line_with_the_event(
    database: str,
) -> None:
    result = invoke("--log-format", "json", "db", "upgrade")

    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stderr.splitlines() if line]
    assert {"event": "db_upgrade", "revision": "head"}.items() <= records[0].items()
    assert records[0]["level"] == "INFO"


def test_an_unknown_revision_is_one_line_and_status_1(database: str) -> None:
    result = invoke("db", "upgrade", "no-such-revision")

    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1].startswith("leasesync: ")
    assert "no-such-revision" in result.stderr


def test_an_unreachable_database_is_one_line_without_its_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "LEASESYNC_DATABASE_URL", "postgresql://app:pw-not-shown@127.0.0.1:1/nowhere"
    )

    result = invoke("db", "current")

    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(
        "leasesync: database postgresql+psycopg://app:***@127.0.0.1:1/"
    )
    assert "pw-not-shown" not in result.output


def test_a_bad_setting_stops_start_up_with_one_line_and_status_2(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEASESYNC_DATABASE_URL", "nonsense://")

    completed = run_entry_point("db", "current")

    assert completed.returncode == 2
    (line,) = completed.stderr.strip().splitlines()
    assert line.startswith("LEASESYNC_DATABASE_URL: ")
    assert completed.stdout == ""


def test_bad_settings_do_not_stop_help(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEASESYNC_DATABASE_URL", "nonsense://")

    assert invoke("db", "--help").exit_code == 0


def _count_properties_app() -> typer.Typer:
    """A face as other modules write them: settings, one unit of work, output."""
    face = typer.Typer()

    @face.command()
    def count(ctx: typer.Context, as_json: JsonOption = False) -> None:
        with unit_of_work(sessions(ctx)) as session:
            total = session.scalar(select(func.count()).select_from(Property))
        emit({"properties": total}, as_json=as_json, text=f"{total} properties")

    return face


def test_a_face_reads_the_migrated_store_through_one_unit_of_work(
    database: str,
) -> None:
    assert invoke("db", "upgrade").exit_code == 0

    result = runner.invoke(_count_properties_app(), ["--json"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"properties": 0}


def test_a_face_refuses_a_database_that_is_not_migrated(database: str) -> None:
    result = runner.invoke(_count_properties_app(), [])

    assert result.exit_code == 1
    assert "leasesync db upgrade" in result.stderr


@dataclass(frozen=True, kw_only=True)
class _Row:
    at: datetime
    on: date
    where: Path
    token: SecretStr
    tags: frozenset[str]


def test_json_output_turns_our_values_into_plain_data() -> None:
    row = _Row(
        at=datetime(2025, 1, 31, 9, 0, tzinfo=UTC),
        on=date(2025, 2, 1),
        where=Path("/srv/leasesync"),
        token=SecretStr("never-printed"),
        tags=frozenset({"b", "a"}),
    )

    assert to_jsonable({"rows": [row]}) == {
        "rows": [
            {
                "at": "2025-01-31T09:00:00+00:00",
                "on": "2025-02-01",
                "where": "/srv/leasesync",
                "token": "**********",
                "tags": ["a", "b"],
            }
        ]
    }
