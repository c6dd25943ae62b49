"""Fixtures every test area shares: a clean environment and real databases.

Every test runs with no ``LEASESYNC_…`` variables from the developer's shell (except
the three that steer the test run itself) and with ``LEASESYNC_DATA_DIR`` pointing at a
fresh temporary folder, so nothing reads or writes ``./data``; the root logger's
handlers and level are put back after each test.

Databases are real: ``sqlite_url`` is a file in the test's temporary folder;
``postgres_url`` is a database created for the test on the server named by
``LEASESYNC_TEST_DATABASE_URL`` and dropped after it. When that server cannot be
reached, PostgreSQL tests are skipped with the reason in pytest's summary, unless
``LEASESYNC_REQUIRE_POSTGRES=1`` (CI sets it), which makes them fail instead.
``db_url`` runs a test once on each.

``db_factory`` / ``db_session`` follow STYLE.md habit 21: one database migrated to
head per run and backend, and in each test an outer transaction that is rolled back
at the end. Code under test may commit (through ``unit_of_work``): the session joins
the outer transaction with savepoints, so its commits are undone too. Use only these
sessions in such tests; a second connection to the same SQLite file would wait for
the outer transaction's write lock.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from uuid import uuid4

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from leasesync.store.db import create_engine_for, upgrade

TEST_DATABASE_VARIABLE = "LEASESYNC_TEST_DATABASE_URL"
REQUIRE_POSTGRES_VARIABLE = "LEASESYNC_REQUIRE_POSTGRES"
DEFAULT_TEST_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
REQUIRE_MQTT_VARIABLE = "LEASESYNC_REQUIRE_MQTT"
_KEPT_VARIABLES = {
    TEST_DATABASE_VARIABLE,
    REQUIRE_POSTGRES_VARIABLE,
    REQUIRE_MQTT_VARIABLE,
}

BACKENDS = ("sqlite", pytest.param("postgres", marks=pytest.mark.postgres))


def pytest_report_header() -> str:
    """Say up front whether the PostgreSQL tests will run."""
    problem = _postgres_problem(postgres_server_url())
    shown = make_url(postgres_server_url()).render_as_string(hide_password=True)
    if problem is None:
        return f"PostgreSQL tests: on {shown}"
    required = os.environ.get(REQUIRE_POSTGRES_VARIABLE) == "1"
    return f"PostgreSQL tests: {'FAIL' if required else 'skipped'}: {problem}"


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if (
            name.upper().startswith("LEASESYNC_")
            and name.upper() not in _KEPT_VARIABLES
        ):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LEASESYNC_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture(autouse=True)
def _restored_logging() -> Iterator[None]:
    """Undo what a test's ``configure_logging`` (any CLI run) did to the root logger.

    NB: otherwise its handler outlives the test and prints a later test's background
    threads straight to the terminal.
    """
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


# --- PostgreSQL server ------------------------------------------------------------


def postgres_server_url() -> str:
    """The test server as a libpq URL (no SQLAlchemy driver suffix)."""
    url = os.environ.get(TEST_DATABASE_VARIABLE) or DEFAULT_TEST_DATABASE_URL
    return make_url(url).set(drivername="postgresql").render_as_string(False)


@functools.cache
def _postgres_problem(server_url: str) -> str | None:
    """Why the server cannot be used, or None; asked once per run."""
    try:
        with psycopg.connect(server_url, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        shown = make_url(server_url).render_as_string(hide_password=True)
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        return f"PostgreSQL at {shown} unreachable ({first_line}); set {TEST_DATABASE_VARIABLE}"


def _require_postgres() -> str:
    server = postgres_server_url()
    problem = _postgres_problem(server)
    if problem is None:
        return server
    if os.environ.get(REQUIRE_POSTGRES_VARIABLE) == "1":
        pytest.fail(f"{problem} ({REQUIRE_POSTGRES_VARIABLE}=1)", pytrace=False)
    pytest.skip(problem)


@contextmanager
def fresh_postgres_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the server, dropped afterwards; yields its URL."""
    name = f"leasesync_test_{uuid4().hex[:16]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield (
            make_url(server_url)
            .set(drivername="postgresql+psycopg", database=name)
            .render_as_string(False)
        )
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            admin.execute(drop.format(sql.Identifier(name)))


# --- One fresh database per test ----------------------------------------------------


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """An SQLite file that does not exist yet, in the test's own folder."""
    return f"sqlite:///{tmp_path / 'test.sqlite3'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database of the test's own, empty, dropped afterwards."""
    with fresh_postgres_database(_require_postgres()) as url:
        yield url


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest) -> str:
    """An empty database of the test's own: once on SQLite, once on PostgreSQL."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


# --- One migrated database per run, rolled back per test (habit 21) ------------------


@pytest.fixture(scope="session", params=BACKENDS)
def migrated_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """An engine on a database migrated to head, shared by the whole run."""
    with _migrated_database(request.param, tmp_path_factory) as url:
        engine = create_engine_for(url, poolclass=NullPool)
        yield engine
        engine.dispose()


@contextmanager
def _migrated_database(backend: str, tmp: pytest.TempPathFactory) -> Iterator[str]:
    if backend == "sqlite":
        url = f"sqlite:///{tmp.mktemp('migrated') / 'test.sqlite3'}"
        upgrade(url)
        yield url
        return
    with fresh_postgres_database(_require_postgres()) as url:
        upgrade(url)
        yield url


@pytest.fixture
def db_connection(migrated_engine: Engine) -> Iterator[Connection]:
    """A connection inside an outer transaction that the test never keeps."""
    with migrated_engine.connect() as connection:
        outer = connection.begin()
        try:
            yield connection
        finally:
            outer.rollback()


@pytest.fixture
def db_factory(db_connection: Connection) -> sessionmaker[Session]:
    """A session factory for code that opens its own units of work."""
    return sessionmaker(
        bind=db_connection,
        expire_on_commit=False,
        join_transaction_mode="create_savepoint",
    )


@pytest.fixture
def db_session(db_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session on the migrated database; everything it writes is rolled back."""
    with db_factory() as session:
        yield session
