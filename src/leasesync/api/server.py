"""``leasesync serve``: the HTTP face on uvicorn, with whatever runs the background work.

With the embedded default (SQLite, ``worker = "embedded"``) one process does it all:
it migrates its database, runs the :class:`~leasesync.jobs.embedded.EmbeddedWorker`
thread, and serves the bundled simulated RealPage property over loopback, linked on
first start (:mod:`leasesync.embedded.bundled`). With procrastinate, the server only
decides and defers; ``leasesync worker`` processes deliver.

Start-up prints the URL and the staff token before the first request is taken (the
socket already listens, so early requests wait in its backlog), which is what
scripts and the tests wait for.
"""

from __future__ import annotations

import logging
import signal
import socket
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from types import FrameType

import uvicorn
from alembic.runtime.migration import MigrationContext
from sqlalchemy.exc import SQLAlchemyError

from leasesync.api.app import Services, create_app
from leasesync.api.auth import staff_token
from leasesync.config import Settings
from leasesync.embedded.bundled import BundledProperty, ensure_linked, load_bundled
from leasesync.jobs.embedded import EmbeddedWorker
from leasesync.jobs.queueing import ensure_queue_schema, queue_schema_present
from leasesync.simulators.serving import serve_in_thread
from leasesync.store import db
from leasesync.wiring import Stack, open_stack

logger = logging.getLogger(__name__)

_BACKLOG = 2048


@dataclass(frozen=True, kw_only=True, slots=True)
class ServeOptions:
    """Where to listen, and whether to serve the bundled simulated property."""

    host: str = "127.0.0.1"
    port: int = 8000
    simulated_property: bool = True


class _Stopped(Exception):  # noqa: N818 - a signal, not an error
    """SIGTERM arrived: unwind and close everything."""


def _stop(_signal: int, _frame: FrameType | None) -> None:
    raise _Stopped


def serve(
    settings: Settings, options: ServeOptions, announce: Callable[[str], None]
) -> None:
    """Run until SIGINT or SIGTERM; ``announce`` gets the lines to show at start."""
    # NB: uvicorn shuts down gracefully on SIGTERM, then raises it again for the
    # handler that was there before; this one turns it into a clean return, and
    # also covers a SIGTERM that arrives before uvicorn has started.
    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        _serve(settings, options, announce)
    except (_Stopped, KeyboardInterrupt):
        logger.info("Server stopped", extra={"event": "server_stopped"})
    finally:
        signal.signal(signal.SIGTERM, previous)


def _serve(
    settings: Settings, options: ServeOptions, announce: Callable[[str], None]
) -> None:
    _prepare_database(settings)
    with ExitStack() as resources:
        bundled, endpoints = None, {}
        if options.simulated_property:
            bundled = load_bundled()
            sim_url = resources.enter_context(serve_in_thread(bundled.simulator()))
            endpoints = {bundled.pms_ref: sim_url}
        sock = resources.enter_context(_listening(options.host, options.port))
        url = _url(options.host, sock.getsockname()[1])
        base_url = settings.base_url if "base_url" in settings.model_fields_set else url
        stack = resources.enter_context(
            open_stack(settings, role="server", endpoints=endpoints, base_url=base_url)
        )
        request_sync = _background(stack, resources)
        property_id = _link_bundled(stack, bundled, endpoints, request_sync)
        _announce(announce, stack, url, property_id)
        app = create_app(services_for(stack, request_sync))
        config = uvicorn.Config(app, lifespan="off", log_level="warning")
        uvicorn.Server(config).run(sockets=[sock])


def _prepare_database(settings: Settings) -> None:
    # NB: the embedded default migrates itself so that a fresh clone just starts; a
    # PostgreSQL deployment migrates deliberately (`leasesync db upgrade`), and
    # /readyz says when it has not.
    if settings.is_sqlite:
        db.upgrade(settings.database_url)
    conninfo = settings.procrastinate_conninfo
    if settings.worker == "procrastinate" and conninfo is not None:
        ensure_queue_schema(conninfo)


def _background(stack: Stack, resources: ExitStack) -> Callable[[int], bool]:
    """Start what runs the background work here; returns how to ask for a sync."""
    queue = stack.queue
    if queue is not None:
        return lambda property_id: queue.sync_property(property_id, "manual")
    stack.start_gateways()
    worker = EmbeddedWorker(
        stack.engine, simulated_reports=stack.deliver_simulated_reports
    )
    worker.start()
    resources.callback(worker.stop)
    return worker.request_sync


def _link_bundled(
    stack: Stack,
    bundled: BundledProperty | None,
    endpoints: dict[str, str],
    request_sync: Callable[[int], bool],
) -> int | None:
    if bundled is None:
        return None
    property_id = ensure_linked(stack.engine, bundled, endpoints[bundled.pms_ref])
    request_sync(property_id)
    return property_id


def _announce(
    announce: Callable[[str], None], stack: Stack, url: str, property_id: int | None
) -> None:
    secret = stack.settings.secret_key.get_secret_value()
    announce(f"leasesync is serving on {url}")
    announce(f"staff API token: {staff_token(secret)}")
    if property_id is not None:
        announce(
            f"simulated property {property_id}: "
            f"{url}/api/properties/{property_id}/state"
        )


def services_for(stack: Stack, request_sync: Callable[[int], bool]) -> Services:
    """The API's services on a stack; ``request_sync`` queues a property's sync."""
    secret = stack.settings.secret_key.get_secret_value()
    return Services(
        engine=stack.engine,
        request_sync=request_sync,
        readiness=lambda: readiness_problems(stack),
        staff_token=staff_token(secret),
        secret_key=secret,
        secure_cookies=stack.engine.base_url.startswith("https://"),
    )


def readiness_problems(stack: Stack) -> list[str]:
    """What keeps this process from working; empty when it is ready."""
    try:
        with stack.database.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError as error:
        reason = str(error.orig if hasattr(error, "orig") else error).splitlines()
        return [f"the database does not answer: {reason[0] if reason else error}"]
    problems = []
    if current != set(db.head_revisions()):
        problems.append("the database is not migrated; run `leasesync db upgrade`")
    conninfo = stack.settings.procrastinate_conninfo
    if stack.queue is not None and conninfo and not queue_schema_present(conninfo):
        problems.append("the job queue has no tables; run `leasesync worker --init`")
    return problems


@contextmanager
def _listening(host: str, port: int) -> Iterator[socket.socket]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(_BACKLOG)
        yield sock
    finally:
        sock.close()


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"
