"""The embedded worker: the same work, on a thread, on SQLite (SPEC §5)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from embedded_site import EmbeddedSite, embedded_site
from jobs_doubles import wait_until

from leasesync.domain.ports import ConfigurationRequest
from leasesync.engine.completions import accept_invite, mark_installed
from leasesync.engine.states import property_state
from leasesync.gateways.doors import SimulatedDoorGateway
from leasesync.gateways.mail.outbox import list_outbox
from leasesync.jobs.embedded import EmbeddedWorker
from leasesync.wiring import Gateways


def _unit(site: EmbeddedSite, key: str) -> dict[str, object]:
    engine = site.stack.engine
    with engine.transaction() as session:
        state = property_state(session, site.property_id, engine.clock.now())
    unit: dict[str, object] = state["units"][key]
    return unit


def _token(accept_url: str) -> str:
    return parse_qs(urlparse(accept_url).query)["token"][0]


def test_the_embedded_worker_carries_a_move_in_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with embedded_site(tmp_path, monkeypatch) as site:
        worker = EmbeddedWorker(
            site.stack.engine,
            simulated_reports=site.stack.deliver_simulated_reports,
            tick_seconds=0.2,
        )
        worker.start()
        try:
            mark_installed(site.stack.engine, site.property_id, "30101", "installer")
            outbox = site.settings.outbox_dir
            wait_until(lambda: len(list_outbox(outbox)) == 2, 10, "two invites")
            ann = next(e for e in list_outbox(outbox) if e.to.startswith("ann"))
            accept_invite(site.stack.engine, _token(ann.accept_url))
            wait_until(
                lambda: _unit(site, "30101")["devices"] == "resident",
                10,
                "the resident configuration",
            )
        finally:
            worker.stop()

        unit = _unit(site, "30101")
        assert unit["residents"] == {
            "60001": {
                "name": "Ann Avery",
                "email": "ann.avery@example.com",
                "status": "active",
                "access": ["unit", "common:lobby", "common:gym"],
            },
            "60002": {
                "name": "Ben Avery",
                "email": "ben.avery@example.com",
                "status": "invited",
                "access": [],
            },
        }
        assert sorted(e.to for e in list_outbox(outbox)) == [
            "ann.avery@example.com",
            "ben.avery@example.com",
        ]


def test_a_sync_asked_for_twice_before_it_runs_runs_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with embedded_site(tmp_path, monkeypatch) as site:
        worker = EmbeddedWorker(site.stack.engine)
        before = site.simulator.request_count

        asked = [worker.request_sync(site.property_id) for _ in range(2)]
        worker.run_once()

        assert asked == [True, False]
        # One sync asks RealPage its four questions.
        assert site.simulator.request_count - before == 4


class _BrokenDevices:
    """A device gateway that fails in a way nobody planned for."""

    def request(self, request: ConfigurationRequest) -> None:
        raise ValueError("a bug in a gateway")


def test_one_failing_effect_does_not_hold_back_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doors = SimulatedDoorGateway()
    gateways = Gateways(devices=_BrokenDevices(), doors=doors)
    with embedded_site(tmp_path, monkeypatch, gateways=gateways) as site:
        worker = EmbeddedWorker(site.stack.engine)
        mark_installed(site.stack.engine, site.property_id, "30101", "installer")
        worker.run_once()
        ann = next(
            e for e in list_outbox(site.settings.outbox_dir) if e.to.startswith("ann")
        )
        accept_invite(site.stack.engine, _token(ann.accept_url))

        worker.run_once()

        # The resident configuration cannot be sent, but Ann's doors still open.
        assert _unit(site, "30101")["devices"] == "to_resident"
        granted = {(c.door, c.person) for c in doors.calls if c.operation == "grant"}
        assert granted == {
            ("p1/30101/unit", "p1/60001"),
            ("p1/common:lobby", "p1/60001"),
            ("p1/common:gym", "p1/60001"),
        }
