"""The sync guard (SPEC L12): implausible snapshots are held, plausible ones pass.

SPEC L12: implausible means no units, or no occupants where there were some, or
removals above the property's threshold — by default more than 20 % of current
residents *and* more than 3 people. The platform side is given as the residents of
each unit, the way the engine reads them from the store.
"""

from __future__ import annotations

import pytest
from planning_builders import NOW, SETTINGS, days, member

from leasesync.domain.guarding import judge_snapshot
from leasesync.domain.ids import PersonId, PmsUnitId
from leasesync.domain.settings import PropertySettings
from leasesync.domain.snapshots import (
    Membership,
    OccupancyStatus,
    PropertySnapshot,
    QuarantinedRecord,
    UnitRecord,
)

Platform = dict[PmsUnitId, frozenset[PersonId]]


def unit_id(n: int) -> PmsUnitId:
    return PmsUnitId(f"U{n}")


def people_in(n: int, count: int) -> list[str]:
    """``count`` people living in unit ``n``: ``"1-0"``, ``"1-1"``, …"""
    return [f"{n}-{i}" for i in range(count)]


def portfolio(units: int, per_unit: int) -> Platform:
    """A platform with ``per_unit`` residents on each of ``units`` units."""
    return {
        unit_id(n): frozenset(PersonId(p) for p in people_in(n, per_unit))
        for n in range(units)
    }


def snapshot_of(
    platform: Platform,
    *,
    gone: int = 0,
    listed: int | None = None,
    quarantined: tuple[int, ...] = (),
) -> PropertySnapshot:
    """The PMS view of ``platform`` with the first ``gone`` people moved out.

    ``listed`` limits the units the PMS lists (the rest vanish); a quarantined unit
    has a record the connector could not read.
    """
    shown = sorted(platform)[: len(platform) if listed is None else listed]
    everyone = sorted((u, p) for u in shown for p in platform[u])
    memberships: list[Membership] = []
    for index, (unit, person) in enumerate(everyone):
        status = OccupancyStatus.PAST if index < gone else OccupancyStatus.CURRENT
        moved = days(-1) if index < gone else None
        memberships.append(
            member(
                person, unit=unit, household=f"H{unit}", status=status, move_out=moved
            )
        )
    return PropertySnapshot(
        units=tuple(UnitRecord(unit_id=u, number=u) for u in shown),
        memberships=tuple(memberships),
        quarantined=tuple(
            QuarantinedRecord(
                record=f"resident in {unit_id(n)}", reason="bad", unit_id=unit_id(n)
            )
            for n in quarantined
        ),
    )


CASES = [
    # (id, platform, snapshot arguments, plausible, removals)
    ("L12-no-units-held", portfolio(2, 2), {"listed": 0}, False, 0),
    ("L12-no-units-held-even-when-new", {}, {"listed": 0}, False, 0),
    ("L12-no-occupants-where-there-were-some", portfolio(2, 2), {"gone": 4}, False, 4),
    ("L12-nothing-removed-ok", portfolio(5, 2), {}, True, 0),
    ("L12-4-of-10-over-both-thresholds-held", portfolio(5, 2), {"gone": 4}, False, 4),
    ("L12-3-of-10-not-more-than-3-people-ok", portfolio(5, 2), {"gone": 3}, True, 3),
    ("L12-5-of-25-exactly-20-percent-ok", portfolio(5, 5), {"gone": 5}, True, 5),
    ("L12-5-of-24-over-20-percent-held", portfolio(6, 4), {"gone": 5}, False, 5),
    ("L12-4-of-40-under-20-percent-ok", portfolio(10, 4), {"gone": 4}, True, 4),
    ("L12-vanished-unit-is-not-a-removal", portfolio(4, 2), {"listed": 2}, True, 0),
    (
        "L12-quarantined-unit-is-not-a-removal",
        portfolio(2, 4),
        {"gone": 4, "quarantined": (0,)},
        True,
        0,
    ),
]


@pytest.mark.parametrize(
    ("platform", "arguments", "plausible", "removals"),
    [pytest.param(p, a, ok, r, id=i) for i, p, a, ok, r in CASES],
)
def test_L12_the_guard_holds_implausible_snapshots(
    platform: Platform, arguments: dict[str, object], plausible: bool, removals: int
) -> None:
    snapshot = snapshot_of(platform, **arguments)  # type: ignore[arg-type]

    verdict = judge_snapshot(snapshot, platform, NOW, SETTINGS)

    assert verdict.plausible is plausible
    assert bool(verdict.reasons) is not plausible
    assert verdict.removals == removals
    assert verdict.residents == sum(len(p) for p in platform.values())


def test_L12_the_first_sync_of_a_property_with_nobody_yet_is_plausible() -> None:
    units = tuple(UnitRecord(unit_id=unit_id(n), number=str(n)) for n in range(3))
    future = member("A", unit=unit_id(0), status=OccupancyStatus.FUTURE)

    verdict = judge_snapshot(
        PropertySnapshot(units=units, memberships=(future,)), {}, NOW, SETTINGS
    )

    assert verdict.plausible and verdict.residents == 0


def test_L12_the_reason_says_what_looked_wrong() -> None:
    platform = portfolio(5, 2)

    removals = judge_snapshot(snapshot_of(platform, gone=4), platform, NOW, SETTINGS)
    empty = judge_snapshot(snapshot_of(platform, listed=0), platform, NOW, SETTINGS)

    assert "4 of 10" in removals.reasons[0]
    assert "no units" in empty.reasons[0]


@pytest.mark.parametrize(
    ("gone", "plausible"),
    [
        pytest.param(4, True, id="L12-custom-40-percent-within-50"),
        pytest.param(6, False, id="L12-custom-60-percent-over-50"),
        pytest.param(2, True, id="L12-custom-20-percent-ok"),
    ],
)
def test_L12_thresholds_are_the_property_s_own(gone: int, plausible: bool) -> None:
    lenient = PropertySettings(
        timezone="America/Chicago",
        removal_threshold_percent=50.0,
        removal_threshold_people=1,
    )
    platform = portfolio(5, 2)

    verdict = judge_snapshot(snapshot_of(platform, gone=gone), platform, NOW, lenient)

    assert verdict.plausible is plausible


def test_L12_a_move_out_not_yet_in_effect_is_not_a_removal() -> None:
    """Someone moving out tonight (L10) is still a resident: nothing to count."""
    platform = portfolio(5, 2)
    leaving_tonight = snapshot_of(platform, gone=0)
    memberships = tuple(
        member(
            m.person_id, unit=m.unit_id, status=OccupancyStatus.PAST, move_out=days(0)
        )
        for m in leaving_tonight.memberships
    )
    snapshot = PropertySnapshot(units=leaving_tonight.units, memberships=memberships)

    verdict = judge_snapshot(snapshot, platform, NOW, SETTINGS)

    assert verdict.plausible and verdict.removals == 0
