"""The planner: from PMS facts, platform state and time to a unit's plan (L1–L11).

:func:`plan_unit` is pure. It walks the rules in a fixed order over a working copy of
the unit's state — each decision is applied with :func:`~leasesync.domain.plans.evolve`
before the next rule looks — so that one plan is complete: planning again on its
resulting state, with the same facts and time, yields no action (L13). Completions
(an accepted invite, a device report, an installer's mark) change the state through
the functions at the bottom and are followed by a fresh plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from leasesync.domain.ids import PersonId, PmsUnitId
from leasesync.domain.occupancy import current_occupants, next_change
from leasesync.domain.plans import (
    AcceptInvite,
    Action,
    AddResident,
    ChangeStatus,
    ExpireInvite,
    FlagMissing,
    GrantAccess,
    RaiseAlert,
    ReconfigurationCompleted,
    ReconfigurationFailing,
    Reconfigure,
    RemoveResident,
    RevokeAccess,
    SendInvite,
    SetLifecycle,
    UnitPlan,
    UpdateContact,
    UpdateUnit,
    WithdrawInvite,
    evolve,
)
from leasesync.domain.platform import (
    Devices,
    Lifecycle,
    ResidentState,
    ResidentStatus,
    UnitState,
)
from leasesync.domain.settings import PropertySettings
from leasesync.domain.snapshots import (
    LeaseTerm,
    Membership,
    OccupancyStatus,
    Role,
    UnitRecord,
)

RETRY_BASE = timedelta(minutes=1)
RETRY_CAP = timedelta(hours=1)
MAX_DOUBLINGS = 6  # NB: 2**6 minutes already passes the cap; more would only overflow


@dataclass(frozen=True, kw_only=True, slots=True)
class UnitFacts:
    """What the PMS says about one unit: its record and every membership on it."""

    record: UnitRecord
    memberships: tuple[Membership, ...] = ()
    terms: tuple[LeaseTerm, ...] = ()


def normalise_email(email: str | None) -> str | None:
    """L9: e-mail compares case- and whitespace-insensitively; blank means none."""
    if email is None:
        return None
    cleaned = "".join(email.split()).lower()
    return cleaned or None


def retry_delay(attempt: int) -> timedelta:
    """L8: capped exponential backoff, never more than an hour apart."""
    doublings = min(max(attempt - 1, 0), MAX_DOUBLINGS)
    delay: timedelta = RETRY_BASE * (2**doublings)
    return min(delay, RETRY_CAP)


@dataclass(kw_only=True, slots=True)
class _Planner:
    """The working copy of one plan; each rule reads and extends it."""

    facts: UnitFacts
    state: UnitState
    now: datetime
    settings: PropertySettings
    actions: list[Action] = field(default_factory=list)
    occupants: dict[PersonId, Membership] = field(default_factory=dict)
    added_by: dict[PersonId, str] = field(default_factory=dict)

    def emit(self, action: Action) -> None:
        self.state = evolve(self.state, action)
        self.actions.append(action)

    # --- L1 ------------------------------------------------------------------------

    def unit_record(self) -> None:
        record = self.facts.record
        if self.state.missing:
            self.emit(
                FlagMissing(rule="L1", cause="the unit is listed again", missing=False)
            )
        if (record.number, record.building) != (self.state.number, self.state.building):
            cause = f"unit renamed from {self.state.number} to {record.number}"
            self.emit(
                UpdateUnit(
                    rule="L1",
                    cause=cause,
                    number=record.number,
                    building=record.building,
                )
            )

    # --- L8: the devices' reconfiguration in flight ----------------------------------

    def supervise_devices(self) -> None:
        devices = self.state.devices
        if devices.configuration not in (Devices.TO_VACANT, Devices.TO_RESIDENT):
            return
        timeout = timedelta(minutes=self.settings.reconfiguration_timeout_minutes)
        if (
            devices.requested_at is not None
            and self.now >= devices.requested_at + timeout
        ):
            self.reconfiguration_failed("no answer from the devices", self.now)
        devices = self.state.devices
        if devices.retry_at is not None and self.now >= devices.retry_at:
            # NB: in the same plan as the failure when the retry is already due.
            target = _target_of(devices.configuration)
            cause = f"retry {devices.attempt + 1} of the {target} configuration"
            self.emit(
                Reconfigure(
                    rule="L8",
                    cause=cause,
                    target=target,
                    attempt=devices.attempt + 1,
                    at=self.now,
                )
            )

    def reconfiguration_failed(self, reason: str, at: datetime) -> None:
        devices = self.state.devices
        # NB: counted from the request, so that a silent attempt's timeout does not add
        # to the backoff: attempts stay at most an hour apart (L8).
        started = devices.requested_at or at
        retry_at = max(at, started + retry_delay(devices.attempt))
        target = _target_of(devices.configuration)
        cause = f"{target} configuration attempt {devices.attempt} failed: {reason}"
        first = not devices.failing
        self.emit(
            ReconfigurationFailing(
                rule="L8", cause=cause, retry_at=retry_at, first_failure=first
            )
        )
        if first:
            message = f"unit {self.state.number}: {cause}; retrying with backoff"
            self.emit(
                RaiseAlert(
                    rule="L8",
                    cause=cause,
                    kind="reconfiguration_failed",
                    message=message,
                )
            )

    # --- Who is on the home ------------------------------------------------------------

    def membership(self) -> None:
        self.occupants = current_occupants(
            self.facts.memberships, self.now, self.settings
        )
        if self.state.devices.configuration is Devices.TO_VACANT:
            self.turnover_waiting()
            return
        if self.state.associated:
            stayers = [
                r for r in self.state.associated if r.person_id in self.occupants
            ]
            if stayers:
                self.roommate_changes()
            else:
                self.move_out()
        if self.state.associated or self.turning_over:
            return
        if self.state.devices.configuration is Devices.RESIDENT:
            self.start_vacant_configuration("L7", "no resident remains on the home")
            self.turnover_waiting()
        elif self.occupants:
            self.move_in()

    @property
    def turning_over(self) -> bool:
        return self.state.devices.configuration is Devices.TO_VACANT

    def move_out(self) -> None:
        """L7: nobody of the home is a current occupant any more."""
        for resident in self.state.associated:
            self.remove(resident, "L7")
        if self.state.devices.configuration.heading_to_resident:
            self.start_vacant_configuration("L7", "every resident has moved out")
            self.turnover_waiting()

    def start_vacant_configuration(self, rule: str, cause: str) -> None:
        self.emit(
            Reconfigure(
                rule=rule, cause=cause, target=Devices.VACANT, attempt=1, at=self.now
            )
        )

    def turnover_waiting(self) -> None:
        """L8: while the vacant configuration runs, newcomers wait and are not invited."""
        for person_id, membership in self.occupants.items():
            if self.state.resident(person_id) is None:
                cause = f"{_describe(membership)}; waiting for the vacant configuration"
                self.emit(
                    AddResident(
                        rule="L8",
                        cause=cause,
                        resident=_resident(membership, ResidentStatus.WAITING),
                    )
                )
        for waiting in self.state.waiting:
            if waiting.person_id not in self.occupants:
                self.remove(waiting, "L8")

    def roommate_changes(self) -> None:
        """L6: someone stays, so leavers go one by one and newcomers are invited."""
        for resident in self.state.associated:
            if resident.person_id not in self.occupants:
                self.remove(resident, "L6")
        self.admit_occupants("L6")

    def move_in(self) -> None:
        """L3: the home had nobody; its current occupants move in."""
        self.admit_occupants("L3")

    def admit_occupants(self, rule: str) -> None:
        for person_id, membership in self.occupants.items():
            existing = self.state.resident(person_id)
            status = self.first_status(membership)
            cause = _describe(membership)
            if existing is None:
                self.emit(
                    AddResident(
                        rule=rule, cause=cause, resident=_resident(membership, status)
                    )
                )
            elif existing.status is ResidentStatus.WAITING:
                self.emit(
                    ChangeStatus(
                        rule=rule, cause=cause, person=person_id, status=status
                    )
                )
            else:
                continue
            self.added_by[person_id] = rule

    def first_status(self, membership: Membership) -> ResidentStatus:
        """L3/L5: minors and people without e-mail are never invited."""
        if membership.role is Role.MINOR or not normalise_email(
            membership.person.email
        ):
            return ResidentStatus.UNINVITABLE
        return ResidentStatus.INVITE_HELD

    def remove(self, resident: ResidentState, rule: str) -> None:
        membership = self.membership_of(resident.person_id)
        if membership is not None and membership.status is OccupancyStatus.CANCELLED:
            rule = "L11"
        cause = _departure(membership)
        person = resident.person_id
        if resident.access:
            self.emit(
                RevokeAccess(
                    rule=rule, cause=cause, person=person, doors=resident.access
                )
            )
        email = resident.email
        if (
            email
            and self.state.invite_for(email)
            and not self.waiting_on(email, person)
        ):
            self.emit(WithdrawInvite(rule=rule, cause=cause, email=email))
        self.emit(RemoveResident(rule=rule, cause=cause, person=person))

    def waiting_on(self, email: str, person: PersonId) -> bool:
        """Whether someone else on the unit still waits on the invite to ``email``."""
        return any(
            r.email == email
            and r.person_id != person
            and r.status is ResidentStatus.INVITED
            for r in self.state.residents
        )

    def membership_of(self, person_id: PersonId) -> Membership | None:
        found = [m for m in self.facts.memberships if m.person_id == person_id]
        current = [m for m in found if m.person_id in self.occupants]
        chosen = current or found
        return chosen[0] if chosen else None

    # --- L9: contact corrections ---------------------------------------------------------

    def contacts(self) -> None:
        for resident in self.state.residents:
            membership = self.occupants.get(resident.person_id)
            if membership is None:
                continue
            name, email = (
                membership.person.name,
                normalise_email(membership.person.email),
            )
            if (name, email) == (resident.name, resident.email):
                continue
            cause = "name or e-mail corrected in the PMS"
            self.emit(
                UpdateContact(
                    rule="L9",
                    cause=cause,
                    person=resident.person_id,
                    name=name,
                    email=email,
                )
            )
            self.recheck_invitability(resident, email)

    def recheck_invitability(self, resident: ResidentState, email: str | None) -> None:
        """A changed address re-aims a pending invite; it never touches access (L9)."""
        if resident.status is ResidentStatus.ACTIVE or resident.role is Role.MINOR:
            return
        if (
            resident.email
            and self.state.invite_for(resident.email)
            and not self.waiting_on(resident.email, resident.person_id)
        ):
            cause = "the invite's address was corrected"
            self.emit(WithdrawInvite(rule="L9", cause=cause, email=resident.email))
        status = ResidentStatus.INVITE_HELD if email else ResidentStatus.UNINVITABLE
        if (
            status is not resident.status
            and resident.status is not ResidentStatus.WAITING
        ):
            self.emit(
                ChangeStatus(
                    rule="L9",
                    cause="contact corrected",
                    person=resident.person_id,
                    status=status,
                )
            )

    # --- L5, L3, L9: invites ---------------------------------------------------------

    def invites(self) -> None:
        held: dict[str, list[ResidentState]] = {}
        for resident in self.state.residents:
            if resident.status is ResidentStatus.INVITE_HELD and resident.email:
                held.setdefault(resident.email, []).append(resident)
        for email, people in held.items():
            self.invite(email, people)

    def invite(self, email: str, people: list[ResidentState]) -> None:
        sharers = [
            r for r in self.state.residents if r.email == email and r not in people
        ]
        if any(r.status is ResidentStatus.ACTIVE for r in sharers):
            cause = "shares the account of an active resident"
            self.share_address(people, ResidentStatus.ACTIVE, cause)
            return
        if self.state.invite_for(email) is not None:
            self.share_address(
                people, ResidentStatus.INVITED, "shares an invited address"
            )
            return
        if not self.state.installed:
            return
        rules = {self.added_by.get(p.person_id, "L5") for p in people}
        rule = "L3" if "L3" in rules else "L6" if "L6" in rules else "L5"
        cause = (
            "the installation is complete"
            if rule == "L5"
            else "a current occupant joins the home"
        )
        self.emit(
            SendInvite(
                rule=rule,
                cause=cause,
                email=email,
                people=tuple(p.person_id for p in people),
                round=1,
                expires_at=self.now + self.settings.invite_lifetime,
            )
        )

    def share_address(
        self, people: list[ResidentState], status: ResidentStatus, cause: str
    ) -> None:
        """L9: occupants of one unit who share an address share its invite or account."""
        for person in people:
            self.emit(
                ChangeStatus(
                    rule="L9", cause=cause, person=person.person_id, status=status
                )
            )

    def expiries(self) -> None:
        """L3: an unaccepted invite is sent afresh once, then staff are told."""
        for invite in self.state.invites:
            if invite.expired or self.now < invite.expires_at:
                continue
            people = tuple(
                r.person_id
                for r in self.state.residents
                if r.email == invite.email and r.status is ResidentStatus.INVITED
            )
            if invite.round == 1 and people:
                self.emit(
                    SendInvite(
                        rule="L3",
                        cause="the invite expired unaccepted",
                        email=invite.email,
                        people=people,
                        round=2,
                        expires_at=self.now + self.settings.invite_lifetime,
                    )
                )
                continue
            cause = "the invite expired twice unaccepted"
            self.emit(ExpireInvite(rule="L3", cause=cause, email=invite.email))
            message = f"unit {self.state.number}: an invite expired twice unaccepted"
            self.emit(
                RaiseAlert(
                    rule="L3", cause=cause, kind="invite_expired", message=message
                )
            )

    # --- L4: what acceptance brings ----------------------------------------------------

    def access(self) -> None:
        doors = self.settings.doors
        active = [r for r in self.state.residents if r.status is ResidentStatus.ACTIVE]
        for resident in active:
            if resident.access != doors:
                self.emit(
                    GrantAccess(
                        rule="L4",
                        cause="the resident accepted the invite",
                        person=resident.person_id,
                        doors=doors,
                    )
                )
        if active and self.state.devices.configuration is Devices.VACANT:
            self.emit(
                Reconfigure(
                    rule="L4",
                    cause="a resident accepted the invite",
                    target=Devices.RESIDENT,
                    attempt=1,
                    at=self.now,
                )
            )

    def lifecycle(self) -> None:
        lifecycle = lifecycle_of(self.state)
        if lifecycle is not self.state.lifecycle:
            self.emit(
                SetLifecycle(
                    rule=_lifecycle_rule(lifecycle),
                    cause="unit transition",
                    lifecycle=lifecycle,
                )
            )

    def next_due(self) -> datetime | None:
        devices = self.state.devices
        timeout = timedelta(minutes=self.settings.reconfiguration_timeout_minutes)
        instants = [
            next_change(self.facts.memberships, self.now, self.settings),
            devices.requested_at + timeout if devices.requested_at else None,
            devices.retry_at,
            *(i.expires_at for i in self.state.invites if not i.expired),
        ]
        return min((i for i in instants if i is not None), default=None)

    def run(self) -> UnitPlan:
        if not self.state.paused:
            self.unit_record()
            self.supervise_devices()
            self.membership()
            self.contacts()
            self.invites()
            self.expiries()
            self.access()
            self.lifecycle()
        due = None if self.state.paused else self.next_due()
        return UnitPlan(
            unit_id=self.state.unit_id,
            actions=tuple(self.actions),
            state=self.state,
            next_due=due,
        )


def plan_unit(
    facts: UnitFacts, state: UnitState, now: datetime, settings: PropertySettings
) -> UnitPlan:
    """Plan one listed unit: every action it needs now, and when to look again."""
    return _Planner(facts=facts, state=state, now=now, settings=settings).run()


def plan_missing_unit(state: UnitState) -> UnitPlan:
    """L1: a unit the PMS stopped listing is flagged, never emptied."""
    if state.missing:
        return UnitPlan(unit_id=state.unit_id, actions=(), state=state, next_due=None)
    cause = "the PMS no longer lists the unit"
    actions: tuple[Action, ...] = (
        FlagMissing(rule="L1", cause=cause, missing=True),
        RaiseAlert(
            rule="L1",
            cause=cause,
            kind="unit_missing",
            message=f"unit {state.number} is missing from the PMS",
        ),
    )
    final = state
    for action in actions:
        final = evolve(final, action)
    return UnitPlan(unit_id=state.unit_id, actions=actions, state=final, next_due=None)


def lifecycle_of(state: UnitState) -> Lifecycle:
    """The unit's lifecycle, read off its residents and devices (FORMAT.md STATE)."""
    configuration = state.devices.configuration
    if configuration is Devices.TO_VACANT:
        return Lifecycle.MOVING_OUT
    if not state.associated:
        return Lifecycle.MOVING_IN if state.waiting else Lifecycle.VACANT
    if configuration is Devices.TO_RESIDENT:
        return Lifecycle.MOVING_IN
    return Lifecycle.OCCUPIED


