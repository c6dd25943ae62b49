"""``leasesync serve`` on a fresh folder with no configuration at all (issue #6).

The real entry point runs in a subprocess with no ``LEASESYNC_…`` variable and an
empty working directory: it must create its SQLite database under ``./data``, link
the bundled simulated property, print its URL and staff token, answer the state
endpoint, and run its in-process worker (an installer's mark sends invites to the
outbox, whose links open the invite page).
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from leasesync.gateways.mail.outbox import list_outbox


class Served:
    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line.rstrip("\n"))

    def line_starting(self, prefix: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=0.2)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            if line.startswith(prefix):
                return line
        raise AssertionError(f"serve printed no line starting {prefix!r}")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.upper().startswith("LEASESYNC_")
    }
    with (tmp_path / "serve.log").open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "leasesync.cli.main", "serve", "--port", "0"],
            cwd=tmp_path,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        try:
            yield Served(process)
        finally:
            process.terminate()
            process.wait(15)


def test_serve_runs_the_embedded_default_on_a_fresh_folder(
    served: Served, tmp_path: Path
) -> None:
    url = served.line_starting("leasesync is serving on ").split()[-1]
    token = served.line_starting("staff API token: ").split()[-1]
    staff = {"Authorization": f"Bearer {token}"}

    state = httpx.get(f"{url}/api/properties/1/state", headers=staff, timeout=10)
    refused = httpx.get(f"{url}/api/properties/1/state", timeout=10)

    assert state.status_code == 200
    assert state.json()["property"] == {
        "linked": True,
        "sync": "ok",
        "name": "Maple Court",
    }
    assert len(state.json()["units"]) == 6
    assert refused.status_code == 401
    assert (tmp_path / "data" / "leasesync.sqlite3").is_file()

    installed = httpx.post(
        f"{url}/api/properties/1/units/30101/installed", headers=staff, timeout=10
    )
    assert installed.status_code == 200
    outbox = tmp_path / "data" / "outbox"
    deadline = time.monotonic() + 15
    while len(list_outbox(outbox)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    mails = list_outbox(outbox)
    assert sorted(m.to for m in mails) == [
        "ann.avery@example.com",
        "ben.avery@example.com",
    ]
    # The links point at this server (no base_url was configured).
    assert mails[0].accept_url.startswith(f"{url}/invites/accept?token=")
    page = httpx.get(mails[0].accept_url, timeout=10)
    assert page.status_code == 200
    assert "Maple Court" in page.text


def test_serve_stops_cleanly_on_sigterm(served: Served) -> None:
    served.line_starting("leasesync is serving on ")

    served.process.terminate()

    assert served.process.wait(15) == 0
