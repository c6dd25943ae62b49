"""A synthetic portfolio for the benchmarks: N properties of M units, from a seed.

Each property is one RealPage site in the row format of a scenario's ``pms`` step
(``shared/scenarios/FORMAT.md``): ``unitlist`` rows with ``UnitID``/``UnitNumber``
and one lower-case resident row per person and lease. The mix is what a
property manager would recognise (issue #7):

- about 95 % of units occupied, 30 % of them by a household of more than one
  person, 5 % of current households on notice;
- about 40 % of people without an e-mail address; a few minors (never with an
  address) and guarantors;
- renewals: a fifth of current households moved into their current lease from a
  prior term (a ``Former`` lease with ``priorleaseid`` on the current one), a few
  have a signed ``Future Lease`` beside it; some units keep a former household,
  some a signed future one.

Everything is drawn from one ``random.Random`` per property, seeded from the
portfolio's seed and the property's index, so a property can be rebuilt on its
own — in the simulator's process or the benchmark's — and is the same wherever it
is built. Dates are relative to a ``today`` the caller gives.

:func:`change_households` and :func:`turn_over` derive the later PMS states the
benchmark syncs (a 1 % change; move-outs with a new household moving in), again
deterministically.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

Row = dict[str, Any]

PMCID = "7000001"
LICENSE_KEY = "00000000-be4c-4a10-8000-0000000be4c0"
TIMEZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Phoenix")
COMMON_AREAS = ("lobby", "gym", "garage")

#: Shares of the mix (issue #7); tests check the generated portfolio against them.
OCCUPIED = 0.95
MULTI_PERSON = 0.30
NO_EMAIL = 0.40
ON_NOTICE = 0.05
GUARANTOR = 0.02
RENEWED = 0.20
RENEWAL_SIGNED = 0.03
FORMER_KEPT = 0.30
FUTURE_SIGNED = 0.05

#: Sizes of a household of more than one person, and their weights.
_LARGER_SIZES = (2, 3, 4)
_LARGER_WEIGHTS = (0.65, 0.25, 0.10)


@dataclass(frozen=True, kw_only=True)
class Site:
    """One property's PMS state as the RealPage simulator serves it."""

    index: int
    pmcid: str
    siteid: str
    name: str
    timezone: str
    units: list[Row]
    residents: list[Row] = field(default_factory=list)


def siteid_of(index: int) -> str:
    return f"{8_000_000 + index}"


def site_identity(index: int) -> Site:
    """Property ``index`` without units or residents: what linking it needs."""
    return Site(
        index=index,
        pmcid=PMCID,
        siteid=siteid_of(index),
        name=f"Bench Court {index + 1}",
        timezone=TIMEZONES[index % len(TIMEZONES)],
        units=[],
    )


def generate_site(seed: int, index: int, units: int, today: date) -> Site:
    """Property ``index`` of the portfolio drawn from ``seed``, with ``units`` units."""
    rng = random.Random(f"leasesync-bench/{seed}/{index}")
    site = replace(
        site_identity(index), units=[_unit(index, number) for number in range(units)]
    )
    people = _People(prefix=f"{index:03d}")
    for unit in site.units:
        site.residents.extend(_unit_residents(rng, people, unit["UnitID"], today))
    return site


def generate_portfolio(
    seed: int, properties: int, units: int, today: date
) -> Iterator[Site]:
    """The portfolio one property at a time, so no caller must hold all of it."""
    for index in range(properties):
        yield generate_site(seed, index, units, today)


def _unit(index: int, number: int) -> Row:
    floor, door = divmod(number, 40)
    return {
        "UnitID": f"{index:03d}{number:05d}",
        "UnitNumber": f"{floor + 1}{door + 1:02d}",
        "BuildingName": f"Building {number // 100 + 1}",
        "FloorplanName": ("1x1", "2x1", "2x2", "3x2")[number % 4],
    }


@dataclass(kw_only=True)
class _People:
    """Fresh ids for one property: people, households, leases."""

    prefix: str
    serial: int = 0

    def next(self, kind: str) -> str:
        self.serial += 1
        return f"{kind}{self.prefix}{self.serial:07d}"


def _unit_residents(
    rng: random.Random, people: _People, unit_id: str, today: date
) -> list[Row]:
    rows: list[Row] = []
    start = today - timedelta(days=rng.randrange(30, 700))
    if rng.random() < FORMER_KEPT:
        before = start - timedelta(days=rng.randrange(380, 800))
        rows += _household(rng, people, unit_id, "Former", before, today)
    if rng.random() < OCCUPIED:
        rows += _current_household(rng, people, unit_id, start, today)
    if rng.random() < FUTURE_SIGNED:
        coming = today + timedelta(days=rng.randrange(10, 90))
        rows += _household(
            rng, people, unit_id, "Applicant - Lease Signed", coming, today
        )
    return rows


