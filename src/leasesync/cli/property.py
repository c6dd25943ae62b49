"""``leasesync property link|list``: connect a PMS property, and see the linked ones.

Linking tries the credentials before anything is stored (STYLE habit 12): a wrong
licence key, an unknown site or an unreachable endpoint ends the command with one
line and exit status 1, and the database is left as it was. A property linked twice
is kept as it is and synced again (L1). The licence key is asked for, unechoed, when
``--license-key`` is not given, so it need not appear in the shell's history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from leasesync.cli.context import JsonOption, emit, fail
from leasesync.cli.stacks import command_stack

if TYPE_CHECKING:
    from leasesync.connectors.realpage.connector import RealPageConnector
    from leasesync.engine.linking import PropertyLink

app = typer.Typer(help="Link PMS properties and list them.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="property")


class Pms(StrEnum):
    realpage = "realpage"


@app.command("link")
def link_command(
    ctx: typer.Context,
    url: Annotated[str, typer.Option("--url", help="The RPX endpoint URL.")],
    pmcid: Annotated[str, typer.Option("--pmcid", help="RealPage PMC id.")],
    siteid: Annotated[str, typer.Option("--siteid", help="RealPage site id.")],
    name: Annotated[str, typer.Option("--name", help="The property's name.")],
    timezone: Annotated[
        str, typer.Option("--timezone", help="IANA time zone, e.g. America/Chicago.")
    ],
    license_key: Annotated[
        str | None,
        typer.Option(
            "--license-key",
            help="RPX licence key; asked for (on stderr, not echoed) when left out.",
        ),
    ] = None,
    pms: Annotated[Pms, typer.Option("--pms", help="The PMS.")] = Pms.realpage,
    common_area: Annotated[
        list[str] | None,
        typer.Option("--common-area", help="A shared door (repeat, in order)."),
    ] = None,
    poll_minutes: Annotated[
        int, typer.Option("--poll-minutes", min=1, max=1440, help="Poll interval.")
    ] = 15,
    as_json: JsonOption = False,
) -> None:
    """Link a PMS property: check its credentials, create it, and sync it (L1)."""
    from leasesync.domain.errors import NeedsHumanError, RetryLaterError
    from leasesync.engine.linking import link_property

    if license_key is None:
        # NB: the prompt goes to stderr so that --json output stays parseable.
        license_key = typer.prompt("License key", hide_input=True, err=True)
    target = _Target(url=url, pmcid=pmcid, siteid=siteid, license_key=license_key)
    link = target.link(
        pms.value, name, timezone, tuple(common_area or ()), poll_minutes
    )
    with target.connector() as connector, command_stack(ctx) as stack:
        existing = _existing_name(stack.engine, link)
        try:
            property_id, outcome = link_property(stack.engine, link, connector)
        except NeedsHumanError as error:
            fail(f"leasesync: cannot link {name!r}: {error}")
        except RetryLaterError as error:
            fail(f"leasesync: cannot reach the PMS at {url}: {error}")
    shown = existing or name
    said = (
        f"Already linked as property {property_id} ({shown}); the link is unchanged"
        if existing
        else f"Linked property {property_id} ({name})"
    )
    emit(
        {
            "property_id": property_id,
            "name": shown,
            "created": existing is None,
            "sync": outcome,
        },
        as_json=as_json,
        text=f"{said}: sync {outcome.outcome}, "
        f"{outcome.units_changed} units changed, {outcome.actions} actions",
    )


def _existing_name(engine: Any, link: Any) -> str | None:
    """The name of the property this link names, if it is linked already (L1)."""
    from leasesync.store.properties import find_property

    with engine.transaction() as session:
        found = find_property(session, link.pms, link.pms_ref)
        return None if found is None else found.name


@dataclass(frozen=True, kw_only=True, slots=True)
class _Target:
    """Where a RealPage site is and the key that opens it."""

    url: str
    pmcid: str
    siteid: str
    license_key: str = field(repr=False)

    def link(
        self,
        pms: str,
        name: str,
        timezone: str,
        common_areas: tuple[str, ...],
        poll_minutes: int,
    ) -> PropertyLink:
        from leasesync.domain.settings import PropertySettings
        from leasesync.engine.linking import PropertyLink

        settings = PropertySettings(
            timezone=timezone, common_areas=common_areas, poll_minutes=poll_minutes
        )
        return PropertyLink(
            pms=pms,
            pms_ref=f"{self.pmcid}/{self.siteid}",
            name=name,
            settings=settings,
            connection={"url": self.url, "pmcid": self.pmcid, "siteid": self.siteid},
            secret=self.license_key,
        )

    def connector(self) -> RealPageConnector:
        from leasesync.connectors.realpage.connector import RealPageConnector

        # NB: an operator is waiting: fail within a minute rather than retry long.
        return RealPageConnector(
            url=self.url,
            pmcid=self.pmcid,
            siteid=self.siteid,
            license_key=self.license_key,
            timeout=30.0,
            retry_attempts=2,
            retry_wait=0.5,
        )


@app.command("list")
def list_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List the linked properties."""
    with command_stack(ctx) as stack, stack.engine.transaction() as session:
        rows = _rows(session)
    if as_json:
        emit(rows, as_json=True, text="")
        return
    if not rows:
        typer.echo("No property is linked yet: see `leasesync property link --help`.")
    for row in rows:
        typer.echo(
            f"{row['id']:>4}  {row['name']}  ({row['pms']} {row['pms_ref']}, "
            f"{row['timezone']}): {row['units']} units, sync {row['sync']}, "
            f"polled every {row['poll_minutes']} min"
        )


def _rows(session: Any) -> list[dict[str, Any]]:
    from sqlalchemy import func, select

    from leasesync.store import models as m

    counts = dict(
        session.execute(
            select(m.Unit.property_id, func.count()).group_by(m.Unit.property_id)
        ).all()
    )
    return [
        {
            "id": prop.id,
            "name": prop.name,
            "pms": prop.pms,
            "pms_ref": prop.pms_ref,
            "timezone": prop.timezone,
            "sync": prop.sync_status,
            "units": counts.get(prop.id, 0),
            "poll_minutes": prop.poll_minutes,
        }
        for prop in session.scalars(select(m.Property).order_by(m.Property.id))
    ]
