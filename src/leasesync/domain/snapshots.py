"""The PMS-neutral model: what a connector hands the engine after one complete fetch.

A :class:`PropertySnapshot` carries facts only — units, people, their memberships of
households, lease terms, and the records a connector had to quarantine. Whether a
person lives in a unit *now*, and what the platform should do about it, is decided
by :mod:`leasesync.domain.occupancy` and :mod:`leasesync.domain.planning` from these
facts (SPEC L2, L10). No vendor word appears here: each connector maps its own
vocabulary onto these enums in its ``mapping`` module.

Identity follows SPEC L9: units by PMS unit id, people by PMS person id, households
(occupancies) by the PMS household id, which survives renewals. A renewal is a new
:class:`LeaseTerm` of the same household, never a new membership.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum

from leasesync.domain.ids import HouseholdId, LeaseId, PersonId, PmsUnitId


class Role(StrEnum):
    """A person's part in a household (PMS-NOTES §9.2)."""

    PRIMARY = "primary"
    CO_RESIDENT = "co_resident"
    OCCUPANT = "occupant"
    MINOR = "minor"
    GUARANTOR = "guarantor"

    @property
    def occupies(self) -> bool:
        """Guarantors are on the lease but never live in the unit (SPEC §1, L2)."""
        return self is not Role.GUARANTOR


class OccupancyStatus(StrEnum):
    """Where a person's membership of a household stands in the PMS (PMS-NOTES §9.1).

    Notice is not a status: it is ``CURRENT`` with ``notice_for`` set (SPEC §3).
    """

    APPLICANT = "applicant"
    FUTURE = "future"
    CURRENT = "current"
    PAST = "past"
    CANCELLED = "cancelled"


@dataclass(frozen=True, kw_only=True, slots=True)
class UnitRecord:
    """One unit as the PMS lists it; ``number`` is for display and may change."""

    unit_id: PmsUnitId
    number: str
    building: str | None = None
    floorplan: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Person:
    """A human known to the PMS. ``email`` is contact data, not identity (L9)."""

    person_id: PersonId
    first_name: str = ""
    last_name: str = ""
    email: str | None = None

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass(frozen=True, kw_only=True, slots=True)
class Membership:
    """A person's place in one household of one unit, with that household's dates.

    Dates are property-local calendar dates (L10). ``move_in`` is the actual move-in
    once the PMS has recorded it, otherwise the scheduled one; ``move_out`` is the
    recorded move-out; ``notice_for`` the expected move-out of a resident on notice.
    """

    person: Person
    household_id: HouseholdId
    unit_id: PmsUnitId
    lease_id: LeaseId
    role: Role
    status: OccupancyStatus
    move_in: date | None = None
    move_out: date | None = None
    notice_given: date | None = None
    notice_for: date | None = None
    lease_start: date | None = None
    lease_end: date | None = None
    under_eviction: bool = False

    @property
    def person_id(self) -> PersonId:
        return self.person.person_id


@dataclass(frozen=True, kw_only=True, slots=True)
class LeaseTerm:
    """One contract of a household; renewals chain through ``prior``/``next``."""

    lease_id: LeaseId
    household_id: HouseholdId
    unit_id: PmsUnitId
    status: OccupancyStatus
    start: date | None = None
    end: date | None = None
    prior_lease_id: LeaseId | None = None
    next_lease_id: LeaseId | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class QuarantinedRecord:
    """A vendor record the connector could not map; it is left out of the snapshot.

    ``record`` names the record for staff (``"resident 50001"``), ``reason`` says why
    (``"unknown lease status 'Pending Review'"``). Raised as ``record_quarantined``.
    """

    record: str
    reason: str
    unit_id: PmsUnitId | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class PropertySnapshot:
    """Everything one complete fetch of one property said, in neutral terms.

    A connector either returns a whole snapshot or raises; a snapshot is never
    partial. An empty snapshot is still a snapshot: the sync guard (L12) judges
    whether it is plausible.
    """

    units: tuple[UnitRecord, ...]
    memberships: tuple[Membership, ...]
    lease_terms: tuple[LeaseTerm, ...] = ()
    quarantined: tuple[QuarantinedRecord, ...] = field(default=())

    def with_orphans_quarantined(self) -> PropertySnapshot:
        """This snapshot, with memberships on units it does not list quarantined.

        A resident row naming a unit the unit list lacks is bad vendor data: it is
        left out and reported, like any unreadable record (SPEC §7).
        """
        listed = {unit.unit_id for unit in self.units}
        orphans = [m for m in self.memberships if m.unit_id not in listed]
        if not orphans:
            return self
        kept = tuple(m for m in self.memberships if m.unit_id in listed)
        reports = tuple(
            QuarantinedRecord(
                record=f"person {m.person_id} on household {m.household_id}",
                reason=f"names unit {m.unit_id}, which the PMS does not list",
            )
            for m in orphans
        )
        return replace(
            self, memberships=kept, quarantined=(*self.quarantined, *reports)
        )

    def memberships_by_unit(self) -> dict[PmsUnitId, list[Membership]]:
        """Group memberships by unit, every listed unit present (possibly empty)."""
        grouped: dict[PmsUnitId, list[Membership]] = {u.unit_id: [] for u in self.units}
        for membership in self.memberships:
            grouped.setdefault(membership.unit_id, []).append(membership)
        return grouped

    def terms_by_unit(self) -> dict[PmsUnitId, list[LeaseTerm]]:
        grouped: dict[PmsUnitId, list[LeaseTerm]] = {}
        for term in self.lease_terms:
            grouped.setdefault(term.unit_id, []).append(term)
        return grouped

    def people(self) -> Iterator[Person]:
        seen: set[PersonId] = set()
        for membership in self.memberships:
            if membership.person_id not in seen:
                seen.add(membership.person_id)
                yield membership.person
