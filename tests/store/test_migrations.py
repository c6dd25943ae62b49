"""The migrations build exactly the models' schema, on SQLite and PostgreSQL alike.

STYLE.md habit 18: migrations are run, not trusted. Each test starts from an empty
database of its own, migrates it with the same functions ``leasesync db upgrade``
uses, and asks Alembic's autogenerate comparison what differs from the models.
"""

from __future__ import annotations

import ast
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.pool import NullPool

from leasesync.store.db import (
    MIGRATIONS_DIR,
    alembic_config,
    create_engine_for,
    current_revisions,
    downgrade,
    head_revisions,
    upgrade,
)
from leasesync.store.models import Base


def schema_differences(url: str) -> list[Any]:
    """What autogenerate would write to make the database match the models."""
    engine = create_engine_for(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True}
            )
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def table_names(url: str) -> set[str]:
    engine = create_engine_for(url, poolclass=NullPool)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def revisions_oldest_first() -> list[str]:
    script = ScriptDirectory.from_config(alembic_config())
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


def test_upgrading_an_empty_database_yields_exactly_the_models(db_url: str) -> None:
    upgrade(db_url)

    assert schema_differences(db_url) == []
    assert table_names(db_url) == set(Base.metadata.tables) | {"alembic_version"}
    assert current_revisions(db_url) == head_revisions()


def test_downgrade_to_base_empties_the_database_and_upgrade_rebuilds_it(
    db_url: str,
) -> None:
    upgrade(db_url)

    downgrade(db_url, "base")
    assert table_names(db_url) == {"alembic_version"}
    assert current_revisions(db_url) == ()

    upgrade(db_url)
    assert schema_differences(db_url) == []


def test_every_revision_upgrades_and_downgrades_one_step_at_a_time(
    db_url: str,
) -> None:
    revisions = revisions_oldest_first()

    for revision in revisions:
        upgrade(db_url, revision)
        assert current_revisions(db_url) == (revision,)
    for previous in [*reversed(revisions[:-1]), None]:
        downgrade(db_url, "-1")
        assert current_revisions(db_url) == ((previous,) if previous else ())


def test_there_is_one_head_and_revisions_never_import_leasesync() -> None:
    # NB: a revision that imports the models changes meaning when they change.
    assert len(head_revisions()) == 1
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        } | {
            node.module or ""
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
        }
        assert not {name for name in imported if name.startswith("leasesync")}, path
