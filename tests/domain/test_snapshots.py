"""The neutral snapshot's own checks: bad vendor data is reported, not applied."""

from __future__ import annotations

from leasesync.domain.ids import HouseholdId, LeaseId, PersonId, PmsUnitId
from leasesync.domain.snapshots import (
    Membership,
    OccupancyStatus,
    Person,
    PropertySnapshot,
    Role,
    UnitRecord,
)


def _member(person: str, unit: str) -> Membership:
    return Membership(
        person=Person(person_id=PersonId(person), email=f"{person}@example.com"),
        household_id=HouseholdId("30001"),
        unit_id=PmsUnitId(unit),
        lease_id=LeaseId("40001"),
        role=Role.PRIMARY,
        status=OccupancyStatus.CURRENT,
    )


def test_a_resident_on_an_unlisted_unit_is_quarantined_the_rest_kept() -> None:
    snapshot = PropertySnapshot(
        units=(UnitRecord(unit_id=PmsUnitId("20101"), number="101"),),
        memberships=(_member("50001", "20101"), _member("50002", "99999")),
    )

    checked = snapshot.with_orphans_quarantined()

    assert [m.person_id for m in checked.memberships] == ["50001"]
    assert len(checked.quarantined) == 1
    assert "99999" in checked.quarantined[0].reason
    assert "50002" in checked.quarantined[0].record


def test_a_clean_snapshot_is_returned_as_it_is() -> None:
    snapshot = PropertySnapshot(
        units=(UnitRecord(unit_id=PmsUnitId("20101"), number="101"),),
        memberships=(_member("50001", "20101"),),
    )

    assert snapshot.with_orphans_quarantined() is snapshot
