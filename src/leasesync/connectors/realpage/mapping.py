"""From RealPage rows to the PMS-neutral snapshot (PMS-NOTES §9, SPEC §3).

Four answers make one :class:`~leasesync.domain.snapshots.PropertySnapshot`:

- ``unitlist`` gives the units;
- ``getresidentlist`` gives one row per person and lease (identity, household,
  lease status, head-of-household type, e-mail);
- ``getresidentlistinfo`` adds, per person and lease, the dates (move-in,
  move-out, notice) and the role fields (``hohbit``, ``signerbit``,
  ``guarantorbit``, ``residentrelationship``); it is joined on
  ``residentmemberid`` and ``leaseid``;
- ``getleaseinfo`` gives one row per lease contract — a :class:`LeaseTerm` each,
  with the renewal chain — and the lease dates each membership carries.

A person has one :class:`Membership` per household, however many lease rows
they have in it: RealPage keeps a renewed-away lease as ``Former`` and a signed
renewal as ``Future Lease`` beside the ``Current`` one. The row that speaks for
the membership is chosen by :data:`STATUS_PRECEDENCE`, so a renewal only adds a
lease term and never a second membership or a status change (SPEC L9).

Roles come from :func:`role_for`; where RealPage says nothing, an adult member
is a co-resident (see its docstring). A row whose status is not in
:data:`LEASE_STATUS_TO_OCCUPANCY`, or that carries a value we cannot read, is
quarantined: it is left out and reported in ``snapshot.quarantined`` (the engine
raises ``record_quarantined``), so one odd record never blocks a property.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from leasesync.connectors.realpage.parsing import Row, parse_bool, parse_date
from leasesync.domain.errors import SkipRecordError
from leasesync.domain.ids import HouseholdId, LeaseId, PersonId, PmsUnitId
from leasesync.domain.snapshots import (
    LeaseTerm,
    Membership,
    OccupancyStatus,
    Person,
    PropertySnapshot,
    QuarantinedRecord,
    Role,
    UnitRecord,
)

logger = logging.getLogger(__name__)

#: RealPage ``leasestatus`` (resident lists, per-person lease lists and
#: ``getleaseinfo``), compared lower-cased with spaces collapsed. Notice is not a
#: status in RealPage: it is ``Current`` with notice dates, and stays CURRENT.
LEASE_STATUS_TO_OCCUPANCY: Mapping[str, OccupancyStatus] = {
    "current": OccupancyStatus.CURRENT,
    "current resident": OccupancyStatus.CURRENT,
    "applicant - lease signed": OccupancyStatus.FUTURE,
    "future lease": OccupancyStatus.FUTURE,
    "applicant": OccupancyStatus.APPLICANT,
    "former": OccupancyStatus.PAST,
    "former resident": OccupancyStatus.PAST,
    "former applicant": OccupancyStatus.CANCELLED,
}

#: Which of a person's rows in one household speaks for the membership, first
#: wins. CURRENT first makes a ``Future Lease`` (or a second signed lease) of a
#: household the person already lives in a renewal term, and a ``Former`` row of
#: a renewed-away lease history.
STATUS_PRECEDENCE: tuple[OccupancyStatus, ...] = (
    OccupancyStatus.CURRENT,
    OccupancyStatus.FUTURE,
    OccupancyStatus.APPLICANT,
    OccupancyStatus.PAST,
    OccupancyStatus.CANCELLED,
)

#: Free-text ``residentrelationship`` / ``residentagestatus`` fragments
#: (site-configured picklists), lower-cased; first match wins.
RELATIONSHIP_TO_ROLE: tuple[tuple[str, Role], ...] = (
    ("guarantor", Role.GUARANTOR),
    ("minor", Role.MINOR),
)

#: ``residenttype`` codes; only ``H`` (head of household) is documented.
RESIDENT_TYPE_TO_ROLE: Mapping[str, Role] = {"H": Role.PRIMARY}

#: A ``PriorLeaseID``/``NextLeaseID`` of these means "no such lease".
NO_LEASE_LINK = frozenset({"", "0"})


@dataclass(frozen=True, kw_only=True, slots=True)
class LeaseFacts:
    """One ``getleaseinfo`` row: its term plus what memberships borrow from it."""

    term: LeaseTerm
    move_in: date | None = None
    scheduled_move_in: date | None = None
    under_eviction: bool = False


def build_snapshot(
    *,
    units: Sequence[Row],
    residents: Sequence[Row],
    resident_infos: Sequence[Row],
    leases: Sequence[Row],
) -> PropertySnapshot:
    """Combine the four answers' rows into one snapshot, quarantining bad records."""
    quarantine: list[QuarantinedRecord] = []
    unit_records = map_units(units, quarantine)
    lease_facts = map_leases(leases, quarantine)

    # NB: memberships come after leases because they borrow lease dates.
    merged = join_resident_infos(residents, resident_infos)
    memberships = map_memberships(merged, lease_facts, quarantine)
    return PropertySnapshot(
        units=tuple(unit_records),
        memberships=tuple(memberships),
        lease_terms=tuple(facts.term for facts in lease_facts.values()),
        quarantined=tuple(quarantine),
    )