def _current_household(
    rng: random.Random, people: _People, unit_id: str, start: date, today: date
) -> list[Row]:
    rows = _household(rng, people, unit_id, "Current", start, today)
    if rng.random() < ON_NOTICE:
        for row in rows:
            row["noticegivendate"] = today - timedelta(days=10)
            row["noticefordate"] = today + timedelta(days=20)
    draw = rng.random()
    if draw < RENEWED:
        rows += _prior_term(people, rows)
    elif draw < RENEWED + RENEWAL_SIGNED:
        rows += _next_term(people, rows)
    return rows


def _household(
    rng: random.Random,
    people: _People,
    unit_id: str,
    status: str,
    start: date,
    today: date,
) -> list[Row]:
    household, lease = people.next("3"), people.next("4")
    size = _size(rng)
    lastname = f"Family{household[-5:]}"
    base: Row = {
        "residenthouseholdid": household,
        "leaseid": lease,
        "unitid": unit_id,
        "leasestatus": status,
        "lastname": lastname,
        "begindate": start,
        "enddate": start + timedelta(days=364),
        "moveindate": start,
    }
    if status == "Former":
        base["moveoutdate"] = min(
            start + timedelta(days=364), today - timedelta(days=1)
        )
    rows = [_member(rng, people, base, position) for position in range(size)]
    if rng.random() < GUARANTOR:
        rows.append(_guarantor(people, base))
    return rows


def _size(rng: random.Random) -> int:
    if rng.random() >= MULTI_PERSON:
        return 1
    return rng.choices(_LARGER_SIZES, _LARGER_WEIGHTS)[0]


def _member(rng: random.Random, people: _People, base: Row, position: int) -> Row:
    person = people.next("5")
    minor = position >= 2 and rng.random() < 0.5
    row: Row = {
        **base,
        "residentmemberid": person,
        "firstname": f"Person{person[-4:]}",
        "residenttype": "H" if position == 0 else "O",
        "hohbit": position == 0,
        "email": None if minor or rng.random() < NO_EMAIL else _email(person),
    }
    if minor:
        row["residentrelationship"] = "Minor Child"
    elif position:
        row["residentrelationship"] = "Roommate"
    return row


def _guarantor(people: _People, base: Row) -> Row:
    person = people.next("5")
    return {
        **base,
        "residentmemberid": person,
        "firstname": f"Guarantor{person[-4:]}",
        "residenttype": "G",
        "hohbit": False,
        "guarantorbit": True,
        "residentrelationship": "Guarantor",
        "email": _email(person),
    }


def _email(person: str) -> str:
    return f"{person}@residents.bench.example"


def _prior_term(people: _People, current: list[Row]) -> list[Row]:
    """The household's previous lease: same people, ``Former``, renewed into today's."""
    lease = people.next("4")
    start = current[0]["begindate"] - timedelta(days=365)
    for row in current:
        row["priorleaseid"] = lease
    return [
        {
            **{k: v for k, v in row.items() if not k.startswith("notice")},
            "leaseid": lease,
            "leasestatus": "Former",
            "begindate": start,
            "enddate": row["begindate"] - timedelta(days=1),
            "moveindate": start,
            "priorleaseid": None,
        }
        for row in current
    ]


def _next_term(people: _People, current: list[Row]) -> list[Row]:
    """A signed renewal beside the current lease (``Future Lease``)."""
    lease = people.next("4")
    start = current[0]["enddate"] + timedelta(days=1)
    return [
        {
            **{k: v for k, v in row.items() if not k.startswith("notice")},
            "leaseid": lease,
            "leasestatus": "Future Lease",
            "begindate": start,
            "enddate": start + timedelta(days=364),
            "priorleaseid": row["leaseid"],
        }
        for row in current
    ]


# -- later states -----------------------------------------------------------------


def current_households(site: Site) -> dict[str, list[Row]]:
    """The rows of each household's current lease, by household id, in row order."""
    households: dict[str, list[Row]] = {}
    for row in site.residents:
        if row["leasestatus"] == "Current":
            households.setdefault(row["residenthouseholdid"], []).append(row)
    return households


