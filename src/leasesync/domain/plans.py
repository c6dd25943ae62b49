"""Plans and their actions: decisions as values (STYLE.md habit 3).

Every action names the rule that caused it (``"L6"``) and the PMS change or event
behind it, so that the audit trail (L14) can say why. :func:`evolve` is the one
definition of what an action does to a unit's platform state: the planner uses it to
plan in steps, the engine persists the state it yields, and the tests use it to check
that planning again after applying a plan yields nothing (L13).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from leasesync.domain.ids import PersonId, PmsUnitId
from leasesync.domain.platform import (
    Devices,
    DeviceState,
    InviteState,
    Lifecycle,
    ResidentState,
    ResidentStatus,
    UnitState,
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Action:
    """One decision about one unit; ``rule`` is SPEC's number, ``cause`` says why."""

    rule: str
    cause: str

    @property
    def event(self) -> str:
        """A snake_case name for logs and the audit trail."""
        name = type(self).__name__
        return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")

    @property
    def person_id(self) -> PersonId | None:
        return None


@dataclass(frozen=True, kw_only=True, slots=True)
class UpdateUnit(Action):
    number: str
    building: str | None


@dataclass(frozen=True, kw_only=True, slots=True)
class FlagMissing(Action):
    missing: bool


@dataclass(frozen=True, kw_only=True, slots=True)
class AddResident(Action):
    resident: ResidentState

    @property
    def person_id(self) -> PersonId:
        return self.resident.person_id


@dataclass(frozen=True, kw_only=True, slots=True)
class PersonAction(Action):
    person: PersonId

    @property
    def person_id(self) -> PersonId:
        return self.person


@dataclass(frozen=True, kw_only=True, slots=True)
class UpdateContact(PersonAction):
    name: str
    email: str | None


@dataclass(frozen=True, kw_only=True, slots=True)
class ChangeStatus(PersonAction):
    status: ResidentStatus


@dataclass(frozen=True, kw_only=True, slots=True)
class GrantAccess(PersonAction):
    doors: tuple[str, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class RevokeAccess(PersonAction):
    doors: tuple[str, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class RemoveResident(PersonAction):
    pass


@dataclass(frozen=True, kw_only=True, slots=True)
class SendInvite(Action):
    """E-mail one invite to ``email`` for every person of this unit who uses it."""

    email: str
    people: tuple[PersonId, ...]
    round: int
    expires_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class WithdrawInvite(Action):
    email: str


@dataclass(frozen=True, kw_only=True, slots=True)
class ExpireInvite(Action):
    email: str


@dataclass(frozen=True, kw_only=True, slots=True)
class AcceptInvite(Action):
    email: str
    people: tuple[PersonId, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class Reconfigure(Action):
    """Request the devices' ``target`` configuration (attempt ``attempt``)."""

    target: Devices
    attempt: int
    at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class ReconfigurationFailing(Action):
    retry_at: datetime
    first_failure: bool


@dataclass(frozen=True, kw_only=True, slots=True)
class ReconfigurationCompleted(Action):
    configuration: Devices


@dataclass(frozen=True, kw_only=True, slots=True)
class SetLifecycle(Action):
    lifecycle: Lifecycle


@dataclass(frozen=True, kw_only=True, slots=True)
class SetInstalled(Action):
    installed: bool


@dataclass(frozen=True, kw_only=True, slots=True)
class SetPaused(Action):
    paused: bool


@dataclass(frozen=True, kw_only=True, slots=True)
class RaiseAlert(Action):
    """Tell staff; ``kind`` is one of FORMAT.md's alert kinds."""

    kind: str
    message: str


@dataclass(frozen=True, kw_only=True, slots=True)
class UnitPlan:
    """The actions for one unit, the state they lead to and when to look again."""

    unit_id: PmsUnitId
    actions: tuple[Action, ...]
    state: UnitState
    next_due: datetime | None

    @property
    def empty(self) -> bool:
        return not self.actions


def _with_resident(
    state: UnitState, person: PersonId, **changes: object
) -> tuple[ResidentState, ...]:
    return tuple(
        replace(r, **changes) if r.person_id == person else r  # type: ignore[arg-type]
        for r in state.residents
    )


def _without_invite(state: UnitState, email: str) -> tuple[InviteState, ...]:
    return tuple(i for i in state.invites if i.email != email)


def evolve(state: UnitState, action: Action) -> UnitState:  # noqa: PLR0911, PLR0912
    """The unit state after ``action``; pure, total over every action type."""
    match action:
        case UpdateUnit(number=number, building=building):
            return replace(state, number=number, building=building)
        case FlagMissing(missing=missing):
            return replace(state, missing=missing)
        case AddResident(resident=resident):
            return replace(state, residents=(*state.residents, resident))
        case UpdateContact(person=person, name=name, email=email):
            return replace(
                state, residents=_with_resident(state, person, name=name, email=email)
            )
        case ChangeStatus(person=person, status=status):
            return replace(
                state, residents=_with_resident(state, person, status=status)
            )
        case GrantAccess(person=person, doors=doors):
            return replace(state, residents=_with_resident(state, person, access=doors))
        case RevokeAccess(person=person):
            return replace(state, residents=_with_resident(state, person, access=()))
        case RemoveResident(person=person):
            kept = tuple(r for r in state.residents if r.person_id != person)
            return replace(state, residents=kept)
        case SendInvite(email=email, people=people, round=round_, expires_at=expires):
            invite = InviteState(email=email, round=round_, expires_at=expires)
            residents = tuple(
                replace(r, status=ResidentStatus.INVITED)
                if r.person_id in people
                else r
                for r in state.residents
            )
            return replace(
                state,
                residents=residents,
                invites=(*_without_invite(state, email), invite),
            )
        case WithdrawInvite(email=email):
            return replace(state, invites=_without_invite(state, email))
        case ExpireInvite(email=email):
            invites = tuple(
                replace(i, expired=True) if i.email == email else i
                for i in state.invites
            )
            return replace(state, invites=invites)
        case AcceptInvite(email=email, people=people):
            residents = tuple(
                replace(r, status=ResidentStatus.ACTIVE) if r.person_id in people else r
                for r in state.residents
            )
            return replace(
                state, residents=residents, invites=_without_invite(state, email)
            )
        case Reconfigure(target=target, attempt=attempt, at=at):
            moving = (
                Devices.TO_VACANT if target is Devices.VACANT else Devices.TO_RESIDENT
            )
            devices = replace(
                state.devices,
                configuration=moving,
                attempt=attempt,
                requested_at=at,
                retry_at=None,
            )
            return replace(state, devices=devices)
        case ReconfigurationFailing(retry_at=retry_at):
            devices = replace(
                state.devices, requested_at=None, retry_at=retry_at, failing=True
            )
            return replace(state, devices=devices)
        case ReconfigurationCompleted(configuration=configuration):
            return replace(state, devices=DeviceState(configuration=configuration))
        case SetLifecycle(lifecycle=lifecycle):
            return replace(state, lifecycle=lifecycle)
        case SetInstalled(installed=installed):
            return replace(state, installed=installed)
        case SetPaused(paused=paused):
            return replace(state, paused=paused)
        case RaiseAlert():
            return state
    raise TypeError(f"unknown action {type(action).__name__}")
