"""The staff API: token auth, the STATE endpoint, staff actions and device reports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_site import ApiSite, api_site

from leasesync.engine.completions import accept_invite


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiSite]:
    with api_site(tmp_path, monkeypatch) as found:
        yield found


@pytest.fixture(scope="module")
def unchanged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiSite]:
    """One site for the tests that must change nothing (nor may they)."""
    with (
        pytest.MonkeyPatch.context() as monkeypatch,
        api_site(tmp_path_factory.mktemp("api"), monkeypatch) as found,
    ):
        yield found


ROUTES = [
    ("get", "/api/properties/1/state"),
    ("post", "/api/properties/1/sync"),
    ("post", "/api/properties/1/units/30101/installed"),
    ("post", "/api/device-reports"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("header", [None, "Bearer not-the-token", "Basic abc"])
def test_every_staff_route_refuses_a_caller_without_the_token(
    unchanged: ApiSite, method: str, path: str, header: str | None
) -> None:
    headers = {} if header is None else {"Authorization": header}

    response = unchanged.client.request(method, path, headers=headers)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "unauthorized"


def test_state_is_formats_state_at_the_propertys_local_time(
    unchanged: ApiSite,
) -> None:
    response = unchanged.client.get("/api/properties/1/state", headers=unchanged.auth)

    assert response.status_code == 200
    state = response.json()
    # 15:00 UTC on 2 March 2026 is 09:00 in Chicago (CST).
    assert state["at"] == "2026-03-02T09:00:00-06:00"
    assert state["property"] == {"linked": True, "sync": "ok", "name": "Maple Court"}
    assert sorted(state["units"]) == [
        "30101",
        "30102",
        "30103",
        "30201",
        "30202",
        "30203",
    ]
    # L5: nothing is installed yet, so Ann's and Ben's invites are held.
    assert state["units"]["30101"] == {
        "number": "101",
        "installation": "pending",
        "state": "occupied",
        "devices": "vacant",
        "missing": False,
        "paused": False,
        "residents": {
            "60001": {
                "name": "Ann Avery",
                "email": "ann.avery@example.com",
                "status": "invite_held",
                "access": [],
            },
            "60002": {
                "name": "Ben Avery",
                "email": "ben.avery@example.com",
                "status": "invite_held",
                "access": [],
            },
        },
    }
    # L3: a minor is associated but never invited; 2031's household is not current.
    assert state["units"]["30201"]["residents"]["60005"]["status"] == "uninvitable"
    assert state["units"]["30203"]["residents"] == {}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/properties/7/state"),
        ("post", "/api/properties/7/sync"),
        ("post", "/api/properties/7/units/30101/installed"),
        ("post", "/api/properties/1/units/99999/installed"),
    ],
)
def test_unknown_properties_and_units_are_404(
    unchanged: ApiSite, method: str, path: str
) -> None:
    response = unchanged.client.request(method, path, headers=unchanged.auth)

    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "not_found"
    assert error["hint"]


def test_a_sync_is_queued_once_and_runs_in_the_background(site: ApiSite) -> None:
    first = site.client.post("/api/properties/1/sync", headers=site.auth)
    second = site.client.post("/api/properties/1/sync", headers=site.auth)

    assert (first.status_code, first.json()) == (
        202,
        {"property_id": 1, "queued": True},
    )
    assert second.json()["queued"] is False
    assert site.worker.run_once() >= 1


def test_marking_a_unit_installed_releases_its_held_invites(site: ApiSite) -> None:
    response = site.client.post(
        "/api/properties/1/units/30101/installed",
        headers=site.auth,
        json={"actor": "Ivy Installer"},
    )

    assert response.status_code == 200
    assert response.json()["actions"] > 0
    unit = site.unit("30101")
    assert unit["installation"] == "complete"
    residents = unit["residents"]
    assert isinstance(residents, dict)
    assert {r["status"] for r in residents.values()} == {"invited"}


def _pending_resident_command(site: ApiSite) -> str:
    site.client.post("/api/properties/1/units/30101/installed", headers=site.auth)
    site.worker.run_once()
    accept_invite(site.stack.engine, site.invite_token("ann.avery@example.com"))
    site.worker.run_once()
    [request] = site.devices.requests
    return request.idempotency_key


def test_a_device_report_completes_the_reconfiguration_once(site: ApiSite) -> None:
    key = _pending_resident_command(site)
    report = {"key": key, "outcome": "completed", "at": "2026-03-02T15:05:00Z"}
    assert site.unit("30101")["devices"] == "to_resident"

    first = site.client.post("/api/device-reports", headers=site.auth, json=report)
    again = site.client.post("/api/device-reports", headers=site.auth, json=report)

    assert (first.status_code, first.json()) == (200, {"applied": True})
    assert (again.status_code, again.json()) == (200, {"applied": False})
    assert site.unit("30101")["devices"] == "resident"


@pytest.fixture(scope="module")
def waiting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ApiSite, str]]:
    """A site whose unit 30101 waits for its resident configuration's report."""
    with (
        pytest.MonkeyPatch.context() as monkeypatch,
        api_site(tmp_path_factory.mktemp("api"), monkeypatch) as found,
    ):
        yield found, _pending_resident_command(found)


GOOD = {"key": "k", "outcome": "completed", "at": "2026-03-02T15:05:00Z"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({k: v for k, v in GOOD.items() if k != "key"}, "body.key"),
        ({**GOOD, "key": ""}, "body.key"),
        ({**GOOD, "outcome": "exploded"}, "body.outcome"),
        ({**GOOD, "at": "2026-03-02T15:05:00"}, "body.at"),  # no time zone
        ({**GOOD, "at": "yesterday"}, "body.at"),
        ({**GOOD, "colour": "blue"}, "body.colour"),
    ],
)
def test_a_malformed_device_report_is_422_and_changes_nothing(
    waiting: tuple[ApiSite, str], body: dict[str, Any], field: str
) -> None:
    site, key = waiting
    if body.get("key") == "k":
        body = {**body, "key": key}

    response = site.client.post("/api/device-reports", headers=site.auth, json=body)

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert field in [f["field"] for f in error["fields"]]
    assert site.unit("30101")["devices"] == "to_resident"


def test_a_caller_without_the_token_learns_nothing_from_a_malformed_body(
    unchanged: ApiSite,
) -> None:
    response = unchanged.client.post(
        "/api/device-reports",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
