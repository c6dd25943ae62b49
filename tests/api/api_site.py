"""The API on the embedded stack, for in-process tests: a client and what is behind it.

SQLite, the bundled property linked from the RealPage simulator on loopback, mail
to the outbox folder, and a clock the test moves. Devices are a recording double
that never answers, so a test plays the device gateway's report itself through
``POST /api/device-reports``. Background work runs when the test says, one round
of the embedded worker at a time.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from leasesync.api.app import create_app
from leasesync.api.auth import staff_token
from leasesync.api.server import services_for
from leasesync.config import Settings, load_settings
from leasesync.domain.ports import ConfigurationRequest
from leasesync.embedded.bundled import ensure_linked, load_bundled
from leasesync.engine.states import property_state
from leasesync.gateways.mail.outbox import list_outbox
from leasesync.jobs.embedded import EmbeddedWorker
from leasesync.simulators.serving import serve_in_thread
from leasesync.store import db
from leasesync.wiring import Gateways, Stack, open_stack

with warnings.catch_warnings():
    # NB: Starlette would rather have httpx2, which this project does not install;
    # its test client works the same on httpx.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

START = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
SECRET = "api-test-secret-key-0123456789"


class MovableClock:
    def __init__(self) -> None:
        self.current = START

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@dataclass
class RecordingDevices:
    """Takes reconfiguration requests and never answers."""

    requests: list[ConfigurationRequest] = field(default_factory=list)

    def request(self, request: ConfigurationRequest) -> None:
        self.requests.append(request)


@dataclass(kw_only=True)
class ApiSite:
    settings: Settings
    stack: Stack
    client: TestClient
    clock: MovableClock
    devices: RecordingDevices
    worker: EmbeddedWorker
    property_id: int
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def state(self) -> dict[str, object]:
        engine = self.stack.engine
        with engine.transaction() as session:
            return property_state(session, self.property_id, engine.clock.now())

    def unit(self, key: str) -> dict[str, object]:
        units = self.state()["units"]
        assert isinstance(units, dict)
        found: dict[str, object] = units[key]
        return found

    def invite_token(self, address: str) -> str:
        """The token in the accept link of the latest invite mailed to ``address``."""
        mails = [e for e in list_outbox(self.settings.outbox_dir) if e.to == address]
        assert mails, f"no invite to {address} in the outbox"
        return parse_qs(urlparse(mails[-1].accept_url).query)["token"][0]


@contextmanager
def api_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiSite]:
    monkeypatch.setenv("LEASESYNC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LEASESYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite3'}")
    monkeypatch.setenv("LEASESYNC_SECRET_KEY", SECRET)
    settings = load_settings()
    db.upgrade(settings.database_url)
    bundled = load_bundled()
    clock, devices = MovableClock(), RecordingDevices()
    with (
        serve_in_thread(bundled.simulator()) as url,
        open_stack(
            settings,
            clock=clock,
            gateways=Gateways(devices=devices),
            endpoints={bundled.pms_ref: url},
        ) as stack,
    ):
        property_id = ensure_linked(stack.engine, bundled, url)
        worker = EmbeddedWorker(stack.engine)
        services = services_for(stack, worker.request_sync)
        with TestClient(create_app(services)) as client:
            yield ApiSite(
                settings=settings,
                stack=stack,
                client=client,
                clock=clock,
                devices=devices,
                worker=worker,
                property_id=property_id,
                token=staff_token(SECRET),
            )
