"""The engine for one CLI command: settings, a ready database, one line on failure.

Commands that read or change properties open their stack here. An SQLite database
(the embedded default) is migrated first, as ``leasesync serve`` does, so that a
fresh clone needs no setup; a PostgreSQL database must already be at the newest
migration, or the command says to run ``leasesync db upgrade``. A database that does
not answer ends the command with one line, its URL shown without a password.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer

from leasesync.cli.context import fail, settings

if TYPE_CHECKING:
    from leasesync.wiring import Stack


@contextmanager
def command_stack(ctx: typer.Context) -> Iterator[Stack]:
    """The stack for this command; closed when the command ends."""
    from sqlalchemy.exc import OperationalError

    from leasesync.config import redact_url
    from leasesync.wiring import open_stack

    current = settings(ctx)
    try:
        _ready_database(current.database_url, sqlite=current.is_sqlite)
        with open_stack(current, role="cli") as stack:
            yield stack
    except OperationalError as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        fail(f"leasesync: database {redact_url(current.database_url)}: {reason}")


def _ready_database(url: str, *, sqlite: bool) -> None:
    from leasesync.store import db

    if set(db.current_revisions(url)) == set(db.head_revisions()):
        return
    if not sqlite:
        fail("leasesync: the database is not migrated; run `leasesync db upgrade`")
    db.upgrade(url)
