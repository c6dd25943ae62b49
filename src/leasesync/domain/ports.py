"""The ports through which the engine reaches the outside world (STYLE.md habit 10).

Each port is a :class:`typing.Protocol`. Production adapters live in
:mod:`leasesync.connectors` and :mod:`leasesync.gateways`; the embedded stack and the
tests plug in simulators behind the same protocols. Every side-effecting call carries
an idempotency key, and every adapter must drop a repeat of a key it has already
carried out (SPEC L13): the engine delivers effects at least once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from leasesync.domain.snapshots import PropertySnapshot


class Clock(Protocol):
    """The source of "now"; always timezone-aware."""

    def now(self) -> datetime: ...


class PmsConnector(Protocol):
    """Reads one property from its PMS.

    ``fetch_snapshot`` returns a complete :class:`PropertySnapshot` or raises a
    :class:`~leasesync.domain.errors.RetryLaterError` (try again at the next poll) or
    :class:`~leasesync.domain.errors.NeedsHumanError` (credentials, subscription).
    ``check_credentials`` makes one cheap call and raises the same errors; linking a
    property calls it before anything is stored (STYLE.md habit 12).
    """

    def check_credentials(self) -> None: ...

    def fetch_snapshot(self) -> PropertySnapshot: ...


@dataclass(frozen=True, kw_only=True, slots=True)
class InviteMessage:
    """One invite e-mail: ask ``to`` to join the home of one unit."""

    idempotency_key: str
    to: str
    recipient_names: tuple[str, ...]
    property_name: str
    unit_number: str
    accept_url: str
    expires_at: datetime


class MailGateway(Protocol):
    """Hands messages to a mail system; a repeated key is dropped, not resent."""

    def send_invite(self, message: InviteMessage) -> None: ...


class Configuration(StrEnum):
    """The two whole setups a unit's devices can be put in (SPEC §1)."""

    VACANT = "vacant"
    RESIDENT = "resident"


class CommandOutcome(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(frozen=True, kw_only=True, slots=True)
class ConfigurationRequest:
    """Ask the devices of one unit to take a configuration.

    ``unit_key`` is stable and unique across properties (``"<property>/<unit>"``).
    """

    idempotency_key: str
    unit_key: str
    configuration: Configuration
    home_id: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class ConfigurationReport:
    """The devices' answer to a request, identified by its idempotency key."""

    idempotency_key: str
    outcome: CommandOutcome
    at: datetime
    detail: str = ""


ReportSink = Callable[[ConfigurationReport], None]


class DeviceGateway(Protocol):
    """Requests reconfigurations; answers arrive later through the report sink.

    Reconfiguration is asynchronous (SPEC §1): ``request`` only hands the command
    over. The gateway calls the sink it was built with when the devices report.
    """

    def request(self, request: ConfigurationRequest) -> None: ...


class DoorGateway(Protocol):
    """Grants and revokes one person's access to one door of an access system.

    ``door`` is ``"<property>/<unit>/unit"`` or ``"<property>/common:<area>"``;
    ``person`` is ``"<property>/<PMS person id>"``. Both calls are idempotent.
    ``holders`` reads the door's list back, to verify a revoke.
    """

    def grant(self, *, idempotency_key: str, door: str, person: str) -> None: ...

    def revoke(self, *, idempotency_key: str, door: str, person: str) -> None: ...

    def holders(self, door: str) -> frozenset[str]: ...
