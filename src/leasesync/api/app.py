"""The FastAPI application and what its routes are given (:class:`Services`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI, Request

from leasesync import __version__
from leasesync.api.errors import install_error_handlers
from leasesync.engine.runtime import Engine


@dataclass(frozen=True, kw_only=True)
class Services:
    """What the routes work with.

    ``request_sync(property_id)`` queues a sync and says whether it was not already
    queued; ``readiness()`` lists what keeps the process from serving (empty when
    ready). ``secure_cookies`` marks cookies HTTPS-only.
    """

    engine: Engine
    request_sync: Callable[[int], bool]
    readiness: Callable[[], list[str]]
    staff_token: str
    secret_key: str
    secure_cookies: bool = False


def services_of(request: Request) -> Services:
    found = request.app.state.services
    assert isinstance(found, Services)
    return found


def create_app(services: Services) -> FastAPI:
    """The application: operations, the staff API and the invite pages."""
    from leasesync.api import invites, operations, staff

    app = FastAPI(
        title="leasesync",
        version=__version__,
        description="Keeps a smart-apartment platform in step with a PMS.",
    )
    app.state.services = services
    install_error_handlers(app)
    app.include_router(operations.router)
    app.include_router(staff.router)
    app.include_router(invites.router)
    return app
