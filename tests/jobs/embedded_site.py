"""The embedded stack on SQLite with the bundled property linked, for in-process tests.

The bundled simulated RealPage site (src/leasesync/embedded/maple_court.yaml) is
served over real HTTP on loopback; the engine runs under a clock the test moves.
Its residents' dates lie in 2025, so at :data:`START` they are all current, except
the household signed for 2031 in unit 30203.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from leasesync.config import Settings, load_settings
from leasesync.embedded.bundled import ensure_linked, load_bundled
from leasesync.simulators.realpage import RealPageSimulator
from leasesync.simulators.serving import serve_in_thread
from leasesync.store import db
from leasesync.wiring import Gateways, Stack, open_stack

START = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


class MovableClock:
    def __init__(self, start: datetime = START) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@dataclass(kw_only=True)
class EmbeddedSite:
    settings: Settings
    stack: Stack
    simulator: RealPageSimulator
    clock: MovableClock
    property_id: int


@contextmanager
def embedded_site(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    gateways: Gateways | None = None,
    environment: dict[str, str] | None = None,
) -> Iterator[EmbeddedSite]:
    monkeypatch.setenv("LEASESYNC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LEASESYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite3'}")
    monkeypatch.setenv("LEASESYNC_SECRET_KEY", "embedded-test-secret-0123456789")
    monkeypatch.setenv("LEASESYNC_DEVICES__SIMULATED_DELAY_SECONDS", "0")
    for name, value in (environment or {}).items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    db.upgrade(settings.database_url)
    bundled = load_bundled()
    clock = MovableClock()
    simulator = bundled.simulator()
    with serve_in_thread(simulator) as url:
        endpoints = {bundled.pms_ref: url}
        with open_stack(
            settings, clock=clock, gateways=gateways, endpoints=endpoints
        ) as stack:
            property_id = ensure_linked(stack.engine, bundled, url)
            yield EmbeddedSite(
                settings=settings,
                stack=stack,
                simulator=simulator,
                clock=clock,
                property_id=property_id,
            )
