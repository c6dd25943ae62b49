"""The FastAPI application and what its routes are given (:class:`Services`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import FastAPI, Request, Response

from leasesync import __version__
from leasesync.api.errors import error_response, install_error_handlers
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


async def _staff_routes_need_the_token(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Refuse a caller without the token before its body is even read.

    The routes check it too (``require_staff``); this also covers a request whose body
    would otherwise fail to parse first, which must not tell an unknown caller how
    the API validates its input.
    """
    if request.url.path.startswith("/api/"):
        from leasesync.api.auth import token_matches

        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        token = given.strip() if scheme.lower() == "bearer" else None
        if not token_matches(token, services_of(request).staff_token):
            return error_response(
                401,
                "unauthorized",
                "a valid bearer token is required",
                "send Authorization: Bearer <token> (leasesync serve prints it)",
                headers={"WWW-Authenticate": "Bearer"},
            )
    return await call_next(request)


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
    app.middleware("http")(_staff_routes_need_the_token)
    app.include_router(operations.router)
    app.include_router(staff.router)
    app.include_router(invites.router)
    return app
