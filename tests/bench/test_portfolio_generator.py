"""The benchmark's portfolio generator: deterministic, and the mix issue #7 asks for.

Issue #7 wants about 40 % of people without e-mail, 30 % of households with more
than one person, 5 % on notice, a few guarantors and minors, and renewals; the
benchmark's figures mean little if the portfolio drifts from that, or differs
between two runs of the same seed.
"""

from __future__ import annotations

import sys
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

# NB: bench/ is a folder of scripts run as `python bench/run.py`, not a package;
# its modules import each other by plain name, and so does this test.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from leasesync.connectors.realpage.connector import snapshot_from_envelopes
from leasesync.simulators.realpage_documents import build_response, normalized_rows
from portfolio import (
    Row,
    Site,
    change_households,
    current_households,
    generate_portfolio,
    generate_site,
    turn_over,
    turnover_units,
)

TODAY = date(2027, 3, 15)
SEED = 11


@pytest.fixture(scope="module")
def portfolio() -> list[Site]:
    return list(generate_portfolio(SEED, 8, 150, TODAY))


def _occupants(sites: list[Site]) -> list[Row]:
    """Everyone on a current lease who lives in the unit (guarantors do not)."""
    return [
        row
        for site in sites
        for row in site.residents
        if row["leasestatus"] == "Current" and not row.get("guarantorbit")
    ]


def _households(sites: list[Site]) -> list[list[Row]]:
    return [rows for site in sites for rows in current_households(site).values()]


def test_the_same_seed_gives_the_same_portfolio() -> None:
    first = list(generate_portfolio(SEED, 3, 40, TODAY))
    again = list(generate_portfolio(SEED, 3, 40, TODAY))
    assert first == again


def test_another_seed_gives_other_people() -> None:
    ours = generate_site(SEED, 0, 40, TODAY)
    theirs = generate_site(SEED + 1, 0, 40, TODAY)
    assert ours.units == theirs.units
    assert ours.residents != theirs.residents


def test_a_property_built_alone_is_the_one_in_the_portfolio(
    portfolio: list[Site],
) -> None:
    assert generate_site(SEED, 5, 150, TODAY) == portfolio[5]


def test_about_forty_percent_of_people_have_no_email(portfolio: list[Site]) -> None:
    people = _occupants(portfolio)
    without = sum(1 for row in people if not row.get("email"))
    assert without / len(people) == pytest.approx(0.40, abs=0.04)


def test_about_thirty_percent_of_households_have_several_people(
    portfolio: list[Site],
) -> None:
    households = _households(portfolio)
    larger = [
        rows
        for rows in households
        if sum(1 for row in rows if not row.get("guarantorbit")) > 1
    ]
    assert len(larger) / len(households) == pytest.approx(0.30, abs=0.04)


def test_about_five_percent_of_households_are_on_notice(
    portfolio: list[Site],
) -> None:
    households = _households(portfolio)
    on_notice = [rows for rows in households if rows[0].get("noticefordate")]
    assert len(on_notice) / len(households) == pytest.approx(0.05, abs=0.02)
    assert all(rows[0]["noticefordate"] > TODAY for rows in on_notice)


def test_a_few_guarantors_and_minors_and_minors_have_no_email(
    portfolio: list[Site],
) -> None:
    people = [row for site in portfolio for row in site.residents]
    guarantors = [row for row in people if row.get("guarantorbit")]
    minors = [
        row for row in people if "minor" in str(row.get("residentrelationship")).lower()
    ]
    assert 0 < len(guarantors) < 0.05 * len(people)
    assert 0 < len(minors) < 0.10 * len(people)
    assert not any(row.get("email") for row in minors)


def test_renewals_chain_to_a_former_lease_of_the_same_household(
    portfolio: list[Site],
) -> None:
    rows = [row for site in portfolio for row in site.residents]
    leases = {(row["leaseid"], row["residenthouseholdid"]): row for row in rows}
    renewed = [
        row
        for row in rows
        if row["leasestatus"] == "Current" and row.get("priorleaseid")
    ]
    assert renewed
    for row in renewed:
        prior = leases[(row["priorleaseid"], row["residenthouseholdid"])]
        assert prior["leasestatus"] == "Former"
        assert prior["enddate"] < row["begindate"]


def test_ids_are_unique_where_realpage_keys_them(portfolio: list[Site]) -> None:
    for site in portfolio:
        units = [unit["UnitID"] for unit in site.units]
        assert len(set(units)) == len(units)
        keys = Counter((r["residentmemberid"], r["leaseid"]) for r in site.residents)
        assert max(keys.values()) == 1


def test_the_connector_reads_every_row_without_quarantine(
    portfolio: list[Site],
) -> None:
    site = portfolio[0]
    units = normalized_rows(site.units, lower=False)
    residents = normalized_rows(site.residents, lower=True)

    def body(operation: str) -> bytes:
        return build_response(operation, units, residents, site.siteid)

    snapshot = snapshot_from_envelopes(
        unitlist=body("unitlist"),
        residentlist=body("getresidentlist"),
        residentlistinfo=body("getresidentlistinfo"),
        leaseinfo=body("getleaseinfo"),
    )
    people = {(r["residentmemberid"], r["residenthouseholdid"]) for r in site.residents}
    assert snapshot.quarantined == ()
    assert len(snapshot.units) == 150
    assert len(snapshot.memberships) == len(people)


def test_one_percent_change_touches_one_household_in_a_hundred(
    portfolio: list[Site],
) -> None:
    site = portfolio[1]
    changed = change_households(site, 0.01, SEED, TODAY)
    before, after = current_households(site), current_households(changed)
    different = {
        key for key in before.keys() | after.keys() if before.get(key) != after.get(key)
    }
    assert len(different) == max(1, round(len(before) * 0.01))
    assert changed == change_households(site, 0.01, SEED, TODAY)


def test_a_turnover_moves_the_household_out_and_a_new_one_in(
    portfolio: list[Site],
) -> None:
    site = portfolio[2]
    [unit] = turnover_units(site, 1)
    later, [address] = turn_over(site, [unit], TODAY)
    rows = [row for row in later.residents if row["unitid"] == unit]
    current = [row for row in rows if row["leasestatus"] == "Current"]
    assert [row["email"] for row in current] == [address]
    assert current[0]["moveindate"] < TODAY
    leavers = [
        row
        for row in rows
        if row["leasestatus"] == "Former" and row["moveoutdate"] == date(2027, 3, 13)
    ]
    assert leavers
