"""Who lives where, and from when to when (SPEC L2, L10).

PMS dates are calendar dates in the property's time zone. Access starts at 00:00 local
on the move-in date, less ``early_access_hours``, and ends at ``move_out_time`` local
on the move-out date. Local instants are turned into aware UTC instants through the
zone's rules, so a daylight-saving change neither skips nor repeats a transition: a
local time that does not exist maps to the first real instant after the gap, and one
that exists twice maps to its first occurrence.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from leasesync.domain.ids import PersonId
from leasesync.domain.settings import PropertySettings
from leasesync.domain.snapshots import Membership, OccupancyStatus

MOVED_IN = frozenset({OccupancyStatus.CURRENT, OccupancyStatus.PAST})


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of a property-local wall time, DST-safe (L10)."""
    naive = datetime.combine(day, at)
    first = naive.replace(tzinfo=zone, fold=0)
    as_utc = first.astimezone(UTC)
    if as_utc.astimezone(zone).replace(tzinfo=None) != naive:
        # NB: the wall time falls in a spring-forward gap; the transition happens at
        # the end of the gap, the first instant that exists locally.
        return _end_of_gap(naive, zone)
    return as_utc


def _end_of_gap(naive: datetime, zone: ZoneInfo) -> datetime:
    """The first whole second whose local wall time is at or after ``naive``."""
    low = int(naive.replace(tzinfo=zone, fold=1).timestamp())
    high = int(naive.replace(tzinfo=zone, fold=0).timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        wall = datetime.fromtimestamp(middle, zone).replace(tzinfo=None)
        low, high = (low, middle) if wall >= naive else (middle, high)
    return datetime.fromtimestamp(high, UTC)


def access_starts(
    membership: Membership, settings: PropertySettings
) -> datetime | None:
    if membership.move_in is None:
        return None
    midnight = local_instant(membership.move_in, time(0, 0), settings.zone)
    return midnight - timedelta(hours=settings.early_access_hours)


def access_ends(membership: Membership, settings: PropertySettings) -> datetime | None:
    if membership.move_out is None:
        return None
    return local_instant(membership.move_out, settings.move_out_time, settings.zone)


def is_current_occupant(
    membership: Membership, now: datetime, settings: PropertySettings
) -> bool:
    """L2: an occupying role on a moved-in household whose window contains ``now``.

    Notice and a passed lease end change nothing (month-to-month); a recorded
    move-out ends occupancy at its local move-out time, at once when recorded late.
    """
    if not membership.role.occupies or membership.status not in MOVED_IN:
        return False
    if membership.status is OccupancyStatus.PAST and membership.move_out is None:
        return False
    starts = access_starts(membership, settings)
    ends = access_ends(membership, settings)
    return (starts is None or starts <= now) and (ends is None or now < ends)


def current_occupants(
    memberships: Iterable[Membership], now: datetime, settings: PropertySettings
) -> dict[PersonId, Membership]:
    """The current occupants of one unit, one membership per person.

    When a person appears twice on one unit (two households, e.g. a transfer back),
    the membership that is current wins.
    """
    found: dict[PersonId, Membership] = {}
    for membership in memberships:
        if is_current_occupant(membership, now, settings):
            found.setdefault(membership.person_id, membership)
    return found


def next_change(
    memberships: Iterable[Membership], now: datetime, settings: PropertySettings
) -> datetime | None:
    """The next instant after ``now`` at which someone's occupancy starts or ends."""
    instants: list[datetime] = []
    for membership in memberships:
        if not membership.role.occupies or membership.status not in MOVED_IN:
            continue
        for instant in (
            access_starts(membership, settings),
            access_ends(membership, settings),
        ):
            if instant is not None and instant > now:
                instants.append(instant)
    return min(instants, default=None)
