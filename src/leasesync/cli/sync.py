"""``leasesync sync PROPERTY_ID``: sync a property now, in this process (L15).

The sync runs here and reports its outcome; the side effects it decides are queued
for the workers (procrastinate), or left for the embedded worker of ``leasesync
serve``. A failed or held sync is an outcome, not an error: the exit status is 0 and
the detail says what happened (L12).
"""

from __future__ import annotations

from typing import Annotated

import typer

from leasesync.cli.context import JsonOption, emit, fail
from leasesync.cli.stacks import command_stack


def register(root: typer.Typer) -> None:
    root.command("sync")(sync_command)


def sync_command(
    ctx: typer.Context,
    property_id: Annotated[int, typer.Argument(help="The property's id.", min=1)],
    as_json: JsonOption = False,
) -> None:
    """Fetch PROPERTY_ID from its PMS and apply what changed."""
    from leasesync.jobs.work import run_sync

    with command_stack(ctx) as stack:
        outcome = run_sync(stack.engine, property_id, "manual")
    if outcome is None:
        fail(f"leasesync: no property {property_id}")
    detail = f": {outcome.detail}" if outcome.detail else ""
    emit(
        outcome,
        as_json=as_json,
        text=f"Property {property_id}: sync {outcome.outcome}, "
        f"{outcome.units_changed} units changed, {outcome.actions} actions{detail}",
    )
