"""``/healthz``, ``/readyz`` and ``/metrics``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_site import ApiSite, api_site
from prometheus_client.parser import text_string_to_metric_families

from leasesync.store import db


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiSite]:
    with api_site(tmp_path, monkeypatch) as found:
        yield found


def _samples(site: ApiSite) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = site.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def test_health_needs_nothing_and_readiness_needs_a_migrated_database(
    site: ApiSite,
) -> None:
    assert site.client.get("/healthz").json() == {"status": "ok"}
    assert site.client.get("/readyz").json() == {"status": "ready"}

    site.stack.database.dispose()
    db.downgrade(site.settings.database_url, "base")
    unready = site.client.get("/readyz")

    assert site.client.get("/healthz").status_code == 200
    assert unready.status_code == 503
    assert unready.json()["status"] == "unready"
    assert any("leasesync db upgrade" in p for p in unready.json()["problems"])


def test_metrics_count_syncs_and_the_pending_effects(site: ApiSite) -> None:
    before = _samples(site)
    unchanged = ("leasesync_syncs_total", (("outcome", "unchanged"),))

    site.client.post("/api/properties/1/sync", headers=site.auth)
    site.worker.run_once()
    # L5: marking 101 installed decides Ann's and Ben's invites, not yet delivered.
    site.client.post("/api/properties/1/units/30101/installed", headers=site.auth)
    after = _samples(site)

    assert after[unchanged] - before.get(unchanged, 0.0) == 1
    assert after[("leasesync_pending_effects", ())] == 2
    site.worker.run_once()
    assert _samples(site)[("leasesync_pending_effects", ())] == 0
    assert (
        "leasesync_job_duration_seconds_count",
        (("task", "sync_property"),),
    ) in after
