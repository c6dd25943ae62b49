"""Every table stores and returns every one of its column types unchanged, on both
databases.

One row goes into each table of the models (parents before children, each foreign
key pointing at the parent's row), then comes back and must equal what went in.
That catches what differs between SQLite and PostgreSQL below the ORM: an aware
timestamp coming back naive or shifted, JSON that loses a nested null, a string
column too short for its sample, a NOT NULL column nobody can fill. The per-model
ORM round trips live beside this test; this one sees every column the day it is
added, because it reads the tables from the models.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Float,
    Integer,
    String,
    Table,
    Text,
    select,
)
from sqlalchemy.types import TypeDecorator, TypeEngine

from leasesync.store.models import Base

# NB: not UTC, so that a database or type that drops the offset shows up as a change.
AWARE_INSTANT = datetime(2025, 3, 9, 1, 30, 15, tzinfo=timezone(timedelta(hours=-5)))
SAMPLE_JSON = {"list": [1, "two", None], "nested": {"flag": True, "none": None}}


SAMPLES: tuple[tuple[type[TypeEngine[Any]], Any], ...] = (
    (Boolean, True),
    (Integer, 41),
    (Float, 12.5),
    (DateTime, AWARE_INSTANT),
    (Date, date(2025, 2, 28)),
    (JSON, SAMPLE_JSON),
)


def sample(column: Column[Any]) -> Any:
    """A value of the column's type that is not its default and fits its length."""
    kind: TypeEngine[Any] = column.type
    if isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    for type_, value in SAMPLES:
        if isinstance(kind, type_):
            return value
    if isinstance(kind, String | Text):
        length = getattr(kind, "length", None) or 40
        return f"{column.name}-ü"[:length]
    pytest.fail(f"no sample for {column.table.name}.{column.name} ({kind!r}): add one")


def row_for(table: Table, written: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Sample values, with each foreign key taking the value its parent row has."""
    row = {column.name: sample(column) for column in table.columns}
    for constraint in table.foreign_key_constraints:
        for element in constraint.elements:
            parent = written[element.column.table.name]
            row[element.parent.name] = parent[element.column.name]
    return row


def test_every_table_round_trips_a_row(db_connection: Connection) -> None:
    tables = Base.metadata.sorted_tables
    assert tables, "the models define no tables"
    written: dict[str, dict[str, Any]] = {}

    for table in tables:
        written[table.name] = row_for(table, written)
        db_connection.execute(table.insert().values(**written[table.name]))

    for table in tables:
        stored = db_connection.execute(select(table)).mappings().one()
        assert dict(stored) == written[table.name], table.name
        for name, value in stored.items():
            if isinstance(value, datetime):
                assert value.utcoffset() is not None, (
                    f"{table.name}.{name} came back naive"
                )
