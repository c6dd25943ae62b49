"""Two worker processes share one property's forty concurrent turnovers.

Issue #6's acceptance: with two ``leasesync worker`` processes on one PostgreSQL, a
property whose forty units all turn over at once completes every turnover with
exactly one invite per person and one device command per transition — not one
duplicate on the wire, though both workers take jobs from the same queue and the
devices' reports reach whichever worker the broker picks.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from deployments import Deployment, deployment
from jobs_doubles import (
    invite_token,
    local_today,
    resident_row,
    unit_row,
    wait_until,
    workers,
)

from leasesync.engine.completions import accept_invite, mark_installed

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

UNITS = [f"2{n:04d}" for n in range(1, 41)]


def _old(index: int, unit: str, **changes: object) -> dict[str, object]:
    row = resident_row(
        person=f"5{index:04d}",
        household=f"3{index:04d}",
        unit=unit,
        email_address=f"old{index}@example.com",
        move_in=local_today() - timedelta(days=300),
    )
    return {**row, **changes}


def _new(index: int, unit: str) -> dict[str, object]:
    return resident_row(
        person=f"6{index:04d}",
        household=f"4{index:04d}",
        unit=unit,
        email_address=f"new{index}@example.com",
        move_in=local_today(),
    )


def _accept_all(site: Deployment, addresses: list[str]) -> None:
    def arrived() -> bool:
        return all(site.sink.to(a) for a in addresses)

    wait_until(arrived, 40, f"{len(addresses)} invites")
    for address in addresses:
        accept_invite(site.stack.engine, invite_token(site.sink.to(address)[0]))


def _all_resident(site: Deployment) -> bool:
    units = site.units()
    return all(units[u]["devices"] == "resident" for u in UNITS)


def test_two_workers_turn_forty_units_over_with_no_repeat(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = [_old(i, u) for i, u in enumerate(UNITS)]
    with (
        deployment(
            postgres_url,
            tmp_path,
            monkeypatch,
            units=[unit_row(u) for u in UNITS],
            residents=old,
        ) as site,
        workers(site.environment, tmp_path, count=2),
    ):
        # NB: every household leaving at once is what the sync guard holds (L12);
        # this property expects it.
        site.link(removal_threshold_people=len(UNITS))
        for unit in UNITS:
            mark_installed(site.stack.engine, site.property_id, unit, "installer")
        _accept_all(site, [f"old{i}@example.com" for i in range(len(UNITS))])
        wait_until(lambda: _all_resident(site), 40, "the first households' devices")

        yesterday = local_today() - timedelta(days=1)
        gone = [
            _old(i, u, leasestatus="Former", moveoutdate=yesterday)
            for i, u in enumerate(UNITS)
        ]
        site.simulator.set_state(
            residents=gone + [_new(i, u) for i, u in enumerate(UNITS)]
        )
        assert site.stack.queue is not None
        site.stack.queue.sync_property(site.property_id, "manual")
        _accept_all(site, [f"new{i}@example.com" for i in range(len(UNITS))])
        wait_until(lambda: _all_resident(site), 40, "the new households' devices")

    units = site.units()
    assert {u["state"] for u in units.values()} == {"occupied"}
    assert all(
        [p["status"] for p in units[u]["residents"].values()] == ["active"]
        and set(units[u]["residents"]) == {f"6{i:04d}"}
        for i, u in enumerate(UNITS)
    )

    # One invite per person, and not a single repeat on the wire.
    arrivals = Counter(a.to for a in site.sink.arrivals)
    assert len(arrivals) == 2 * len(UNITS)
    assert set(arrivals.values()) == {1}

    # Per unit: resident (first household), vacant (move-out), resident (new one);
    # each command published once and answered once.
    published = Counter(json.loads(seen)["key"] for seen in site.commands_seen)
    commands = site.device_commands()
    assert len(commands) == 3 * len(UNITS)
    assert set(published) == {c.idempotency_key for c in commands}
    assert set(published.values()) == {1}
    assert all(c.status == "completed" for c in commands)
    by_unit = Counter(c.unit_id for c in commands)
    assert set(by_unit.values()) == {3}