# --- Completions: inputs that change the state before a fresh plan --------------------


def accept_invite(state: UnitState, email: str) -> tuple[Action, ...]:
    """L4/L9: everyone invited at ``email`` on this unit becomes active."""
    address = normalise_email(email)
    people = tuple(
        r.person_id
        for r in state.residents
        if r.email == address and r.status is ResidentStatus.INVITED
    )
    if not people or address is None:
        return ()
    return (
        AcceptInvite(
            rule="L4", cause="the invite was accepted", email=address, people=people
        ),
    )


def device_report(
    state: UnitState, completed: bool, at: datetime, detail: str = ""
) -> tuple[Action, ...]:
    """L8: a reconfiguration finished or failed."""
    configuration = state.devices.configuration
    if configuration not in (Devices.TO_VACANT, Devices.TO_RESIDENT):
        return ()
    target = _target_of(configuration)
    if completed:
        cause = f"the devices completed the {target} configuration"
        return (ReconfigurationCompleted(rule="L8", cause=cause, configuration=target),)
    planner = _Planner(
        facts=UnitFacts(record=UnitRecord(unit_id=state.unit_id, number=state.number)),
        state=state,
        now=at,
        settings=PropertySettings(timezone="UTC"),
    )
    planner.reconfiguration_failed(detail or "the devices reported a failure", at)
    return tuple(planner.actions)