def occupancy_status(text: str) -> OccupancyStatus:
    """Map a ``leasestatus``; raises :class:`SkipRecordError` for an unknown one."""
    status = LEASE_STATUS_TO_OCCUPANCY.get(" ".join(text.split()).lower())
    if status is None:
        raise SkipRecordError(f"unknown lease status {text[:40]!r}")
    return status


def role_for(row: Row) -> Role:
    """The person's role on this lease, from the strongest signal present.

    Guarantor (``guarantorbit`` or the relationship text) beats everything, then
    a relationship or age status saying minor, then head of household
    (``residenttype`` ``H`` or ``hohbit``). An explicit ``signerbit`` false makes
    an adult an OCCUPANT. Otherwise — a signer, or a row that says nothing, as
    ``getresidentlist`` rows don't — the person is a CO_RESIDENT: RealPage lists
    people on a household because they are on its lease, and an occupying role
    is what lets an adult with an e-mail be invited (SPEC L3).
    """
    relationship = _text(
        row, "residentrelationship", "relationship", "residentagestatus"
    )
    if _flag(row, "guarantorbit"):
        return Role.GUARANTOR
    for fragment, role in RELATIONSHIP_TO_ROLE:
        if fragment in relationship.lower():
            return role
    head = RESIDENT_TYPE_TO_ROLE.get(_text(row, "residenttype").upper())
    if head is not None or _flag(row, "hohbit"):
        return head or Role.PRIMARY
    if _flag(row, "signerbit") is False:
        return Role.OCCUPANT
    return Role.CO_RESIDENT


def map_units(
    rows: Iterable[Row], quarantine: list[QuarantinedRecord]
) -> list[UnitRecord]:
    """``unitlist`` rows as unit records; a row without ``UnitID`` or a repeat is quarantined."""
    records: dict[str, UnitRecord] = {}
    for index, row in enumerate(rows):
        unit_id = _text(row, "unitid")
        if not unit_id or unit_id in records:
            reason = "duplicate unit id" if unit_id else "unit row without UnitID"
            _quarantine(quarantine, f"unit row {index + 1}", reason, unit_id or None)
            continue
        records[unit_id] = UnitRecord(
            unit_id=PmsUnitId(unit_id),
            number=_text(row, "unitnumber") or unit_id,
            building=_text(row, "buildingname", "buildingid") or None,
            floorplan=_text(row, "floorplanname", "floorplanid") or None,
        )
    return list(records.values())


def map_leases(
    rows: Iterable[Row], quarantine: list[QuarantinedRecord]
) -> dict[LeaseId, LeaseFacts]:
    """``getleaseinfo`` rows by lease id; the first row of a repeated id wins."""
    facts: dict[LeaseId, LeaseFacts] = {}
    for row in rows:
        lease_id = LeaseId(_text(row, "leaseid"))
        if lease_id in facts:
            continue
        try:
            facts[lease_id] = lease_facts(row)
        except SkipRecordError as exc:
            name = f"lease {lease_id}" if lease_id else "lease row without LeaseID"
            _quarantine(quarantine, name, str(exc), _text(row, "unitid") or None)
    return facts


