"""The page an invite's link opens, and accepting it (SPEC L3, L4).

``GET /invites/accept?token=…`` checks the link exactly as accepting would and shows
the property and unit with an Accept button; only the ``POST`` of that form accepts,
so that a mail scanner following links never accepts for anyone. A link that is
forged, already used, withdrawn or expired gets a page saying so (400 or 410) and
changes nothing — the engine refuses before it writes.

The form is protected against cross-site submission with a double-submit token:
the page sets a random value in a strict same-site cookie and puts, in a hidden
field, that value and the invite token signed together with the installation's
secret. A ``POST`` is taken only when the field's signature holds, is less than an
hour old, and names both the cookie's value and the invite being accepted.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from typing import Annotated, Any

import jinja2
from fastapi import APIRouter, Cookie, Depends, Form, Query
from fastapi.responses import HTMLResponse
from itsdangerous import BadData, URLSafeTimedSerializer

from leasesync.api.app import Services, services_of
from leasesync.engine.completions import (
    InviteRefusedError,
    accept_invite,
    describe_invite,
)
from leasesync.engine.tokens import InvalidTokenError

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/invites", tags=["invites"])

CSRF_COOKIE = "leasesync_csrf"
CSRF_MAX_AGE = 3600
_NONCE = re.compile(r"[A-Za-z0-9_-]{32}")
ServicesDep = Annotated[Services, Depends(services_of)]

_PAGES = jinja2.Environment(
    loader=jinja2.PackageLoader("leasesync.api", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
# NB: the token is in the URL; no other site should learn it from a Referer.
_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@dataclass(frozen=True, kw_only=True, slots=True)
class Refusal:
    status: int
    title: str
    hint: str


REFUSALS = {
    "invalid": Refusal(
        status=400,
        title="This invite link is not valid",
        hint="Open the whole link from your e-mail, or ask your property's staff "
        "to send a new invite.",
    ),
    "used": Refusal(
        status=410,
        title="This invite has already been accepted",
        hint="Your home is set up; nothing more is needed.",
    ),
    "withdrawn": Refusal(
        status=410,
        title="This invite is no longer open",
        hint="It was withdrawn or replaced by a newer one. Ask your property's staff "
        "if you expected it.",
    ),
    "expired": Refusal(
        status=410,
        title="This invite has expired",
        hint="Ask your property's staff to send a new invite.",
    ),
    "form": Refusal(
        status=400,
        title="This page has expired",
        hint="Nothing was changed. Open the link from your e-mail again and accept "
        "from there.",
    ),
}


MAX_TOKEN = 2000


@router.get("/accept", response_class=HTMLResponse)
def show_invite(
    services: ServicesDep,
    token: Annotated[str, Query()] = "",
    cookie: Annotated[str | None, Cookie(alias=CSRF_COOKIE)] = None,
) -> HTMLResponse:
    """The invite's property and unit, and the Accept form."""
    if len(token) > MAX_TOKEN:
        return _refused("invalid")  # NB: a person sees a page, never a JSON error
    try:
        invite = describe_invite(services.engine, token)
    except (InviteRefusedError, InvalidTokenError) as error:
        return _refused(_reason(error))
    # NB: one value per browser, kept while it lasts, so that a second invite opened
    # in another tab does not spoil the first one's form.
    nonce = cookie if cookie and _NONCE.fullmatch(cookie) else secrets.token_urlsafe(24)
    page = _page(
        "invite_accept.html.j2",
        200,
        property_name=invite.property_name,
        unit_number=invite.unit_number,
        token=token,
        csrf=_csrf_field(services, nonce, token),
    )
    page.set_cookie(
        CSRF_COOKIE,
        nonce,
        max_age=CSRF_MAX_AGE,
        path="/invites",
        httponly=True,
        samesite="strict",
        secure=services.secure_cookies,
    )
    return page


@router.post("/accept", response_class=HTMLResponse)
def accept(
    services: ServicesDep,
    token: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
    cookie: Annotated[str | None, Cookie(alias=CSRF_COOKIE)] = None,
) -> HTMLResponse:
    """L4: accept the invite; a refused or forged request changes nothing."""
    if len(token) > MAX_TOKEN or len(csrf) > MAX_TOKEN:
        return _refused("invalid")
    if not _csrf_holds(services, csrf, cookie, token):
        return _refused("form")
    try:
        accepted = accept_invite(services.engine, token)
    except (InviteRefusedError, InvalidTokenError) as error:
        return _refused(_reason(error))
    return _page(
        "invite_welcome.html.j2",
        200,
        property_name=accepted.property_name,
        unit_number=accepted.unit_number,
    )


def _reason(error: Exception) -> str:
    return error.reason if isinstance(error, InviteRefusedError) else "invalid"


def _refused(reason: str) -> HTMLResponse:
    refusal = REFUSALS[reason]
    return _page(
        "invite_refused.html.j2",
        refusal.status,
        title=refusal.title,
        hint=refusal.hint,
        reason=reason,
    )


def _page(template: str, status: int, **context: Any) -> HTMLResponse:
    html = _PAGES.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


def _serializer(services: Services) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(services.secret_key, salt="leasesync-invite-form")


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:32]


def _csrf_field(services: Services, nonce: str, token: str) -> str:
    return str(_serializer(services).dumps([nonce, _token_digest(token)]))


def _csrf_holds(services: Services, field: str, cookie: str | None, token: str) -> bool:
    if not field or not cookie:
        return False
    try:
        nonce, digest = _serializer(services).loads(field, max_age=CSRF_MAX_AGE)
    except (BadData, ValueError, TypeError):
        return False
    return secrets.compare_digest(str(nonce), cookie) and secrets.compare_digest(
        str(digest), _token_digest(token)
    )