def _target_of(configuration: Devices) -> Devices:
    if configuration in (Devices.TO_VACANT, Devices.VACANT):
        return Devices.VACANT
    return Devices.RESIDENT


def _lifecycle_rule(lifecycle: Lifecycle) -> str:
    return {Lifecycle.MOVING_OUT: "L7", Lifecycle.VACANT: "L7"}.get(lifecycle, "L3")


def _resident(membership: Membership, status: ResidentStatus) -> ResidentState:
    return ResidentState(
        person_id=membership.person_id,
        household_id=membership.household_id,
        role=membership.role,
        name=membership.person.name,
        email=normalise_email(membership.person.email),
        status=status,
    )


def _describe(membership: Membership) -> str:
    when = f" since {membership.move_in.isoformat()}" if membership.move_in else ""
    return (
        f"household {membership.household_id} lease {membership.lease_id}: "
        f"current occupant{when}"
    )


def _departure(membership: Membership | None) -> str:
    if membership is None:
        return "no longer on the unit's lease in the PMS"
    prefix = f"household {membership.household_id} lease {membership.lease_id}"
    if membership.status is OccupancyStatus.CANCELLED:
        return f"{prefix}: cancelled"
    if membership.move_out is not None:
        return f"{prefix}: moved out {membership.move_out.isoformat()}"
    return f"{prefix}: {membership.status.value}, not a current occupant"


def unit_ids(facts: list[UnitFacts]) -> list[PmsUnitId]:
    return [f.record.unit_id for f in facts]
