"""``leasesync worker``: refuses without PostgreSQL, prepares the queue, stops on SIGTERM."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psycopg
import pytest
from typer.testing import CliRunner

from leasesync.cli.main import app
from leasesync.store import db

runner = CliRunner()


def test_the_embedded_default_has_no_separate_worker() -> None:
    result = runner.invoke(app, ["worker"])

    assert result.exit_code == 2
    assert "LEASESYNC_WORKER=procrastinate" in result.stderr
    assert "leasesync serve" in result.stderr


def _conninfo(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _has_queue(url: str) -> bool:
    with psycopg.connect(_conninfo(url)) as connection:
        row = connection.execute(
            "SELECT to_regclass('procrastinate_jobs') IS NOT NULL"
        ).fetchone()
    return bool(row and row[0])


@pytest.mark.postgres
def test_init_creates_the_job_queue_once(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEASESYNC_DATABASE_URL", postgres_url)
    monkeypatch.setenv("LEASESYNC_WORKER", "procrastinate")

    first = runner.invoke(app, ["worker", "--init"])
    again = runner.invoke(app, ["worker", "--init"])

    assert (first.exit_code, first.stdout.strip()) == (0, "job queue created")
    assert (again.exit_code, again.stdout.strip()) == (0, "job queue already there")
    assert _has_queue(postgres_url)


@pytest.mark.postgres
def test_a_worker_prepares_its_queue_and_stops_on_sigterm(postgres_url: str) -> None:
    db.upgrade(postgres_url)
    environment = {
        **os.environ,
        "LEASESYNC_DATABASE_URL": postgres_url,
        "LEASESYNC_WORKER": "procrastinate",
        "LEASESYNC_SECRET_KEY": "worker-test-secret-0123456789",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "leasesync.cli.main", "worker", "--concurrency", "2"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not _has_queue(postgres_url) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        process.terminate()
        _out, errors = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
    assert _has_queue(postgres_url)
    assert process.returncode == 0, errors
    assert "Worker leasesync@" in errors and "stopped" in errors
