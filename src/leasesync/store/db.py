"""Database plumbing: engines, sessions, the unit of work, and running migrations.

Every edge of leasesync (an HTTP request, a job, a CLI command) opens exactly one
:func:`unit_of_work`: it commits once when the block ends and rolls back when it
raises (STYLE.md habit 13). Code below the edge never commits; when it needs an id
early it flushes.

:func:`create_engine_for` gives SQLite the behaviour the rest of the code assumes of
PostgreSQL: enforced foreign keys, a real ``BEGIN`` for every transaction (so
savepoints and DDL are transactional), write-ahead logging so readers do not block
the writer, and a busy timeout instead of an immediate "database is locked".

The Alembic migrations ship inside the package (``store/migrations``), and
:func:`upgrade` / :func:`downgrade` build Alembic's configuration in code, so an
installed leasesync migrates its database from any working directory without an
``alembic.ini``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000


def create_engine_for(url: str, *, foreign_keys: bool = True, **options: Any) -> Engine:
    """An engine for ``url`` (SQLite or PostgreSQL) set up as leasesync expects.

    ``foreign_keys=False`` is for migrations only: SQLite's batch mode copies and
    drops tables, which enforced foreign keys would turn into cascading deletes.
    ``options`` go to :func:`sqlalchemy.create_engine` (``poolclass``, ``echo``).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, foreign_keys=foreign_keys, **options)
    options.setdefault("pool_pre_ping", True)
    return create_engine(parsed, **options)


def _sqlite_engine(url: URL, *, foreign_keys: bool, **options: Any) -> Engine:
    on_disk = url.database not in (None, "", ":memory:")
    if on_disk and url.database is not None:
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **options)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # NB: isolation_level=None stops the sqlite3 module from issuing its own
        # BEGIN (it skips it before SELECT and DDL); the "begin" hook below issues
        # one for every transaction instead. The pragmas must run outside any
        # transaction, which is why they come first.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        if on_disk:
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        # NB: IMMEDIATE takes the write lock up front. A deferred transaction that
        # reads and then writes fails at once with "database is locked" when another
        # writer committed in between; waiting here for the lock never does.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine``; objects stay readable after the commit."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction for one edge: commit once on success, roll back on error.

    The session is closed when the block ends either way. Callers below the edge
    receive the session and must not commit it themselves.
    """
    with factory() as session:
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        session.commit()


def alembic_config(url: str | None = None) -> Config:
    """Alembic's configuration for the migrations packaged with leasesync.

    ``url`` reaches the migration environment through ``Config.attributes`` rather
    than the ini options, whose ``%`` interpolation would mangle encoded passwords.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` forward to ``revision`` in one transaction."""
    logger.info(
        "Upgrading the database to %s",
        revision,
        extra={"event": "db_upgrade", "revision": revision},
    )
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    """Migrate the database at ``url`` back to ``revision`` (``base`` empties it)."""
    logger.info(
        "Downgrading the database to %s",
        revision,
        extra={"event": "db_downgrade", "revision": revision},
    )
    command.downgrade(alembic_config(url), revision)


def current_revisions(url: str) -> tuple[str, ...]:
    """The revisions the database at ``url`` is at; empty when never migrated."""
    engine = create_engine_for(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection)
            return tuple(context.get_current_heads())
    finally:
        engine.dispose()


def head_revisions() -> tuple[str, ...]:
    """The newest revisions the packaged migrations know."""
    return tuple(ScriptDirectory.from_config(alembic_config()).get_heads())
