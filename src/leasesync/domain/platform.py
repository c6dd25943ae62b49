"""What leasesync has made true on the platform, as values the planner reads.

The planner never touches the database: the engine loads a :class:`UnitState` for one
unit, the planner returns the actions and the state they lead to, and the engine
persists that state. The vocabulary is FORMAT.md's: unit lifecycle, device
configuration and resident statuses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from leasesync.domain.ids import HouseholdId, PersonId, PmsUnitId
from leasesync.domain.snapshots import Role


class Lifecycle(StrEnum):
    VACANT = "vacant"
    OCCUPIED = "occupied"
    MOVING_OUT = "moving_out"
    MOVING_IN = "moving_in"


class Devices(StrEnum):
    VACANT = "vacant"
    RESIDENT = "resident"
    TO_VACANT = "to_vacant"
    TO_RESIDENT = "to_resident"

    @property
    def heading_to_resident(self) -> bool:
        return self in (Devices.RESIDENT, Devices.TO_RESIDENT)


class ResidentStatus(StrEnum):
    WAITING = "waiting"
    INVITE_HELD = "invite_held"
    UNINVITABLE = "uninvitable"
    INVITED = "invited"
    ACTIVE = "active"

    @property
    def associated(self) -> bool:
        """Associated with the home (a platform resident), as opposed to waiting."""
        return self is not ResidentStatus.WAITING


@dataclass(frozen=True, kw_only=True, slots=True)
class ResidentState:
    """One person on one unit's home (or waiting to join it)."""

    person_id: PersonId
    household_id: HouseholdId
    role: Role
    name: str
    email: str | None
    status: ResidentStatus
    access: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class InviteState:
    """An open invite to one address for this unit (L3, L9)."""

    email: str
    round: int
    expires_at: datetime
    expired: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class DeviceState:
    """The unit's device configuration and the reconfiguration in flight (L8)."""

    configuration: Devices = Devices.VACANT
    attempt: int = 0
    requested_at: datetime | None = None
    retry_at: datetime | None = None
    failing: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class UnitState:
    """Everything the planner needs to know about one unit's platform side."""

    unit_id: PmsUnitId
    number: str
    building: str | None = None
    installed: bool = False
    paused: bool = False
    missing: bool = False
    lifecycle: Lifecycle = Lifecycle.VACANT
    devices: DeviceState = field(default_factory=DeviceState)
    residents: tuple[ResidentState, ...] = ()
    invites: tuple[InviteState, ...] = ()

    def resident(self, person_id: PersonId) -> ResidentState | None:
        return next((r for r in self.residents if r.person_id == person_id), None)

    @property
    def associated(self) -> tuple[ResidentState, ...]:
        return tuple(r for r in self.residents if r.status.associated)

    @property
    def waiting(self) -> tuple[ResidentState, ...]:
        return tuple(r for r in self.residents if not r.status.associated)

    def invite_for(self, email: str) -> InviteState | None:
        return next((i for i in self.invites if i.email == email), None)
