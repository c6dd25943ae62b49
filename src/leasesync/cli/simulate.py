"""``leasesync simulate realpage|devices``: the bundled simulators, as servers.

``simulate realpage`` serves the last PMS state of a scenario file as an RPX
endpoint on loopback (clients use the scenario's pmcid and siteid and the licence
key printed at start). ``simulate devices`` is a device fleet that answers
reconfigurations over MQTT, on the broker and topic prefix of the settings unless
told otherwise. Both run until interrupted.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from leasesync.cli.context import settings

app = typer.Typer(help="Run the bundled simulators.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="simulate")


class Mode(StrEnum):
    ok = "ok"
    fail = "fail"
    silent = "silent"


@app.command("realpage")
def realpage_command(
    scenario: Annotated[
        Path,
        typer.Option(
            "--scenario", exists=True, dir_okay=False, help="A scenario file to serve."
        ),
    ],
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8080,
) -> None:
    """Serve SCENARIO's last PMS state as a RealPage RPX endpoint."""
    from leasesync.simulators.realpage import SCENARIO_LICENSE_KEY, run_simulator

    typer.echo(f"RealPage simulator on http://127.0.0.1:{port}/")
    typer.echo(f"licence key: {SCENARIO_LICENSE_KEY}")
    run_simulator(scenario, port)


@app.command("devices")
def devices_command(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option("--host", help="MQTT broker.")] = None,
    port: Annotated[int | None, typer.Option("--port", min=1, max=65535)] = None,
    prefix: Annotated[
        str | None, typer.Option("--prefix", help="Topic prefix.")
    ] = None,
    delay: Annotated[
        float, typer.Option("--delay", min=0, help="Seconds before answering.")
    ] = 2.0,
    mode: Annotated[Mode, typer.Option("--mode", help="How to answer.")] = Mode.ok,
) -> None:
    """Answer reconfiguration requests over MQTT, as a device fleet would."""
    from leasesync.simulators.devices import DeviceFleetSimulator

    devices = settings(ctx).devices
    fleet = DeviceFleetSimulator(
        host or devices.mqtt_host,
        port or devices.mqtt_port,
        prefix or devices.mqtt_topic_prefix,
        delay_seconds=delay,
        mode=mode.value,
    )
    typer.echo(
        f"Device fleet answering under {fleet.topic_prefix}/ ({mode.value}, {delay} s)"
    )
    try:
        fleet.run_forever()
    except KeyboardInterrupt:
        fleet.stop()
    except OSError as error:
        typer.echo(f"leasesync: MQTT broker unreachable: {error}", err=True)
        raise typer.Exit(1) from error