def lease_facts(row: Row) -> LeaseFacts:
    """One ``getleaseinfo`` row; raises :class:`SkipRecordError` if unusable."""
    lease_id, household, unit = (_text(row, k) for k in ("leaseid", "reshid", "unitid"))
    if not (lease_id and household and unit):
        raise SkipRecordError("lease without LeaseID, ReshID or UnitID")
    term = LeaseTerm(
        lease_id=LeaseId(lease_id),
        household_id=HouseholdId(household),
        unit_id=PmsUnitId(unit),
        status=_lease_status(row),
        start=_date(row, "leasebegindate"),
        end=_date(row, "leaseenddate"),
        prior_lease_id=_lease_link(row, "priorleaseid"),
        next_lease_id=_lease_link(row, "nextleaseid"),
    )
    return LeaseFacts(
        term=term,
        move_in=_date(row, "moveindate"),
        scheduled_move_in=_date(row, "schedmoveindate"),
        under_eviction=bool(_flag(row, "evict")),
    )


def join_resident_infos(residents: Iterable[Row], infos: Iterable[Row]) -> list[Row]:
    """Each ``getresidentlist`` row with its ``getresidentlistinfo`` row folded in.

    Placeholder rows without ``unitid`` are dropped. The info row is found by
    person and lease id, else by person alone when that is unambiguous; the
    resident row's own non-empty values win over the info row's.
    """
    by_lease: dict[tuple[str, str], Row] = {}
    by_person: dict[str, list[Row]] = {}
    for info in infos:
        person = _text(info, "residentmemberid", "residentid")
        by_lease.setdefault((person, _text(info, "leaseid")), info)
        by_person.setdefault(person, []).append(info)

    merged: list[Row] = []
    for row in residents:
        if _text(row, "unitid"):
            own = {key: value for key, value in row.items() if value}
            merged.append({**_matching_info(row, by_lease, by_person), **own})
    return merged


def _matching_info(
    row: Row,
    by_lease: Mapping[tuple[str, str], Row],
    by_person: Mapping[str, list[Row]],
) -> Row:
    person = _text(row, "residentmemberid", "residentid")
    exact = by_lease.get((person, _text(row, "leaseid")))
    if exact is not None:
        return exact
    candidates = by_person.get(person, [])
    if len(candidates) != 1:
        status = _text(row, "leasestatus")
        candidates = [
            info for info in candidates if _text(info, "leasestatus") == status
        ]
    return candidates[0] if len(candidates) == 1 else {}


def map_memberships(
    rows: Iterable[Row],
    leases: Mapping[LeaseId, LeaseFacts],
    quarantine: list[QuarantinedRecord],
) -> list[Membership]:
    """One membership per (person, household), picked by :data:`STATUS_PRECEDENCE`.

    A quarantined row takes its whole membership out: an older row of the same
    person and household must not speak for it (a ``Former`` lease standing in
    for an unreadable ``Current`` one would end someone's access).
    """
    chosen: dict[tuple[str, str], tuple[tuple[int, date, int], Membership]] = {}
    spoiled: set[tuple[str, str]] = set()
    for index, row in enumerate(rows):
        try:
            membership = membership_for(row, leases)
        except SkipRecordError as exc:
            person = _text(row, "residentmemberid", "residentid")
            _quarantine(
                quarantine, f"resident {person or '?'}", str(exc), _text(row, "unitid")
            )
            spoiled.add((person, _text(row, "residenthouseholdid", "reshid")))
            continue

        key = (membership.person_id, membership.household_id)
        rank = _rank(membership, index)
        if key not in chosen or rank > chosen[key][0]:
            chosen[key] = (rank, membership)
    return [membership for key, (_, membership) in chosen.items() if key not in spoiled]


