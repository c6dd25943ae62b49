"""Who is a current occupant, and from when to when (SPEC L2, L10).

Expected values come from SPEC.md: the tables name the rule and the case, and the
instants are written out by hand as UTC for the property's zone, America/Chicago
(CST is UTC−6, CDT is UTC−5; 2026-03-08 springs forward at 02:00, 2026-11-01 falls
back at 02:00).
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from planning_builders import (
    FALL_BACK,
    NOW,
    SETTINGS,
    SPRING_FORWARD,
    ZONE,
    days,
    local,
    member,
    occupies,
)

from leasesync.domain.ids import PersonId
from leasesync.domain.occupancy import (
    access_ends,
    access_starts,
    current_occupants,
    is_current_occupant,
    local_instant,
    next_change,
)
from leasesync.domain.settings import PropertySettings
from leasesync.domain.snapshots import OccupancyStatus, Role


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


CURRENT, PAST = OccupancyStatus.CURRENT, OccupancyStatus.PAST

# (id, membership fields, current occupant at NOW — 2026-06-10 12:00 local)
L2_CASES: list[tuple[str, dict[str, Any], bool]] = [
    ("L2-head-moved-in", {}, True),
    ("L2-co-resident", {"role": Role.CO_RESIDENT}, True),
    ("L2-occupant", {"role": Role.OCCUPANT}, True),
    ("L2-minor-lives-there", {"role": Role.MINOR}, True),
    ("L2-guarantor-never", {"role": Role.GUARANTOR}, False),
    ("L2-applicant-never", {"status": OccupancyStatus.APPLICANT}, False),
    ("L2-cancelled-never", {"status": OccupancyStatus.CANCELLED}, False),
    ("L2-signed-future-not-yet", {"status": OccupancyStatus.FUTURE}, False),
    (
        "L2-signed-future-past-its-date-still-not",
        {"status": OccupancyStatus.FUTURE, "move_in": days(-3)},
        False,
    ),
    ("L2-notice-changes-nothing", {"notice_for": days(10)}, True),
    ("L2-notice-date-passed-still-current", {"notice_for": days(-2)}, True),
    ("L2-lease-end-passed-month-to-month", {"lease_end": days(-40)}, True),
    ("L2-move-in-date-not-reached", {"move_in": days(1)}, False),
    ("L2-move-in-date-today", {"move_in": days(0)}, True),
    ("L2-no-move-in-date", {"move_in": None}, True),
    ("L2-moved-out-later-today", {"status": PAST, "move_out": days(0)}, True),
    ("L2-moved-out-yesterday", {"status": PAST, "move_out": days(-1)}, False),
    ("L10-late-move-out-at-once", {"status": PAST, "move_out": days(-20)}, False),
    ("L2-moved-out-tomorrow", {"status": PAST, "move_out": days(1)}, True),
    ("L2-former-without-date", {"status": PAST, "move_out": None}, False),
    ("L2-current-move-out-scheduled", {"move_out": days(3)}, True),
    (
        "L2-guarantor-moved-in-household",
        {"role": Role.GUARANTOR, "move_in": days(-300)},
        False,
    ),
]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [pytest.param(f, e, id=i) for i, f, e in L2_CASES],
)
def test_L2_who_is_a_current_occupant(fields: dict[str, Any], expected: bool) -> None:
    membership = member("A", **fields)

    assert is_current_occupant(membership, NOW, SETTINGS) is expected
    assert occupies(membership, NOW) is expected  # the test's own oracle agrees


def test_L9_a_person_on_two_households_of_one_unit_counts_once_by_the_current_one() -> (
    None
):
    old = member("A", household="H1", status=PAST, move_out=days(-100))
    new = member("A", household="H2", move_in=days(-10))

    found = current_occupants([old, new], NOW, SETTINGS)

    assert list(found) == ["A"]
    assert found[PersonId("A")].household_id == "H2"


# --- L10: local instants -------------------------------------------------------------

# (id, move-in date, early_access_hours, expected start in UTC)
L10_STARTS = [
    ("L10-summer-midnight-CDT", date(2026, 6, 15), 0, utc(2026, 6, 15, 5)),
    ("L10-winter-midnight-CST", date(2026, 1, 15), 0, utc(2026, 1, 15, 6)),
    ("L10-spring-forward-day", SPRING_FORWARD, 0, utc(2026, 3, 8, 6)),
    ("L10-day-after-spring-forward", date(2026, 3, 9), 0, utc(2026, 3, 9, 5)),
    ("L10-fall-back-day", FALL_BACK, 0, utc(2026, 11, 1, 5)),
    ("L10-day-after-fall-back", date(2026, 11, 2), 0, utc(2026, 11, 2, 6)),
    ("L10-early-access-6h", date(2026, 6, 15), 6, utc(2026, 6, 14, 23)),
    ("L10-early-access-24h", date(2026, 6, 15), 24, utc(2026, 6, 14, 5)),
]


@pytest.mark.parametrize(
    ("move_in", "early", "expected"),
    [pytest.param(d, h, e, id=i) for i, d, h, e in L10_STARTS],
)
def test_L10_access_starts_at_local_midnight_less_early_access(
    move_in: date, early: int, expected: datetime
) -> None:
    settings = PropertySettings(timezone="America/Chicago", early_access_hours=early)
    membership = member("A", move_in=move_in)

    assert access_starts(membership, settings) == expected
    assert not is_current_occupant(
        membership, expected - timedelta(seconds=1), settings
    )
    assert is_current_occupant(membership, expected, settings)


# (id, move-out date, move_out_time, expected end in UTC)
L10_ENDS = [
    ("L10-default-23:59-CDT", date(2026, 6, 30), time(23, 59), utc(2026, 7, 1, 4, 59)),
    ("L10-default-23:59-CST", date(2026, 1, 31), time(23, 59), utc(2026, 2, 1, 5, 59)),
    ("L10-11:00-CDT", date(2026, 6, 30), time(11, 0), utc(2026, 6, 30, 16)),
    ("L10-spring-forward-23:59", SPRING_FORWARD, time(23, 59), utc(2026, 3, 9, 4, 59)),
    ("L10-spring-forward-01:59", SPRING_FORWARD, time(1, 59), utc(2026, 3, 8, 7, 59)),
    ("L10-spring-forward-03:00", SPRING_FORWARD, time(3, 0), utc(2026, 3, 8, 8)),
    ("L10-fall-back-23:59", FALL_BACK, time(23, 59), utc(2026, 11, 2, 5, 59)),
    # 01:30 happens twice on 2026-11-01: the first time (CDT) ends access.
    ("L10-fall-back-repeated-hour", FALL_BACK, time(1, 30), utc(2026, 11, 1, 6, 30)),
    ("L10-fall-back-after-repeat", FALL_BACK, time(2, 30), utc(2026, 11, 1, 8, 30)),
]


@pytest.mark.parametrize(
    ("move_out", "at", "expected"),
    [pytest.param(d, t, e, id=i) for i, d, t, e in L10_ENDS],
)
def test_L10_access_ends_at_the_local_move_out_time(
    move_out: date, at: time, expected: datetime
) -> None:
    settings = PropertySettings(timezone="America/Chicago", move_out_time=at)
    membership = member("A", status=PAST, move_in=date(2025, 1, 1), move_out=move_out)

    assert access_ends(membership, settings) == expected
    assert is_current_occupant(membership, expected - timedelta(seconds=1), settings)
    assert not is_current_occupant(membership, expected, settings)


@pytest.mark.parametrize("at", [time(2, 0), time(2, 30), time(2, 59)])
def test_L10_a_move_out_time_in_the_spring_forward_gap_lands_at_the_gap_end(
    at: time,
) -> None:
    """02:00–02:59 never happen on 2026-03-08; the first instant after is 03:00 CDT."""
    instant = local_instant(SPRING_FORWARD, at, ZONE)

    assert instant == utc(2026, 3, 8, 8)
    assert instant.astimezone(ZONE).time() >= at  # never before the wall time


def test_L10_daily_transitions_never_skip_or_repeat_across_dst() -> None:
    """Midnight and 23:59 of every day of March and November: one instant each,
    strictly increasing, 23 to 25 hours apart, reading the intended wall time."""
    for first in (date(2026, 2, 25), date(2026, 10, 25)):
        for at in (time(0, 0), time(23, 59), time(1, 30), time(3, 0)):
            instants = [
                local_instant(first + timedelta(days=n), at, ZONE) for n in range(14)
            ]
            gaps = {b - a for a, b in itertools.pairwise(instants)}
            assert gaps <= {timedelta(hours=h) for h in (23, 24, 25)}, (first, at)
            for n, instant in enumerate(instants):
                wall = instant.astimezone(ZONE)
                assert (wall.date(), wall.time()) == (first + timedelta(days=n), at)


def test_L10_next_change_is_the_next_local_transition_never_a_past_one() -> None:
    arriving = member("A", move_in=days(2))
    leaving = member("B", status=PAST, move_out=days(5))
    late = member("C", status=PAST, move_out=days(-3))

    due = next_change([arriving, leaving, late], NOW, SETTINGS)
    after = next_change([leaving, late], local(days(2)), SETTINGS)
    never = next_change([late], NOW, SETTINGS)

    assert due == local(days(2))
    assert after == local(days(5), 23, 59)
    assert never is None


def test_L10_early_access_makes_the_move_in_due_earlier() -> None:
    settings = PropertySettings(timezone="America/Chicago", early_access_hours=6)
    arriving = member("A", move_in=days(2))

    assert next_change([arriving], NOW, settings) == local(days(1), 18)
