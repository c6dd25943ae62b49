"""``leasesync serve``: the HTTP API, the invite pages and, embedded, the worker.

With no configuration it runs the embedded default — SQLite in the data directory,
the in-process worker, the bundled simulated RealPage property, simulated devices
and doors, mail to the outbox folder — and prints its URL and staff token. See
:mod:`leasesync.api.server`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from leasesync.cli.context import fail, settings


def register(root: typer.Typer) -> None:
    root.command("serve")(serve_command)


def serve_command(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = (
        "127.0.0.1"
    ),
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port (0: any free one).")
    ] = 8000,
    simulated_property: Annotated[
        bool | None,
        typer.Option(
            "--simulated-property/--no-simulated-property",
            help="Serve and link the bundled simulated RealPage property "
            "(default: on with SQLite).",
        ),
    ] = None,
) -> None:
    """Serve the API and the invite pages until interrupted."""
    from leasesync.api.server import ServeOptions, serve

    current = settings(ctx)
    bundled = current.is_sqlite if simulated_property is None else simulated_property
    options = ServeOptions(host=host, port=port, simulated_property=bundled)
    try:
        serve(current, options, announce=typer.echo)
    except OSError as error:
        fail(f"leasesync: cannot serve on {host}:{port}: {error.strerror or error}")
