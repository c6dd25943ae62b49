"""Round trip: neutral state → simulator rows → RPX XML over HTTP → connector → same state."""

from __future__ import annotations

import string
from collections.abc import Iterator
from dataclasses import replace
from datetime import date

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leasesync.connectors.realpage.connector import RealPageConnector
from leasesync.domain.ids import HouseholdId, LeaseId, PersonId, PmsUnitId
from leasesync.domain.snapshots import (
    LeaseTerm,
    Membership,
    OccupancyStatus,
    Person,
    PropertySnapshot,
    Role,
    UnitRecord,
)
from leasesync.simulators.realpage import RealPageSimulator
from leasesync.simulators.realpage_rows import rows_from_snapshot
from leasesync.simulators.serving import serve_in_thread

PMCID, SITEID, KEY = "1", "2", "round-trip-key"

_dates = st.one_of(
    st.none(), st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31))
)
_names = st.text(alphabet=string.ascii_letters + " '&<>-éñ", max_size=12).map(str.strip)
_emails = st.one_of(
    st.none(),
    st.from_regex(r"[a-z0-9][a-z0-9._+]{0,10}@example\.com", fullmatch=True),
)


@st.composite
def _snapshots(draw: st.DrawFn) -> PropertySnapshot:
    """Units, households with members and lease terms; ids unique, as RealPage's are."""
    unit_ids = draw(st.lists(st.integers(1, 999), min_size=1, max_size=5, unique=True))
    units = tuple(
        UnitRecord(
            unit_id=PmsUnitId(f"2{n:04d}"),
            number=str(n),
            building=draw(st.one_of(st.none(), st.sampled_from(["Building 1", "B"]))),
            floorplan=draw(st.one_of(st.none(), st.just("A1 - 1 Bed"))),
        )
        for n in unit_ids
    )
    memberships: list[Membership] = []
    terms: list[LeaseTerm] = []
    for index in range(draw(st.integers(0, 6))):
        unit = draw(st.sampled_from(units)).unit_id
        household = _household(draw, index, unit, memberships_start=len(memberships))
        memberships.extend(household[0])
        terms.extend(household[1])
    return PropertySnapshot(
        units=units, memberships=tuple(memberships), lease_terms=tuple(terms)
    )


def _household(
    draw: st.DrawFn, index: int, unit: PmsUnitId, *, memberships_start: int
) -> tuple[list[Membership], list[LeaseTerm]]:
    household, lease = HouseholdId(f"3{index:04d}"), LeaseId(f"4{index:04d}")
    status = draw(st.sampled_from(list(OccupancyStatus)))
    start, end = draw(_dates), draw(_dates)
    renewal = status is OccupancyStatus.CURRENT and draw(st.booleans())
    renewal_id = LeaseId(f"5{index:04d}")
    terms = [
        LeaseTerm(lease_id=lease, household_id=household, unit_id=unit, status=status,
                  start=start, end=end, next_lease_id=renewal_id if renewal else None),
    ]  # fmt: skip
    if renewal:
        terms.append(
            LeaseTerm(lease_id=renewal_id, household_id=household, unit_id=unit,
                      status=OccupancyStatus.FUTURE, start=draw(_dates), end=draw(_dates),
                      prior_lease_id=lease)
        )  # fmt: skip

    template = Membership(
        person=_person(draw, memberships_start), role=Role.PRIMARY,
        household_id=household, unit_id=unit, lease_id=lease, status=status,
        move_in=draw(_dates), move_out=draw(_dates), notice_given=draw(_dates),
        notice_for=draw(_dates), lease_start=start, lease_end=end,
        under_eviction=draw(st.booleans()),
    )  # fmt: skip
    roles = draw(st.lists(st.sampled_from(list(Role)), min_size=1, max_size=4))
    members = [
        replace(template, person=_person(draw, memberships_start + n), role=role)
        for n, role in enumerate(roles)
    ]
    return members, terms


def _person(draw: st.DrawFn, number: int) -> Person:
    return Person(
        person_id=PersonId(f"6{number:04d}"),
        first_name=draw(_names),
        last_name=draw(_names),
        email=draw(_emails),
    )


@pytest.fixture(scope="module")
def connector() -> Iterator[tuple[RealPageSimulator, RealPageConnector]]:
    """One simulator on loopback and one connector to it, for every example."""
    simulator = RealPageSimulator(
        pmcid=PMCID, siteid=SITEID, license_key=KEY, units=[], residents=[]
    )
    with serve_in_thread(simulator) as url, httpx.Client() as http:
        yield simulator, RealPageConnector(
            url=url, pmcid=PMCID, siteid=SITEID, license_key=KEY, retry_attempts=1,
            http_client=http,
        )  # fmt: skip


def _canonical(snapshot: PropertySnapshot) -> PropertySnapshot:
    return PropertySnapshot(
        units=snapshot.units,
        memberships=tuple(
            sorted(snapshot.memberships, key=lambda m: (m.person_id, m.household_id))
        ),
        lease_terms=tuple(sorted(snapshot.lease_terms, key=lambda t: t.lease_id)),
        quarantined=snapshot.quarantined,
    )


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(state=_snapshots())
def test_neutral_state_survives_the_rpx_round_trip(
    connector: tuple[RealPageSimulator, RealPageConnector], state: PropertySnapshot
) -> None:
    simulator, realpage = connector
    units, residents = rows_from_snapshot(state)
    simulator.set_state(units=units, residents=residents)

    fetched = realpage.fetch_snapshot()

    assert _canonical(fetched) == _canonical(state)
