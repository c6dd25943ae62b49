"""``leasesync db …``: bring the database's schema to a revision and report where it is.

Heavy imports (Alembic, SQLAlchemy) wait inside the commands, so that ``--help``
stays quick. Each command reads the settings for the database URL, runs the packaged Alembic
migrations through :mod:`leasesync.store.db`, and reports the revision the database
ends at. A URL is only ever shown with its password hidden. A database that cannot
be reached, or a revision that does not exist, ends the command with one line.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from leasesync.cli.context import JsonOption, emit, fail, settings

app = typer.Typer(
    help="Create, migrate and inspect the database.", no_args_is_help=True
)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="db")


@contextmanager
def _database_errors(url: str) -> Iterator[None]:
    """Turn an unreachable database or an unknown revision into one line."""
    from alembic.util import CommandError
    from sqlalchemy.exc import DBAPIError

    from leasesync.config import redact_url

    try:
        yield
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        fail(f"leasesync: database {redact_url(url)}: {reason}")
    except CommandError as exc:
        fail(f"leasesync: {exc}")
    except OSError as exc:  # an SQLite file whose folder cannot be made
        fail(f"leasesync: database {redact_url(url)}: {exc.strerror or exc}")


def _report(url: str, *, as_json: bool) -> None:
    from leasesync.config import redact_url
    from leasesync.store import db

    current = db.current_revisions(url)
    heads = db.head_revisions()
    at_head = set(current) == set(heads)
    shown = ", ".join(current) or "empty (no revision)"
    emit(
        {
            "database": redact_url(url),
            "current": list(current),
            "head": list(heads),
            "up_to_date": at_head,
        },
        as_json=as_json,
        text=f"{redact_url(url)}: {shown}{' (head)' if at_head else ''}",
    )


@app.command("upgrade")
def upgrade_command(
    ctx: typer.Context,
    revision: Annotated[
        str, typer.Argument(help="Revision to reach; 'head' is the newest.")
    ] = "head",
    as_json: JsonOption = False,
) -> None:
    """Create the database or migrate it forward (to the newest revision by default)."""
    from leasesync.store import db

    current = settings(ctx)
    url = current.database_url
    with _database_errors(url):
        db.upgrade(url, revision)
        if current.worker == "procrastinate" and current.procrastinate_conninfo:
            # NB: the job queue's own tables (procrastinate's schema) sit beside ours.
            from leasesync.jobs.queueing import ensure_queue_schema

            ensure_queue_schema(current.procrastinate_conninfo)
        _report(url, as_json=as_json)


@app.command("downgrade")
def downgrade_command(
    ctx: typer.Context,
    revision: Annotated[
        str, typer.Argument(help="Revision to return to; 'base' drops every table.")
    ],
    as_json: JsonOption = False,
) -> None:
    """Migrate the database back to REVISION; data in dropped tables is lost."""
    from leasesync.store import db

    url = settings(ctx).database_url
    with _database_errors(url):
        db.downgrade(url, revision)
        _report(url, as_json=as_json)


@app.command("current")
def current_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Show the database's revision and whether it is the newest."""
    url = settings(ctx).database_url
    with _database_errors(url):
        _report(url, as_json=as_json)
