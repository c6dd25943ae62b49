"""PMS facts as JSON documents, and their fingerprints (SPEC §4, cost follows change).

A unit keeps the facts its last plan was made from, so that a completion or a due
instant can re-plan it without fetching the PMS again; a held sync keeps its whole
snapshot, so that staff can approve exactly what was held. The fingerprint is a digest
of a canonical JSON form: equal facts, equal fingerprint.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Any

from leasesync.domain.ids import HouseholdId, LeaseId, PersonId, PmsUnitId
from leasesync.domain.planning import UnitFacts
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


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _parse_day(value: Any) -> date | None:
    return date.fromisoformat(value) if value else None


def unit_to_json(unit: UnitRecord) -> dict[str, Any]:
    return {
        "unit_id": unit.unit_id,
        "number": unit.number,
        "building": unit.building,
        "floorplan": unit.floorplan,
    }


def unit_from_json(data: dict[str, Any]) -> UnitRecord:
    return UnitRecord(
        unit_id=PmsUnitId(data["unit_id"]),
        number=data["number"],
        building=data.get("building"),
        floorplan=data.get("floorplan"),
    )


def membership_to_json(m: Membership) -> dict[str, Any]:
    return {
        "person_id": m.person.person_id,
        "first_name": m.person.first_name,
        "last_name": m.person.last_name,
        "email": m.person.email,
        "household_id": m.household_id,
        "unit_id": m.unit_id,
        "lease_id": m.lease_id,
        "role": m.role.value,
        "status": m.status.value,
        "move_in": _day(m.move_in),
        "move_out": _day(m.move_out),
        "notice_given": _day(m.notice_given),
        "notice_for": _day(m.notice_for),
        "lease_start": _day(m.lease_start),
        "lease_end": _day(m.lease_end),
        "under_eviction": m.under_eviction,
    }


def membership_from_json(d: dict[str, Any]) -> Membership:
    person = Person(
        person_id=PersonId(d["person_id"]),
        first_name=d["first_name"],
        last_name=d["last_name"],
        email=d["email"],
    )
    return Membership(
        person=person,
        household_id=HouseholdId(d["household_id"]),
        unit_id=PmsUnitId(d["unit_id"]),
        lease_id=LeaseId(d["lease_id"]),
        role=Role(d["role"]),
        status=OccupancyStatus(d["status"]),
        move_in=_parse_day(d["move_in"]),
        move_out=_parse_day(d["move_out"]),
        notice_given=_parse_day(d["notice_given"]),
        notice_for=_parse_day(d["notice_for"]),
        lease_start=_parse_day(d["lease_start"]),
        lease_end=_parse_day(d["lease_end"]),
        under_eviction=bool(d["under_eviction"]),
    )


def term_to_json(t: LeaseTerm) -> dict[str, Any]:
    return {
        "lease_id": t.lease_id,
        "household_id": t.household_id,
        "unit_id": t.unit_id,
        "status": t.status.value,
        "start": _day(t.start),
        "end": _day(t.end),
        "prior_lease_id": t.prior_lease_id,
        "next_lease_id": t.next_lease_id,
    }


def term_from_json(d: dict[str, Any]) -> LeaseTerm:
    prior, following = d.get("prior_lease_id"), d.get("next_lease_id")
    return LeaseTerm(
        lease_id=LeaseId(d["lease_id"]),
        household_id=HouseholdId(d["household_id"]),
        unit_id=PmsUnitId(d["unit_id"]),
        status=OccupancyStatus(d["status"]),
        start=_parse_day(d["start"]),
        end=_parse_day(d["end"]),
        prior_lease_id=LeaseId(prior) if prior else None,
        next_lease_id=LeaseId(following) if following else None,
    )


def facts_to_json(facts: UnitFacts) -> dict[str, Any]:
    return {
        "unit": unit_to_json(facts.record),
        "memberships": [membership_to_json(m) for m in facts.memberships],
        "terms": [term_to_json(t) for t in facts.terms],
    }


def facts_from_json(data: dict[str, Any]) -> UnitFacts:
    return UnitFacts(
        record=unit_from_json(data["unit"]),
        memberships=tuple(membership_from_json(m) for m in data["memberships"]),
        terms=tuple(term_from_json(t) for t in data.get("terms", [])),
    )


def snapshot_to_json(snapshot: PropertySnapshot) -> dict[str, Any]:
    return {
        "units": [unit_to_json(u) for u in snapshot.units],
        "memberships": [membership_to_json(m) for m in snapshot.memberships],
        "lease_terms": [term_to_json(t) for t in snapshot.lease_terms],
        "quarantined": [
            {"record": q.record, "reason": q.reason, "unit_id": q.unit_id}
            for q in snapshot.quarantined
        ],
    }


def snapshot_from_json(data: dict[str, Any]) -> PropertySnapshot:
    quarantined = tuple(
        QuarantinedRecord(
            record=q["record"],
            reason=q["reason"],
            unit_id=PmsUnitId(q["unit_id"]) if q.get("unit_id") else None,
        )
        for q in data.get("quarantined", [])
    )
    return PropertySnapshot(
        units=tuple(unit_from_json(u) for u in data["units"]),
        memberships=tuple(membership_from_json(m) for m in data["memberships"]),
        lease_terms=tuple(term_from_json(t) for t in data.get("lease_terms", [])),
        quarantined=quarantined,
    )


def fingerprint(document: dict[str, Any]) -> str:
    """A digest of a JSON document's canonical form."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
