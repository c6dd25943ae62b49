"""Doubles shared by the jobs tests: PMS rows, a real SMTP sink, worker processes.

A plain module, not a ``conftest.py`` (see tests/gateways/gateway_doubles.py). The
SMTP sink is a real aiosmtpd server on loopback that records every message it
receives — before answering, so a test can kill the sender while the server still
holds the reply — and can hold its replies on request. Worker processes are the real
``leasesync worker`` entry point, started with the test's settings in their
environment.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiosmtpd.controller import Controller

from leasesync.simulators.realpage import SCENARIO_LICENSE_KEY

PMCID, SITEID = "5550001", "5550101"
ZONE = ZoneInfo("America/Chicago")
TOKEN_PATTERN = re.compile(r"/invites/accept\?token=([A-Za-z0-9_.\-]+)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def wait_until(
    check: Callable[[], bool], timeout: float, what: str, step: float = 0.05
) -> None:
    """Return once ``check()`` holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(step)


def local_today() -> date:
    return datetime.now(UTC).astimezone(ZONE).date()


# --- PMS rows -----------------------------------------------------------------------


def unit_row(unit_id: str) -> dict[str, Any]:
    return {"UnitID": unit_id, "UnitNumber": unit_id[-3:]}


def resident_row(
    *,
    person: str,
    household: str,
    unit: str,
    email_address: str,
    status: str = "Current",
    move_in: date,
    move_out: date | None = None,
) -> dict[str, Any]:
    """One head of household, in the scenario format's RealPage row fields."""
    row: dict[str, Any] = {
        "residentmemberid": person,
        "residenthouseholdid": household,
        "leaseid": f"L{household}",
        "unitid": unit,
        "leasestatus": status,
        "residenttype": "H",
        "hohbit": True,
        "firstname": f"P{person}",
        "lastname": "Test",
        "email": email_address,
        "begindate": move_in,
        "enddate": move_in + timedelta(days=365),
        "moveindate": move_in,
    }
    if move_out is not None:
        row["moveoutdate"] = move_out
        row["noticefordate"] = move_out
    return row


# --- SMTP ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class Arrival:
    to: str
    message_id: str
    message: EmailMessage


class SmtpSink:
    """An aiosmtpd handler that records each message, then (maybe) holds its reply."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._arrivals: list[Arrival] = []
        self._hold_for: set[str] = set()
        self._released = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        to = str(parsed["To"]).strip().lower()
        arrival = Arrival(to=to, message_id=str(parsed["Message-ID"]), message=parsed)
        with self._lock:
            self._arrivals.append(arrival)
            hold = to in self._hold_for
        deadline = time.monotonic() + 30
        while hold and not self._released.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return "250 Message accepted"

    def hold_replies_to(self, address: str) -> None:
        """Record messages to ``address`` but answer only after :meth:`release`."""
        with self._lock:
            self._hold_for.add(address.lower())

    def release(self) -> None:
        self._released.set()

    @property
    def arrivals(self) -> list[Arrival]:
        with self._lock:
            return list(self._arrivals)

    def to(self, address: str) -> list[Arrival]:
        return [a for a in self.arrivals if a.to == address.lower()]

    def distinct_per_address(self) -> Counter[str]:
        """Messages per address, counting a repeated Message-ID once."""
        return Counter(to for to, _id in {(a.to, a.message_id) for a in self.arrivals})


@contextmanager
def smtp_server(sink: SmtpSink) -> Iterator[int]:
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        sink.release()
        controller.stop()


def invite_token(arrival: Arrival) -> str:
    """The token of the accept link in an invite's plain-text part."""
    body = arrival.message.get_body(preferencelist=("plain",))
    assert body is not None
    found = TOKEN_PATTERN.search(body.get_content())
    assert found is not None, "no accept link in the invite"
    return found.group(1)


# --- Worker processes ---------------------------------------------------------------


def worker_environment(
    *,
    database_url: str,
    smtp_port: int,
    topic_prefix: str,
    data_dir: Path,
) -> dict[str, str]:
    """The LEASESYNC_… settings of a production-like deployment against test doubles."""
    return {
        "LEASESYNC_DATABASE_URL": database_url,
        "LEASESYNC_WORKER": "procrastinate",
        "LEASESYNC_DATA_DIR": str(data_dir),
        "LEASESYNC_SECRET_KEY": "jobs-test-secret-key-0123456789",
        "LEASESYNC_BASE_URL": "https://homes.example.com",
        "LEASESYNC_MAIL__BACKEND": "smtp",
        "LEASESYNC_MAIL__SMTP_HOST": "127.0.0.1",
        "LEASESYNC_MAIL__SMTP_PORT": str(smtp_port),
        "LEASESYNC_MAIL__SMTP_STARTTLS": "false",
        "LEASESYNC_MAIL__SMTP_TIMEOUT_SECONDS": "60",
        "LEASESYNC_MAIL__FROM_ADDRESS": "homes@example.com",
        "LEASESYNC_DEVICES__BACKEND": "mqtt",
        "LEASESYNC_DEVICES__MQTT_TOPIC_PREFIX": topic_prefix,
    }


def unique_prefix() -> str:
    return f"leasesync-jobs-test/{uuid.uuid4().hex[:12]}"


class WorkerProcess:
    """``leasesync worker`` in a child process, its output in a log file."""

    def __init__(self, environment: dict[str, str], log: Path) -> None:
        self._log = log.open("ab")
        command = [
            sys.executable,
            "-m",
            "leasesync.cli.main",
            "--log-level",
            "INFO",
            "worker",
            "--concurrency",
            "4",
            "--stalled-after",
            "2",
        ]
        self.process = subprocess.Popen(
            command,
            env={**os.environ, **environment},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        """SIGKILL: no cleanup, no goodbye, exactly like a lost machine."""
        self.process.kill()
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()


@contextmanager
def workers(
    environment: dict[str, str], folder: Path, count: int = 1
) -> Iterator[list[WorkerProcess]]:
    started = [
        WorkerProcess(environment, folder / f"worker-{i}.log") for i in range(count)
    ]
    try:
        yield started
    finally:
        for worker in started:
            worker.stop()


def license_key() -> str:
    return SCENARIO_LICENSE_KEY
