"""Engines and the unit of work behave the same on SQLite and PostgreSQL.

These run against empty databases of their own with a scratch table, so they do
not depend on the models.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import (
    Column,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from leasesync.store.db import create_engine_for, session_factory, unit_of_work

scratch = MetaData()
parents = Table("parents", scratch, Column("id", Integer, primary_key=True))
children = Table(
    "children",
    scratch,
    Column("id", Integer, primary_key=True),
    Column("parent_id", ForeignKey("parents.id"), nullable=False),
    Column("name", String(20), nullable=False),
)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = create_engine_for(db_url)
    scratch.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


def count(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(
            select(func.count()).select_from(parents)
        ).scalar_one()


def test_a_unit_of_work_commits_once_when_the_block_ends(
    engine: Engine, factory: sessionmaker[Session]
) -> None:
    with unit_of_work(factory) as session:
        session.execute(parents.insert().values(id=1))
        assert session.in_transaction()

    assert not session.in_transaction()
    assert count(engine) == 1


def test_a_unit_of_work_rolls_everything_back_when_the_block_raises(
    engine: Engine, factory: sessionmaker[Session]
) -> None:
    with pytest.raises(RuntimeError), unit_of_work(factory) as session:
        session.execute(parents.insert().values(id=1))
        session.flush()
        raise RuntimeError("the edge failed")

    assert count(engine) == 0


def test_foreign_keys_are_enforced(factory: sessionmaker[Session]) -> None:
    with pytest.raises(IntegrityError), unit_of_work(factory) as session:
        session.execute(children.insert().values(id=1, parent_id=99, name="orphan"))


def test_a_savepoint_rolls_back_inside_the_outer_transaction(
    engine: Engine, factory: sessionmaker[Session]
) -> None:
    with unit_of_work(factory) as session:
        session.execute(parents.insert().values(id=1))
        with pytest.raises(IntegrityError), session.begin_nested():
            session.execute(parents.insert().values(id=1))
        session.execute(parents.insert().values(id=2))

    assert count(engine) == 2


def test_sqlite_files_use_write_ahead_logging_and_wait_when_busy(
    sqlite_url: str,
) -> None:
    engine = create_engine_for(sqlite_url)
    with engine.connect() as connection:
        journal = connection.execute(text("PRAGMA journal_mode")).scalar_one()
        busy = connection.execute(text("PRAGMA busy_timeout")).scalar_one()
        keys = connection.execute(text("PRAGMA foreign_keys")).scalar_one()
    engine.dispose()

    assert (journal, keys) == ("wal", 1)
    assert busy >= 5000


def test_the_sqlite_file_folder_is_created(tmp_path: Path) -> None:
    target = tmp_path / "nested" / "deeper" / "db.sqlite3"

    engine = create_engine_for(f"sqlite:///{target}")
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    engine.dispose()

    assert target.exists()


def test_schema_changes_roll_back_with_their_transaction(
    engine: Engine, factory: sessionmaker[Session]
) -> None:
    # NB: SQLite's Python driver commits DDL on its own unless we issue BEGIN; the
    # migrations rely on a failed revision leaving no half-built schema behind.
    with pytest.raises(RuntimeError), unit_of_work(factory) as session:
        session.execute(text("CREATE TABLE half_built (id INTEGER)"))
        raise RuntimeError("the revision failed")

    assert "half_built" not in inspect(engine).get_table_names()
