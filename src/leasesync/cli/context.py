"""What every ``leasesync`` command shares: settings, the store, output, failure.

The root command only records the global options (``--config``, ``--log-format``,
``--log-level``) in a :class:`CliState`; nothing is read until a command asks, so
``--help`` works even when the configuration is broken. A command then calls
:func:`settings` (which reads the configuration once, applies the logging options,
and on invalid settings prints one line per problem and exits with status 2), then
:func:`sessions` for the store (to use with
:func:`leasesync.store.db.unit_of_work`: one unit of work per command), and for data
:func:`emit` or :func:`emit_json`.

Exit statuses: 0 success, 1 a failure the message explains, 2 bad usage or bad
settings.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn
from uuid import UUID

import typer

from leasesync.logs import configure_logging

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from leasesync.config import Settings

EXIT_FAILURE = 1
EXIT_USAGE = 2

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print the result as JSON, stable for scripts.")
]


@dataclass(kw_only=True)
class CliState:
    """The global options of one invocation, and the settings once read."""

    config_file: Path | None = None
    log_format: str | None = None
    log_level: str | None = None
    loaded: Settings | None = None
    factory: sessionmaker[Session] | None = None


def state(ctx: typer.Context) -> CliState:
    """The invocation's state; a bare one when a command runs outside the root."""
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    return root.obj


def settings(ctx: typer.Context) -> Settings:
    """The settings for this invocation, read once; bad settings end it (status 2).

    Logging is configured from the settings here, the command line's
    ``--log-format`` and ``--log-level`` winning over them.
    """
    # NB: imported here so that --help and --version need neither pydantic nor
    # SQLAlchemy, which take most of a second to import.
    from leasesync.config import SettingsError, load_settings

    current = state(ctx)
    if current.loaded is None:
        try:
            current.loaded = load_settings(current.config_file)
        except SettingsError as exc:
            fail_lines(exc.problems, code=EXIT_USAGE)
        configure_logging(
            current.log_format or current.loaded.log_format,
            current.log_level or current.loaded.log_level,
        )
    return current.loaded


def sessions(ctx: typer.Context, *, migrated: bool = True) -> sessionmaker[Session]:
    """Sessions on the configured database, its engine made once per invocation.

    With ``migrated`` (the default) a database that is not at the newest revision
    ends the command with a line saying to run ``leasesync db upgrade``.
    """
    from leasesync.store import db

    current = state(ctx)
    if current.factory is None:
        url = settings(ctx).database_url
        if migrated and set(db.current_revisions(url)) != set(db.head_revisions()):
            fail("leasesync: the database is not up to date; run: leasesync db upgrade")
        current.factory = db.session_factory(db.create_engine_for(url))
    return current.factory


def fail(message: str, *, code: int = EXIT_FAILURE) -> NoReturn:
    """End the command with ``message`` on stderr: one line, no traceback."""
    fail_lines((message,), code=code)


def fail_lines(lines: tuple[str, ...], *, code: int = EXIT_FAILURE) -> NoReturn:
    for line in lines:
        typer.echo(line, err=True)
    raise typer.Exit(code)


def to_jsonable(value: Any) -> Any:
    """Plain JSON data from our values: dataclasses, pydantic models, dates, paths.

    Secrets become ``"**********"``; mappings keep their keys as strings.
    """
    from pydantic import BaseModel, SecretStr

    if isinstance(value, SecretStr):
        return str(value)
    if isinstance(value, BaseModel):
        return to_jsonable(value.model_dump(mode="python"))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(
            {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        )
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [to_jsonable(item) for item in items]
    return _scalar(value)


def _scalar(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Enum):
        return to_jsonable(value.value)
    if isinstance(value, Decimal | UUID | Path):
        return str(value)
    return value


def emit_json(value: Any) -> None:
    """Print ``value`` as indented JSON with sorted keys, the form scripts rely on."""
    typer.echo(
        json.dumps(to_jsonable(value), indent=2, sort_keys=True, ensure_ascii=False)
    )


def emit(value: Any, *, as_json: bool, text: str) -> None:
    """Print ``value`` as JSON when asked (``--json``), else the human ``text``."""
    if as_json:
        emit_json(value)
    else:
        typer.echo(text)
