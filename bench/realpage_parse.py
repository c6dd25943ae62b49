"""How fast the RealPage connector turns RPX answers into a snapshot.

Builds one large site with the simulator's own XML builder — 500 units and about
1,200 resident rows (current, former and future households, renewals) — as the
four SOAP response bodies a fetch receives. Then it times, best of several runs:

- the connector: envelope parsing, the embedded ``getresidentlistinfo``
  document, rows, joins and mapping into a ``PropertySnapshot``;
- a bare baseline: ``lxml.etree.fromstring`` of the same bytes and one pass over
  every element (the embedded document stays an unparsed text node here).

and prints residents per second for each and their ratio. Run it as
``.venv/bin/python bench/realpage_parse.py``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from lxml import etree

from leasesync.connectors.realpage.connector import snapshot_from_envelopes
from leasesync.simulators.realpage_documents import OPERATIONS, build_response

UNITS = 500
RUNS = 7
SITEID = "9990101"


def site(seed: int = 7) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Units and resident rows of one plausible site with some history."""
    rng = random.Random(seed)
    units = [
        {"UnitID": f"2{n:05d}", "UnitNumber": str(100 + n), "BuildingName": f"B{n % 9}"}
        for n in range(UNITS)
    ]
    residents: list[dict[str, Any]] = []
    for number, unit in enumerate(units):
        start = date(2024, 1, 1) + timedelta(days=rng.randrange(500))
        residents += _household(rng, unit["UnitID"], f"{number}0", "Current", start)
        if rng.random() < 0.3:
            residents += _household(
                rng, unit["UnitID"], f"{number}1", "Former", start - timedelta(days=400)
            )
        if rng.random() < 0.1:
            residents += _household(
                rng,
                unit["UnitID"],
                f"{number}2",
                "Applicant - Lease Signed",
                start + timedelta(days=365),
            )
    return units, residents


def _household(
    rng: random.Random, unit_id: str, key: str, status: str, start: date
) -> list[dict[str, Any]]:
    size = rng.choice([1, 1, 2, 2, 2, 3])
    end = start + timedelta(days=364)
    rows = []
    for member in range(size):
        rows.append({
            "residentmemberid": f"5{key}{member}", "residenthouseholdid": f"3{key}",
            "leaseid": f"4{key}", "unitid": unit_id, "leasestatus": status,
            "firstname": f"First{member}", "lastname": f"Last{key}",
            "email": f"p{key}{member}@example.com" if rng.random() < 0.7 else None,
            "residenttype": "H" if member == 0 else "O", "hohbit": member == 0,
            "begindate": start, "enddate": end, "moveindate": start,
            "moveoutdate": end if status == "Former" else None,
        })  # fmt: skip
    return rows


def best_seconds(work: Callable[[], object]) -> float:
    """The fastest of :data:`RUNS` runs of ``work``."""
    timings = []
    for _ in range(RUNS):
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return min(timings)


def main() -> None:
    units, residents = site()
    bodies = {op: build_response(op, units, residents, SITEID) for op in OPERATIONS}
    size = sum(map(len, bodies.values()))

    def connector() -> object:
        return snapshot_from_envelopes(
            unitlist=bodies["unitlist"],
            residentlist=bodies["getresidentlist"],
            residentlistinfo=bodies["getresidentlistinfo"],
            leaseinfo=bodies["getleaseinfo"],
        )

    def bare() -> object:
        return [
            sum(1 for _ in etree.fromstring(body).iter()) for body in bodies.values()
        ]

    snapshot = snapshot_from_envelopes(
        unitlist=bodies["unitlist"],
        residentlist=bodies["getresidentlist"],
        residentlistinfo=bodies["getresidentlistinfo"],
        leaseinfo=bodies["getleaseinfo"],
    )
    mapped, baseline = best_seconds(connector), best_seconds(bare)
    print(
        f"site: {len(units)} units, {len(residents)} resident rows, {size / 1e6:.1f} MB of XML"
    )
    print(
        f"snapshot: {len(snapshot.memberships)} memberships, {len(snapshot.lease_terms)} terms"
    )
    print(
        f"connector parse+map: {mapped * 1000:8.1f} ms  {len(residents) / mapped:10,.0f} residents/s"
    )
    print(
        f"bare lxml + iterate: {baseline * 1000:8.1f} ms  {len(residents) / baseline:10,.0f} residents/s"
    )
    print(f"ratio (connector time / bare time): {mapped / baseline:.1f}x")


if __name__ == "__main__":
    main()
