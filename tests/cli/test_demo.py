"""``leasesync demo`` tells the bundled story end to end and writes its report."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from leasesync.cli.main import app


def test_demo_runs_the_bundled_property_and_writes_the_report(tmp_path: Path) -> None:
    report = tmp_path / "demo.json"

    result = CliRunner().invoke(app, ["demo", "--report", str(report)])

    assert result.exit_code == 0, result.output
    written = json.loads(report.read_text())
    assert all(e["ok"] for e in written["expectations"])
    # The story the demo promises (issue #5): move-ins, a roommate, a renewal, a
    # turnover, and a held sync after a glitch that staff approve.
    events = {(e["event"], e["rule"]) for e in written["timeline"]}
    assert {
        ("send_invite", "L6"),
        ("reconfigure", "L7"),
        ("sync_held", "L12"),
        ("sync_approved", "L12"),
    } <= events
    assert "What happened, and why" in result.output
    assert "Morgan Lee" in result.output
