"""``leasesync unit mark-installed PROPERTY_ID UNIT_ID``: the installer's mark (L5).

Marking a unit's installation complete releases the invites it held; the action is
recorded with who did it (L15), ``--actor`` or else the login name.
"""

from __future__ import annotations

import getpass
from typing import Annotated

import typer

from leasesync.cli.context import JsonOption, emit, fail
from leasesync.cli.stacks import command_stack

app = typer.Typer(help="Act on one unit.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="unit")


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


@app.command("mark-installed")
def mark_installed_command(
    ctx: typer.Context,
    property_id: Annotated[int, typer.Argument(help="The property's id.", min=1)],
    unit_id: Annotated[str, typer.Argument(help="The PMS unit id (not its number).")],
    actor: Annotated[
        str | None, typer.Option("--actor", help="Who did it (default: your login).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Mark UNIT_ID's installation complete; its held invites go out."""
    from leasesync.engine.completions import UnknownTargetError, mark_installed

    who = actor or _login()
    with command_stack(ctx) as stack:
        try:
            actions = mark_installed(stack.engine, property_id, unit_id, who)
        except UnknownTargetError as error:
            fail(f"leasesync: {error}")
    emit(
        {"property_id": property_id, "unit_id": unit_id, "actions": actions},
        as_json=as_json,
        text=f"Unit {unit_id} of property {property_id} marked installed by {who} "
        f"({actions} actions)",
    )
