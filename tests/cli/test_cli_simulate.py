"""``leasesync simulate realpage|devices``: the simulators as standalone servers."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from leasesync.connectors.realpage.connector import RealPageConnector
from leasesync.domain.ports import (
    CommandOutcome,
    Configuration,
    ConfigurationReport,
    ConfigurationRequest,
)
from leasesync.gateways.mqtt import MqttDeviceGateway
from leasesync.simulators.realpage import SCENARIO_LICENSE_KEY

SCENARIO = """\
format: leasesync-scenario/1
name: one unit, one household
property:
  pms: realpage
  pmcid: 7770001
  siteid: 7770101
  name: Birch Hall
  timezone: America/New_York
  units:
    - {UnitID: "40101", UnitNumber: "101"}
start: 2027-01-04T09:00
steps:
  - at: 2027-01-04T09:00
    pms:
      residents:
        - {residentmemberid: "90001", residenthouseholdid: "91001", leaseid: "92001",
           unitid: "40101", leasestatus: Current, residenttype: H, hohbit: true,
           firstname: Gus, lastname: Hale, email: gus@example.com,
           begindate: 2026-06-01, enddate: 2027-05-31, moveindate: 2026-06-01}
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@contextmanager
def _running(*args: str) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "leasesync.cli.main", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(10)


def test_simulate_realpage_serves_a_scenarios_last_pms_state(tmp_path: Path) -> None:
    scenario = tmp_path / "birch.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    port = _free_port()

    with _running(
        "simulate", "realpage", "--scenario", str(scenario), "--port", str(port)
    ):
        deadline = time.monotonic() + 15
        while not _answers(port) and time.monotonic() < deadline:
            time.sleep(0.1)
        with RealPageConnector(
            url=f"http://127.0.0.1:{port}/",
            pmcid="7770001",
            siteid="7770101",
            license_key=SCENARIO_LICENSE_KEY,
        ) as connector:
            snapshot = connector.fetch_snapshot()

    assert [u.unit_id for u in snapshot.units] == ["40101"]
    assert [m.person.person_id for m in snapshot.memberships] == ["90001"]


def test_simulate_devices_answers_a_reconfiguration_over_mqtt() -> None:
    if not _answers(1883):
        pytest.skip("no MQTT broker at 127.0.0.1:1883")
    prefix = f"leasesync-cli-test/{uuid.uuid4().hex[:12]}"
    reports: list[ConfigurationReport] = []
    sent: list[str] = []
    arrived = threading.Event()

    def sink(report: ConfigurationReport) -> None:
        reports.append(report)
        arrived.set()

    gateway = MqttDeviceGateway("127.0.0.1", 1883, prefix, sink)
    gateway.start()
    try:
        with _running("simulate", "devices", "--prefix", prefix, "--delay", "0.1"):
            deadline = time.monotonic() + 15
            while not arrived.is_set() and time.monotonic() < deadline:
                # NB: a request before the fleet has subscribed is lost, as it
                # would be on a real broker; a new one goes out until it answers.
                sent.append(f"k-{uuid.uuid4().hex}")
                gateway.request(
                    ConfigurationRequest(
                        idempotency_key=sent[-1],
                        unit_key="p1/40101",
                        configuration=Configuration.VACANT,
                    )
                )
                arrived.wait(0.5)
            time.sleep(0.3)
    finally:
        gateway.stop()

    assert reports, "the fleet never answered"
    assert {r.outcome for r in reports} == {CommandOutcome.COMPLETED}
    assert {r.idempotency_key for r in reports} <= set(sent)
    assert all(r.at <= datetime.now(UTC) for r in reports)
