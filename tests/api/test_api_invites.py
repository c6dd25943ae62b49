"""The invite acceptance pages (SPEC L3, L4; issue #6).

The link shows the property and unit with an Accept form; only the form's POST, with
its CSRF token, accepts. A used, expired, withdrawn or forged link gets a page that
says so (400 or 410) and changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_site import ApiSite, api_site
from httpx import Response

from leasesync.api.invites import CSRF_COOKIE
from leasesync.engine.completions import cancel_invite

ANN = "ann.avery@example.com"
BEN = "ben.avery@example.com"


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiSite]:
    with api_site(tmp_path, monkeypatch) as found:
        found.client.post("/api/properties/1/units/30101/installed", headers=found.auth)
        found.worker.run_once()
        yield found


def _field(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found is not None, f"no {name} field on the page"
    return found.group(1)


def _open(site: ApiSite, token: str) -> Response:
    response: Response = site.client.get("/invites/accept", params={"token": token})
    return response


def _submit(site: ApiSite, page: Response) -> Response:
    form = {"token": _field(page.text, "token"), "csrf": _field(page.text, "csrf")}
    response: Response = site.client.post("/invites/accept", data=form)
    return response


def _status(site: ApiSite, person: str) -> object:
    residents = site.unit("30101")["residents"]
    assert isinstance(residents, dict)
    return residents[person]["status"]


def _reason(page: Response) -> str:
    found = re.search(r'data-reason="([a-z]+)"', page.text)
    assert found is not None
    return found.group(1)


def test_the_link_shows_the_home_and_the_form_accepts_it(site: ApiSite) -> None:
    page = _open(site, site.invite_token(ANN))

    assert page.status_code == 200
    assert "Maple Court" in page.text and "<strong>101</strong>" in page.text
    assert CSRF_COOKIE in page.cookies
    assert page.headers["Cache-Control"] == "no-store"
    assert _status(site, "60001") == "invited"  # looking accepts nothing

    welcome = _submit(site, page)

    assert welcome.status_code == 200
    assert "Welcome home" in welcome.text and "Maple Court" in welcome.text
    assert _status(site, "60001") == "active"
    assert _status(site, "60002") == "invited"
    assert site.unit("30101")["devices"] == "to_resident"  # L4


def test_a_used_link_is_refused_and_changes_nothing(site: ApiSite) -> None:
    page = _open(site, site.invite_token(ANN))
    _submit(site, page)
    before = site.state()

    shown = _open(site, site.invite_token(ANN))
    again = _submit(site, page)

    assert (shown.status_code, _reason(shown)) == (410, "used")
    assert (again.status_code, _reason(again)) == (410, "used")
    assert "already been accepted" in again.text
    assert site.state() == before


def test_an_expired_link_is_refused_and_changes_nothing(site: ApiSite) -> None:
    page = _open(site, site.invite_token(ANN))
    site.clock.advance(days=7, minutes=1)  # L3: invites expire after 7 days

    shown = _open(site, site.invite_token(ANN))
    submitted = _submit(site, page)

    assert (shown.status_code, _reason(shown)) == (410, "expired")
    assert (submitted.status_code, _reason(submitted)) == (410, "expired")
    assert _status(site, "60001") == "invited"


def test_a_withdrawn_link_is_refused(site: ApiSite) -> None:
    token = site.invite_token(BEN)
    cancel_invite(site.stack.engine, site.property_id, "30101", BEN, "staff")

    shown = _open(site, token)

    assert (shown.status_code, _reason(shown)) == (410, "withdrawn")
    assert "no longer open" in shown.text


@pytest.mark.parametrize(
    "forge",
    [
        lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        lambda token: "not-a-token",
        lambda token: "",
    ],
)
def test_a_forged_link_is_refused_and_changes_nothing(
    site: ApiSite, forge: object
) -> None:
    assert callable(forge)
    before = site.state()

    shown = _open(site, forge(site.invite_token(ANN)))

    assert (shown.status_code, _reason(shown)) == (400, "invalid")
    assert "not valid" in shown.text
    assert site.state() == before


def test_a_post_without_its_form_token_or_cookie_changes_nothing(
    site: ApiSite,
) -> None:
    page = _open(site, site.invite_token(ANN))
    token, csrf = _field(page.text, "token"), _field(page.text, "csrf")
    other = _open(site, site.invite_token(BEN))  # a second page, a second cookie

    attempts = [
        {"token": token},
        {"token": token, "csrf": "forged"},
        {"token": token, "csrf": _field(other.text, "csrf")},
    ]
    answers = [site.client.post("/invites/accept", data=form) for form in attempts]
    site.client.cookies.clear()
    cookieless = site.client.post(
        "/invites/accept", data={"token": token, "csrf": csrf}
    )

    assert [(a.status_code, _reason(a)) for a in [*answers, cookieless]] == [
        (400, "form")
    ] * 4
    assert _status(site, "60001") == "invited"
    assert _status(site, "60002") == "invited"


def test_names_from_the_pms_are_escaped_on_the_page(site: ApiSite) -> None:
    page = _open(site, site.invite_token(ANN) + '"><script>')

    assert "<script>" not in page.text


def test_a_second_invite_opened_in_another_tab_leaves_the_first_form_working(
    site: ApiSite,
) -> None:
    ann = _open(site, site.invite_token(ANN))
    ben = _open(site, site.invite_token(BEN))

    accepted = [_submit(site, ann), _submit(site, ben)]

    assert [a.status_code for a in accepted] == [200, 200]
    assert (_status(site, "60001"), _status(site, "60002")) == ("active", "active")
