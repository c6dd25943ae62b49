"""``leasesync worker``: run procrastinate jobs on PostgreSQL (SPEC §5).

Start as many as you like, on as many machines: they share the queue, and locks keep
one property's sync and one unit's work from running twice at once. Each worker
applies procrastinate's schema on start when the database lacks it; ``--init`` does
only that and exits, for deployments that prepare the database in a separate step.
The embedded default needs no worker: ``leasesync serve`` runs one in-process.
"""

from __future__ import annotations

from typing import Annotated

import typer

from leasesync.cli.context import EXIT_USAGE, fail, settings


def register(root: typer.Typer) -> None:
    root.command("worker")(worker_command)


def worker_command(
    ctx: typer.Context,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, max=64, help="Jobs run at once.")
    ] = 4,
    init: Annotated[
        bool, typer.Option("--init", help="Create the job queue's tables and exit.")
    ] = False,
    stalled_after: Annotated[
        float,
        typer.Option(
            "--stalled-after",
            min=1.0,
            help="Seconds of silence after which a dead worker's jobs are retried.",
        ),
    ] = 30.0,
    metrics_port: Annotated[
        int | None,
        typer.Option("--metrics-port", min=1, max=65535, help="Serve /metrics here."),
    ] = None,
) -> None:
    """Run background jobs until interrupted (SIGINT or SIGTERM)."""
    from leasesync.jobs.queueing import ensure_queue_schema
    from leasesync.jobs.worker import WorkerOptions, run_worker
    from leasesync.wiring import open_stack

    current = settings(ctx)
    conninfo = current.procrastinate_conninfo
    if current.worker != "procrastinate" or conninfo is None:
        fail(
            "leasesync: `leasesync worker` runs procrastinate on PostgreSQL: set "
            "LEASESYNC_WORKER=procrastinate and a postgresql:// database URL (the "
            "embedded default runs its worker inside `leasesync serve`)",
            code=EXIT_USAGE,
        )
    if init:
        applied = ensure_queue_schema(conninfo)
        typer.echo("job queue created" if applied else "job queue already there")
        return
    if metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(metrics_port)
    options = WorkerOptions(concurrency=concurrency, stalled_after=stalled_after)
    with open_stack(current, role="worker", pool_size=concurrency + 4) as stack:
        stack.start_gateways()
        run_worker(stack, options)
