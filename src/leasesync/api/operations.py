"""``/healthz``, ``/readyz`` and ``/metrics``: what operators and their tools ask.

``/healthz`` says the process answers. ``/readyz`` says it can do its work: the
database answers, its schema is at the newest migration, and — with procrastinate —
the job queue's tables exist; otherwise 503 with the reasons. ``/metrics`` is the
Prometheus text of :mod:`leasesync.jobs.metrics`, with the pending-effects gauge read
from the store at scrape time.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from leasesync.api.app import Services, services_of
from leasesync.jobs.metrics import PENDING_EFFECTS
from leasesync.store.properties import count_pending_effects

router = APIRouter(tags=["operations"])

ServicesDep = Annotated[Services, Depends(services_of)]


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive and answering."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
def readyz(services: ServicesDep) -> dict[str, Any] | JSONResponse:
    """Ready when the database answers at the newest schema (503 otherwise)."""
    problems = services.readiness()
    if problems:
        return JSONResponse({"status": "unready", "problems": problems}, 503)
    return {"status": "ready"}


@router.get("/metrics")
def metrics(services: ServicesDep) -> Response:
    """Prometheus metrics of this process, and the store's pending effects."""
    with services.engine.transaction() as session:
        PENDING_EFFECTS.set(count_pending_effects(session))
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