def membership_for(row: Row, leases: Mapping[LeaseId, LeaseFacts]) -> Membership:
    """One merged resident row as a membership; raises :class:`SkipRecordError`."""
    person_id = _text(row, "residentmemberid", "residentid")
    lease_id = LeaseId(_text(row, "leaseid"))
    lease = leases.get(lease_id)
    household = _text(row, "residenthouseholdid", "reshid")
    if not household and lease is not None:
        household = lease.term.household_id
    if not (person_id and household and lease_id):
        raise SkipRecordError("resident without person, household or lease id")

    return Membership(
        person=_person(PersonId(person_id), row),
        household_id=HouseholdId(household),
        unit_id=PmsUnitId(_text(row, "unitid")),
        lease_id=lease_id,
        role=role_for(row),
        status=occupancy_status(_text(row, "leasestatus")),
        move_in=_move_in(row, lease),
        move_out=_date(row, "moveoutdate"),
        notice_given=_date(row, "noticegivendate"),
        notice_for=_date(row, "noticefordate"),
        lease_start=lease.term.start
        if lease
        else _date(row, "begindate", "leasestartdate"),
        lease_end=lease.term.end if lease else _date(row, "enddate", "leaseenddate"),
        under_eviction=bool(_flag(row, "inevict"))
        or bool(lease and lease.under_eviction),
    )


def _person(person_id: PersonId, row: Row) -> Person:
    return Person(
        person_id=person_id,
        first_name=_text(row, "firstname"),
        last_name=_text(row, "lastname"),
        email=_text(row, "email", "emailaddress") or None,
    )


def _move_in(row: Row, lease: LeaseFacts | None) -> date | None:
    """The person's recorded move-in, else the lease's actual, else its scheduled one."""
    own = _date(row, "moveindate")
    if own is not None or lease is None:
        return own
    return lease.move_in or lease.scheduled_move_in


def _rank(membership: Membership, index: int) -> tuple[int, date, int]:
    precedence = len(STATUS_PRECEDENCE) - STATUS_PRECEDENCE.index(membership.status)
    return (precedence, membership.lease_start or date.min, index)


def _lease_status(row: Row) -> OccupancyStatus:
    # NB: LeaseStatus may be a numeric code; its text twin is the readable one.
    texts = [_text(row, "leasestatustext"), _text(row, "leasestatus")]
    for text in filter(None, texts):
        status = LEASE_STATUS_TO_OCCUPANCY.get(" ".join(text.split()).lower())
        if status is not None:
            return status
    return occupancy_status(next(filter(None, texts), ""))


def _lease_link(row: Row, key: str) -> LeaseId | None:
    value = _text(row, key)
    return None if value in NO_LEASE_LINK else LeaseId(value)


def _text(row: Row, *keys: str) -> str:
    for key in keys:
        value = row.get(key, "").strip()
        if value:
            return value
    return ""


def _date(row: Row, *keys: str) -> date | None:
    key = next((k for k in keys if row.get(k, "").strip()), keys[0])
    try:
        return parse_date(row.get(key))
    except ValueError as exc:
        raise SkipRecordError(f"{key}: {exc}") from exc


def _flag(row: Row, key: str) -> bool | None:
    try:
        return parse_bool(row.get(key))
    except ValueError as exc:
        raise SkipRecordError(f"{key}: {exc}") from exc


def _quarantine(
    quarantine: list[QuarantinedRecord], record: str, reason: str, unit_id: str | None
) -> None:
    unit_id = unit_id or None
    # NB: record names carry RealPage ids only, never names or e-mails.
    quarantine.append(
        QuarantinedRecord(
            record=record,
            reason=reason,
            unit_id=PmsUnitId(unit_id) if unit_id else None,
        )
    )
    # NB: DEBUG here, since every poll parses the record again; the engine logs a
    # WARNING once, when it first raises the record_quarantined alert.
    logger.debug(
        "Quarantined RealPage %s: %s",
        record,
        reason,
        extra={"event": "record_quarantined", "record": record, "unit_id": unit_id},
    )
