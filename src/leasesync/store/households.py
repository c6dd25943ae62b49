"""The household repository: the PMS's households and lease terms, as last synced.

The planner works from a unit's facts document; these rows keep the same facts in a
shape staff and reports can query — who lives where under which lease chain (a renewal
is one more term of the same household, SPEC L9). They are written only when a unit's
facts change, so an unchanged sync writes nothing here either.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from leasesync.domain.planning import UnitFacts
from leasesync.domain.snapshots import LeaseTerm, Membership, OccupancyStatus
from leasesync.store import models as m

# NB: when a household's members disagree, the most "alive" status describes it.
_PRECEDENCE = (
    OccupancyStatus.CURRENT,
    OccupancyStatus.FUTURE,
    OccupancyStatus.APPLICANT,
    OccupancyStatus.PAST,
    OccupancyStatus.CANCELLED,
)


def record_households(session: Session, unit: m.Unit, facts: UnitFacts) -> None:
    """Upsert the unit's households and their lease terms from ``facts``."""
    rows = {
        h.pms_household_id: h
        for h in session.scalars(
            select(m.Household).where(m.Household.unit_id == unit.id)
        )
    }
    grouped: dict[str, list[Membership]] = {}
    for membership in facts.memberships:
        grouped.setdefault(membership.household_id, []).append(membership)
    for household_id, members in grouped.items():
        row = rows.get(household_id) or _new_household(session, unit, household_id)
        _describe(row, members)
        rows[household_id] = row
    session.flush()
    for term in facts.terms:
        household = rows.get(term.household_id)
        if household is not None:
            _record_term(session, household, term)


def _new_household(session: Session, unit: m.Unit, household_id: str) -> m.Household:
    row = m.Household(unit_id=unit.id, pms_household_id=household_id, status="")
    session.add(row)
    return row


def _describe(row: m.Household, members: list[Membership]) -> None:
    lead = min(members, key=lambda member: _PRECEDENCE.index(member.status))
    row.status = lead.status.value
    row.move_in, row.move_out, row.notice_for = (
        lead.move_in,
        lead.move_out,
        lead.notice_for,
    )


def _record_term(session: Session, household: m.Household, term: LeaseTerm) -> None:
    row = session.scalars(
        select(m.LeaseTerm).where(
            m.LeaseTerm.household_id == household.id,
            m.LeaseTerm.pms_lease_id == term.lease_id,
        )
    ).first()
    if row is None:
        row = m.LeaseTerm(household_id=household.id, pms_lease_id=term.lease_id)
        session.add(row)
    row.status = term.status.value
    row.start, row.end = term.start, term.end
    row.prior_lease_id, row.next_lease_id = term.prior_lease_id, term.next_lease_id
