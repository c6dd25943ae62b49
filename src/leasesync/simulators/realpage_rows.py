"""Scenario rows for the RealPage simulator from a neutral snapshot.

The inverse of the connector's mapping, for tests and tools that think in
leasesync's own terms: :func:`rows_from_snapshot` turns a
:class:`~leasesync.domain.snapshots.PropertySnapshot` into the ``unitlist`` rows
and lower-case resident rows :class:`~leasesync.simulators.realpage.RealPageSimulator`
serves. Reading them back through the connector gives the same snapshot, which
is what the round-trip property test checks.

A lease term that no membership points at becomes one extra row per member of
its household: ``Future Lease`` for a future term (a signed renewal), the
status word of the term otherwise (a renewed-away ``Former`` lease).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from leasesync.domain.snapshots import (
    LeaseTerm,
    Membership,
    OccupancyStatus,
    PropertySnapshot,
    Role,
    UnitRecord,
)

#: The ``leasestatus`` the simulator writes for a neutral status.
LEASE_STATUS_FOR: Mapping[OccupancyStatus, str] = {
    OccupancyStatus.CURRENT: "Current",
    OccupancyStatus.FUTURE: "Applicant - Lease Signed",
    OccupancyStatus.APPLICANT: "Applicant",
    OccupancyStatus.PAST: "Former",
    OccupancyStatus.CANCELLED: "Former Applicant",
}

#: The role fields the simulator writes for a neutral role.
ROLE_FIELDS_FOR: Mapping[Role, Mapping[str, Any]] = {
    Role.PRIMARY: {"residenttype": "H", "hohbit": True, "signerbit": True},
    Role.CO_RESIDENT: {"residenttype": "O", "hohbit": False, "signerbit": True},
    Role.OCCUPANT: {"residenttype": "O", "hohbit": False, "signerbit": False},
    Role.MINOR: {
        "residenttype": "O",
        "hohbit": False,
        "signerbit": False,
        "residentrelationship": "Minor Child",
    },
    Role.GUARANTOR: {
        "residenttype": "O",
        "hohbit": False,
        "signerbit": True,
        "guarantorbit": True,
        "residentrelationship": "Guarantor",
    },
}


def rows_from_snapshot(
    snapshot: PropertySnapshot,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(unit rows, resident rows) that the simulator turns back into ``snapshot``."""
    terms = {term.lease_id: term for term in snapshot.lease_terms}
    residents = [membership_row(m, terms.get(m.lease_id)) for m in snapshot.memberships]

    # NB: terms no membership points at are the other leases of a household.
    pointed_at = {m.lease_id for m in snapshot.memberships}
    for term in snapshot.lease_terms:
        if term.lease_id not in pointed_at:
            members = [
                m for m in snapshot.memberships if m.household_id == term.household_id
            ]
            residents.extend(term_row(m, term) for m in members)
    return [unit_row(unit) for unit in snapshot.units], residents


def unit_row(unit: UnitRecord) -> dict[str, Any]:
    """A scenario ``unitlist`` row."""
    row: dict[str, Any] = {"UnitID": unit.unit_id, "UnitNumber": unit.number}
    if unit.building is not None:
        row["BuildingName"] = unit.building
    if unit.floorplan is not None:
        row["FloorplanName"] = unit.floorplan
    return row


def membership_row(membership: Membership, term: LeaseTerm | None) -> dict[str, Any]:
    """A scenario resident row for one membership (and its lease's renewal links)."""
    person = membership.person
    row: dict[str, Any] = {
        "residentmemberid": person.person_id,
        "residenthouseholdid": membership.household_id,
        "leaseid": membership.lease_id,
        "unitid": membership.unit_id,
        "leasestatus": LEASE_STATUS_FOR[membership.status],
        "firstname": person.first_name,
        "lastname": person.last_name,
        "email": person.email,
        "inevict": membership.under_eviction,
        **_dates(membership),
        **ROLE_FIELDS_FOR[membership.role],
    }
    return {**row, **_links(term)}


def term_row(membership: Membership, term: LeaseTerm) -> dict[str, Any]:
    """A member's row on another lease of the household."""
    status = (
        "Future Lease"
        if term.status is OccupancyStatus.FUTURE
        else LEASE_STATUS_FOR[term.status]
    )
    return {
        **membership_row(membership, term),
        "leaseid": term.lease_id,
        "leasestatus": status,
        "begindate": term.start,
        "enddate": term.end,
    }


def _dates(membership: Membership) -> dict[str, date | None]:
    return {
        "begindate": membership.lease_start,
        "enddate": membership.lease_end,
        "moveindate": membership.move_in,
        "moveoutdate": membership.move_out,
        "noticegivendate": membership.notice_given,
        "noticefordate": membership.notice_for,
    }


def _links(term: LeaseTerm | None) -> dict[str, str]:
    if term is None:
        return {}
    links = {"priorleaseid": term.prior_lease_id, "nextleaseid": term.next_lease_id}
    return {key: value for key, value in links.items() if value is not None}
