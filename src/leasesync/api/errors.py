"""Errors with their HTTP meaning: one translator for the API (STYLE habit 16).

Every error the API returns has the same JSON shape — a stable machine ``code``, a
``message`` for people and a ``hint`` saying what to do — and expected failures are
never 500s: an unknown property or unit is 404, a request that does not validate is
422 with one line per field, a broken invariant is 409, a dependency that is down
is 503 with ``Retry-After``. The invite pages render their own HTML instead
(:mod:`leasesync.api.invites`).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from leasesync.domain.errors import IntegrityError, NeedsHumanError, RetryLaterError
from leasesync.engine.completions import UnknownTargetError

logger = logging.getLogger(__name__)


class ApiError(Exception):
    """An error the API answers with; raise it from a route."""

    def __init__(self, status: int, code: str, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.hint = status, code, message, hint


def error_response(
    status: int,
    code: str,
    message: str,
    hint: str = "",
    *,
    headers: dict[str, str] | None = None,
    **more: Any,
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "hint": hint, **more}}
    return JSONResponse(body, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(UnknownTargetError, _not_found)
    app.add_exception_handler(NeedsHumanError, _needs_human)
    app.add_exception_handler(RetryLaterError, _retry_later)
    app.add_exception_handler(IntegrityError, _integrity)


async def _api_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    return error_response(error.status, error.code, error.message, error.hint)


async def _invalid_request(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    fields = [
        {"field": ".".join(str(part) for part in item["loc"]), "problem": item["msg"]}
        for item in error.errors()
    ]
    return error_response(
        422,
        "invalid_request",
        "the request does not validate",
        "fix the fields listed and send it again",
        fields=fields,
    )


async def _http_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    code = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed"}
    return error_response(
        error.status_code,
        code.get(error.status_code, "http_error"),
        str(error.detail),
        headers=getattr(error, "headers", None),
    )


async def _not_found(_request: Request, error: Exception) -> JSONResponse:
    return error_response(
        404, "not_found", str(error), "check the property and unit ids"
    )


async def _needs_human(_request: Request, error: Exception) -> JSONResponse:
    return error_response(409, "needs_attention", str(error), "a person must act")


async def _retry_later(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RetryLaterError)
    delay = str(int(error.delay_seconds or 30))
    return error_response(
        503,
        "retry_later",
        str(error),
        "try again shortly",
        headers={"Retry-After": delay},
    )


async def _integrity(_request: Request, error: Exception) -> JSONResponse:
    # NB: an integrity error may quote platform state (names, e-mails): its text
    # goes to the DEBUG log only, never into an ERROR record or the response.
    logger.error("Integrity error answered with 409", extra={"event": "api_conflict"})
    logger.debug("Integrity error: %s", error)
    return error_response(
        409,
        "conflict",
        "leasesync's data does not hold together for this request",
        "report this to the operators",
    )
