"""The physical limit of the benchmark's work, measured on the same data (issue #7).

Two floors, each a lower bound that no sync of the same data can beat by much:

- :func:`parse_floor` — ``lxml.etree.fromstring`` of the exact response bytes a
  sync receives, and one pass over every element. The embedded
  ``getresidentlistinfo`` document (an escaped string inside the envelope) is
  parsed and walked too, since its rows are data the sync needs. This is the
  floor of an unchanged resync: it must at least read what it was sent.
- :func:`copy_floor` — PostgreSQL ``COPY`` of a given number of rows, in one
  transaction per property, into a table shaped like the engine's audit rows
  (ids, a short text, a JSON document of about the same width). Added to the
  parse floor, it is the floor of a sync that must write that many rows.

Both time only the work itself: fetching the bytes happens before, outside the
clock, as the simulator's rendering is outside the measured sync.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import psycopg
from lxml import etree

from measuring import cpu_seconds, server_url

_EMBEDDED = "<?xml"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


@dataclass(frozen=True, kw_only=True, slots=True)
class Floor:
    """How long the floor's work took; ``items`` is what it went through."""

    wall_seconds: float
    cpu_seconds: float
    items: int


def walk(body: bytes) -> int:
    """Parse ``body`` and visit every element, embedded documents included."""
    count = 0
    for element in etree.fromstring(body, _PARSER).iter():
        count += 1
        text = element.text
        if text is not None and text.startswith(_EMBEDDED):
            count += walk(text.split("?>", 1)[1].encode())
    return count


def parse_floor(bodies: Iterable[bytes], tries: int = 2) -> Floor:
    """The parse floor over ``bodies`` (consumed one at a time), best of ``tries``."""
    wall = cpu = 0.0
    items = 0
    for body in bodies:
        best = min((_timed_walk(body) for _ in range(tries)), key=lambda t: t[0])
        wall, cpu, items = wall + best[0], cpu + best[1], items + best[2]
    return Floor(wall_seconds=wall, cpu_seconds=cpu, items=items)


def _timed_walk(body: bytes) -> tuple[float, float, int]:
    started, cpu_started = time.perf_counter(), cpu_seconds()
    items = walk(body)
    return time.perf_counter() - started, cpu_seconds() - cpu_started, items


def copy_floor(url: str, rows: int, properties: int) -> Floor:
    """``COPY`` ``rows`` rows in ``properties`` transactions into a scratch table."""
    shares = _shares(rows, properties)
    with psycopg.connect(server_url(url)) as connection:
        connection.execute(_TABLE)
        connection.commit()
        started, cpu_started = time.perf_counter(), cpu_seconds()
        for number, share in enumerate(shares):
            _copy_one(connection, number, share)
        wall = time.perf_counter() - started
        cpu = cpu_seconds() - cpu_started
        connection.execute("DROP TABLE bench_floor_rows")
        connection.commit()
    return Floor(wall_seconds=wall, cpu_seconds=cpu, items=rows)


_TABLE = """
CREATE TABLE bench_floor_rows (
    id bigserial PRIMARY KEY,
    property_id integer NOT NULL,
    unit_id integer NOT NULL,
    event varchar(64) NOT NULL,
    body jsonb
)
"""


def _shares(rows: int, parts: int) -> Sequence[int]:
    parts = max(parts, 1)
    base, left = divmod(rows, parts)
    return [base + (1 if number < left else 0) for number in range(parts)]


def _copy_one(
    connection: psycopg.Connection[tuple[object, ...]], number: int, rows: int
) -> None:
    statement = "COPY bench_floor_rows (property_id, unit_id, event, body) FROM STDIN"
    with connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row in range(rows):
            body = {"status": "invite_held", "person": f"5{number:03d}{row:07d}"}
            copy.write_row((number, row // 3, "resident_added", json.dumps(body)))
    connection.commit()
