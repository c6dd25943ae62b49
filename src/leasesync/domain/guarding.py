"""The sync guard (SPEC L12): a fetch that looks implausible changes nothing.

PMS outages often look like success: an empty list, or a list missing half its
residents. Before any unit is planned, :func:`judge_snapshot` compares the snapshot
with who is on the platform now and holds the run when it would empty the property
or remove more people than the property's threshold allows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from leasesync.domain.ids import PersonId, PmsUnitId
from leasesync.domain.occupancy import current_occupants
from leasesync.domain.settings import PropertySettings
from leasesync.domain.snapshots import PropertySnapshot


@dataclass(frozen=True, kw_only=True, slots=True)
class GuardVerdict:
    """``reasons`` is empty when the snapshot may be applied."""

    reasons: tuple[str, ...]
    removals: int
    residents: int

    @property
    def plausible(self) -> bool:
        return not self.reasons


def judge_snapshot(
    snapshot: PropertySnapshot,
    residents: Mapping[PmsUnitId, frozenset[PersonId]],
    now: datetime,
    settings: PropertySettings,
) -> GuardVerdict:
    """Judge a snapshot against the platform's current residents per unit.

    Units the snapshot does not list are left out of the removal count: they are
    flagged missing (L1), and their residents stay. So are units with a quarantined
    record, which keep their last known facts until the record is readable again.
    """
    by_unit = snapshot.memberships_by_unit()
    total = sum(len(people) for people in residents.values())
    occupants = 0
    removals = 0
    held_back = {q.unit_id for q in snapshot.quarantined if q.unit_id is not None}
    for unit in snapshot.units:
        if unit.unit_id in held_back:
            continue  # NB: a unit with a quarantined record is not planned at all
        current = current_occupants(by_unit.get(unit.unit_id, ()), now, settings)
        occupants += len(current)
        removals += len(residents.get(unit.unit_id, frozenset()) - current.keys())
    reasons = _reasons(snapshot, occupants, removals, total, settings)
    return GuardVerdict(reasons=reasons, removals=removals, residents=total)


def _reasons(
    snapshot: PropertySnapshot,
    occupants: int,
    removals: int,
    total: int,
    settings: PropertySettings,
) -> tuple[str, ...]:
    if not snapshot.units:
        return ("the PMS listed no units",)
    if occupants == 0 and total > 0:
        return (f"the PMS listed no occupants where there are {total} residents",)
    share = 100.0 * removals / total if total else 0.0
    over_share = share > settings.removal_threshold_percent
    if over_share and removals > settings.removal_threshold_people:
        return (
            f"{removals} of {total} residents would be removed "
            f"(threshold: more than {settings.removal_threshold_percent:g} % "
            f"and more than {settings.removal_threshold_people} people)",
        )
    return ()
