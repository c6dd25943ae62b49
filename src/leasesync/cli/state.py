"""``leasesync state PROPERTY_ID [--json]``: the property's STATE (FORMAT.md).

``--json`` prints exactly what ``GET /api/properties/{id}/state`` returns, at the
property's local time; without it, one line per unit.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from leasesync.cli.context import JsonOption, emit_json, fail
from leasesync.cli.stacks import command_stack


def register(root: typer.Typer) -> None:
    root.command("state")(state_command)


def state_command(
    ctx: typer.Context,
    property_id: Annotated[int, typer.Argument(help="The property's id.", min=1)],
    as_json: JsonOption = False,
) -> None:
    """Show the platform state of PROPERTY_ID."""
    from zoneinfo import ZoneInfo

    from leasesync.engine.states import property_state
    from leasesync.store import models as m

    with command_stack(ctx) as stack, stack.engine.transaction() as session:
        prop = session.get(m.Property, property_id)
        if prop is None:
            fail(f"leasesync: no property {property_id}")
        at = stack.engine.clock.now().astimezone(ZoneInfo(prop.timezone))
        state = property_state(session, property_id, at)
    if as_json:
        emit_json(state)
        return
    typer.echo(f"{state['property']['name']} (sync {state['property']['sync']})")
    for key, unit in state["units"].items():
        typer.echo(_unit_line(key, unit))


def _unit_line(key: str, unit: dict[str, Any]) -> str:
    residents = unit["residents"].values()
    people = ", ".join(f"{r['name'] or '?'} ({r['status']})" for r in residents)
    flags = "".join(f" [{flag}]" for flag in ("missing", "paused") if unit.get(flag))
    return (
        f"  {unit['number']:>6} ({key}): {unit['state']}, devices {unit['devices']}, "
        f"installation {unit['installation']}{flags}"
        + (f" — {people}" if people else "")
    )
