"""Test doubles shared by the gateway tests: a controllable clock, ports, the broker.

A plain module rather than a ``conftest.py``: test folders have no ``__init__.py``,
and two ``conftest`` modules would collide for mypy. Test files import from here.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from leasesync.domain.ports import ConfigurationReport

MQTT_HOST, MQTT_PORT = "127.0.0.1", 1883


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current


START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def free_port() -> int:
    """A loopback port nobody listens on (bound, read, released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _broker_open() -> bool:
    try:
        with socket.create_connection((MQTT_HOST, MQTT_PORT), timeout=0.5):
            return True
    except OSError:
        return False


def require_mqtt_broker() -> tuple[str, int]:
    """The local Mosquitto; skips visibly unless LEASESYNC_REQUIRE_MQTT=1 demands it."""
    if not _broker_open():
        reason = f"no MQTT broker at {MQTT_HOST}:{MQTT_PORT}"
        if os.environ.get("LEASESYNC_REQUIRE_MQTT") == "1":
            pytest.fail(f"{reason}, and LEASESYNC_REQUIRE_MQTT=1")
        pytest.skip(reason)
    return MQTT_HOST, MQTT_PORT


def unique_topic_prefix() -> str:
    """A prefix no other test run shares, so parallel runs on one broker stay apart."""
    return f"leasesync-test/{uuid.uuid4().hex[:12]}"


class ReportCollector:
    """A report sink that remembers what it got, safe to call from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reports: list[ConfigurationReport] = []

    def __call__(self, report: ConfigurationReport) -> None:
        with self._lock:
            self._reports.append(report)

    @property
    def reports(self) -> list[ConfigurationReport]:
        with self._lock:
            return list(self._reports)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ConfigurationReport]:
        """The reports once ``count`` have come, or all there are after ``timeout``."""
        deadline = time.monotonic() + timeout
        while len(self.reports) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.reports