def change_households(site: Site, fraction: float, seed: int, today: date) -> Site:
    """``site`` with ``fraction`` of its current households changed, at least one.

    Each chosen household gets one of: a move-out two days ago, a new
    roommate, or an e-mail address corrected (added, changed or removed).
    """
    rng = random.Random(f"leasesync-bench/change/{seed}/{site.index}")
    renewing = {
        r["residenthouseholdid"]
        for r in site.residents
        if r["leasestatus"] == "Future Lease"
    }
    households = {
        key: rows
        for key, rows in current_households(site).items()
        if key not in renewing
    }
    count = max(1, round(len(households) * fraction))
    chosen = set(rng.sample(sorted(households), count))
    people = _People(prefix=f"{site.index:03d}", serial=9_000_000)
    residents: list[Row] = []
    for row in site.residents:
        household = row["residenthouseholdid"]
        residents.append(dict(row))
        if household in chosen and row["leasestatus"] == "Current":
            kind = ("move_out", "roommate", "email")[_stable_pick(household)]
            _change(kind, residents, row, people, today)
    return replace(site, residents=residents)


def _stable_pick(household: str) -> int:
    return int(household[-3:]) % 3


def _change(
    kind: str, residents: list[Row], original: Row, people: _People, today: date
) -> None:
    changed = residents[-1]
    if kind == "move_out":
        changed["leasestatus"] = "Former"
        changed["moveoutdate"] = today - timedelta(days=2)
    elif kind == "email":
        changed["email"] = (
            None
            if original.get("email")
            else _email(changed["residentmemberid"].replace("5", "6", 1))
        )
    elif original.get("hohbit"):
        newcomer = people.next("5")
        residents.append(
            {
                **{k: v for k, v in original.items() if not k.startswith("notice")},
                "residentmemberid": newcomer,
                "firstname": f"Newcomer{newcomer[-4:]}",
                "residenttype": "O",
                "hohbit": False,
                "residentrelationship": "Roommate",
                "email": _email(newcomer),
                "moveindate": today - timedelta(days=1),
            }
        )


def turnover_units(site: Site, count: int) -> list[str]:
    """Up to ``count`` units whose single current household can be invited.

    These are the units the lifecycle benchmark turns over: someone in the
    household has an e-mail address (so the unit can reach the resident
    configuration), nobody is on notice, and no other household is signed.
    """
    by_unit: dict[str, list[Row]] = {}
    for row in site.residents:
        by_unit.setdefault(row["unitid"], []).append(row)
    chosen = []
    for unit in site.units:
        rows = by_unit.get(unit["UnitID"], [])
        statuses = {r["leasestatus"] for r in rows}
        current = [r for r in rows if r["leasestatus"] == "Current"]
        if (
            current
            and statuses <= {"Current", "Former"}
            and len({r["residenthouseholdid"] for r in current}) == 1
            and any(r.get("email") and not r.get("guarantorbit") for r in current)
            and not any(r.get("noticefordate") for r in current)
        ):
            chosen.append(unit["UnitID"])
        if len(chosen) == count:
            break
    return chosen


def turn_over(site: Site, units: list[str], today: date) -> tuple[Site, list[str]]:
    """``site`` after each of ``units`` moved out and a new household moved in.

    Returns the new state and the e-mail address of each new household's head,
    the address whose invite ends a turnover.
    """
    wanted = set(units)
    people = _People(prefix=f"{site.index:03d}", serial=8_000_000)
    residents: list[Row] = []
    for row in site.residents:
        copy = dict(row)
        if copy["unitid"] in wanted and copy["leasestatus"] == "Current":
            copy["leasestatus"] = "Former"
            copy["moveoutdate"] = today - timedelta(days=2)
        residents.append(copy)
    addresses = []
    for unit_id in units:
        household, lease, person = people.next("3"), people.next("4"), people.next("5")
        start = today - timedelta(days=1)
        addresses.append(_email(person))
        residents.append(
            {
                "residentmemberid": person,
                "residenthouseholdid": household,
                "leaseid": lease,
                "unitid": unit_id,
                "leasestatus": "Current",
                "firstname": f"Mover{person[-4:]}",
                "lastname": f"Family{household[-5:]}",
                "residenttype": "H",
                "hohbit": True,
                "email": _email(person),
                "begindate": start,
                "enddate": start + timedelta(days=364),
                "moveindate": start,
            }
        )
    return replace(site, residents=residents), addresses


def later_site(
    site: Site, *, fraction: float, turnovers: list[str], seed: int, today: date
) -> Site:
    """``site`` with ``fraction`` of households changed, then ``turnovers`` turned over.

    The benchmark's phases build on each other: the lifecycle phase turns units
    over in the portfolio as the 1 % change left it.
    """
    if fraction:
        site = change_households(site, fraction, seed, today)
    if turnovers:
        site = turn_over(site, turnovers, today)[0]
    return site
