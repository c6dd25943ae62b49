"""Alembic's migration environment for leasesync: one set of revisions, two databases.

Alembic runs this file for every command; :mod:`leasesync.store.db` builds the
configuration and passes the database URL in ``config.attributes["url"]`` (or an open
connection in ``config.attributes["connection"]``, which stays the caller's to
commit). The whole upgrade or downgrade runs in one transaction on both databases.

SQLite cannot alter most of a table in place, so its migrations run in batch mode
(copy, move, rename), with foreign keys off while they run and a check at the end
that every reference still holds. PostgreSQL gets a lock timeout, so that a
migration waiting behind a long transaction fails instead of blocking every query
queued behind it.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from leasesync.store.db import create_engine_for
from leasesync.store.models import Base

POSTGRES_LOCK_TIMEOUT = "10s"

config = context.config


def render_item(kind: str, item: Any, _autogen: AutogenContext) -> str | Literal[False]:
    """Write our column types as the plain SQLAlchemy type they store.

    NB: a revision must not import the models, which change after it is written;
    ``UtcDateTime`` is stored as ``DateTime(timezone=True)``, so that is what the
    revision says.
    """
    if kind == "type" and isinstance(item, TypeDecorator):
        return f"sa.{item.impl_instance!r}"
    return False


def skip_empty_revision(_context: Any, _revision: Any, directives: list[Any]) -> None:
    """Write no revision when autogenerate found nothing (``scripts/make-migration``)."""
    if (
        config.attributes.get("skip_empty_revision")
        and directives[0].upgrade_ops.is_empty()
    ):
        directives[:] = []


def ours_only(
    _item: Any, name: str | None, kind: str, reflected: bool, _compare: Any
) -> bool:
    """Leave procrastinate's queue tables alone: they live beside ours, not in them."""
    return not (
        kind == "table" and reflected and (name or "").startswith("procrastinate_")
    )


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        include_object=ours_only,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        transactional_ddl=True,
        render_item=render_item,
        process_revision_directives=skip_empty_revision,
    )


def _check_sqlite_references(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        tables = sorted({str(row[0]) for row in broken})
        raise RuntimeError(f"migration left broken references in {', '.join(tables)}")


def _migrate(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            context.execute(f"SET LOCAL lock_timeout = '{POSTGRES_LOCK_TIMEOUT}'")
        context.run_migrations()
        if connection.dialect.name == "sqlite":
            _check_sqlite_references(connection)


def run_online() -> None:
    given = config.attributes.get("connection")
    if given is not None:
        _migrate(given)
        return

    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: pass one to leasesync.store.db.upgrade")
    engine = create_engine_for(url, foreign_keys=False, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            _migrate(connection)
    finally:
        engine.dispose()


def run_offline() -> None:
    """Print the SQL instead of running it (``alembic upgrade --sql``)."""
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url,
        target_metadata=Base.metadata,
        literal_binds=True,
        render_as_batch=str(url).startswith("sqlite"),
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
