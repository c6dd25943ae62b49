"""The ``leasesync`` command: one Typer app that every face hangs its commands on.

The root only takes the global options and leaves everything else to the commands
(see :mod:`leasesync.cli.context` for what they share). Each face lives in its own
module ``leasesync.cli.<name>`` with a ``register(app)`` function that adds its
command or command group; :data:`FACES` lists them in one place. A face whose module
is not written yet is left out of ``--help`` rather than breaking the command, so the
faces can land one at a time.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from leasesync import __version__
from leasesync.cli.context import EXIT_FAILURE, EXIT_USAGE, CliState
from leasesync.domain.errors import LeasesyncError
from leasesync.logs import configure_logging

logger = logging.getLogger(__name__)

# The modules under leasesync.cli that add commands, each through register(app).
FACES = (
    "db",
    "property",
    "sync",
    "state",
    "unit",
    "scenario",
    "simulate",
    "serve",
    "worker",
    "demo",
)


class LogFormat(StrEnum):
    text = "text"
    json = "json"


class LogLevel(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


app = typer.Typer(
    name="leasesync",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"leasesync {__version__}")
        raise typer.Exit


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            metavar="FILE",
            help="TOML settings file (else $LEASESYNC_CONFIG_FILE, if set).",
        ),
    ] = None,
    log_format: Annotated[
        LogFormat | None,
        typer.Option(
            "--log-format", help="Log as readable text or one JSON object a line."
        ),
    ] = None,
    log_level: Annotated[
        LogLevel | None,
        typer.Option(
            "--log-level", case_sensitive=False, help="Least severe level logged."
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_show_version,
            is_eager=True,
            help="Show the version and exit.",
        ),
    ] = False,
) -> None:
    """Keep a smart-apartment platform in step with a property management system.

    Settings: LEASESYNC_* variables, an optional TOML file; by default SQLite in ./data.
    """
    ctx.obj = CliState(
        config_file=config,
        log_format=log_format.value if log_format else None,
        log_level=log_level.value if log_level else None,
    )
    # NB: logging is set up again once a command reads the settings; until then the
    # command line's choices (or text at INFO) apply.
    configure_logging(ctx.obj.log_format or "text", ctx.obj.log_level or "INFO")


def _register_faces(target: typer.Typer) -> None:
    for name in FACES:
        module_name = f"leasesync.cli.{name}"
        if importlib.util.find_spec(module_name) is None:
            continue
        importlib.import_module(module_name).register(target)


_register_faces(app)


def main() -> None:
    """The console entry point: run the app, and end deliberate errors in one line."""
    try:
        app(prog_name="leasesync")
    except LeasesyncError as exc:
        from leasesync.config import SettingsError

        if isinstance(exc, SettingsError):
            _exit_with(exc.problems, EXIT_USAGE)
        logger.debug("Command failed", exc_info=True)
        _exit_with((f"leasesync: {exc}",), EXIT_FAILURE)


def _exit_with(lines: tuple[str, ...], code: int) -> NoReturn:
    for line in lines:
        typer.echo(line, err=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
