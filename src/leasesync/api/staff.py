"""The staff REST API under ``/api`` (SPEC §6), behind the installation's token.

Every route needs ``Authorization: Bearer <token>`` (:mod:`leasesync.api.auth`);
device and access gateways report completions with the same token. Routes call the
engine's functions, which open their own units of work; unknown properties and units
become 404 through :mod:`leasesync.api.errors`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Path
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from leasesync.api.app import Services, services_of
from leasesync.api.auth import token_matches
from leasesync.api.errors import ApiError
from leasesync.domain.ports import CommandOutcome, ConfigurationReport
from leasesync.engine import completions
from leasesync.engine.states import property_state
from leasesync.store import models as m

_bearer = HTTPBearer(auto_error=False, description="The staff API token.")
ServicesDep = Annotated[Services, Depends(services_of)]
PropertyId = Annotated[int, Path(ge=1, description="leasesync's property id")]


def require_staff(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    given = credentials.credentials if credentials is not None else None
    if not token_matches(given, services.staff_token):
        raise HTTPException(
            401,
            "a valid bearer token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )


router = APIRouter(prefix="/api", tags=["staff"], dependencies=[Depends(require_staff)])


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeviceReportIn(_Body):
    """A device gateway's answer to one reconfiguration request."""

    key: str = Field(min_length=1, max_length=120, description="the idempotency key")
    outcome: Literal["completed", "failed"]
    at: AwareDatetime
    detail: str = Field(default="", max_length=1000)


class DeviceReportOut(_Body):
    applied: bool = Field(description="false for a repeat or an unknown key")


class InstalledIn(_Body):
    actor: str = Field(default="api", min_length=1, max_length=200)


class StaffActionOut(_Body):
    property_id: int
    unit_id: str
    actions: int


class SyncQueuedOut(_Body):
    property_id: int
    queued: bool = Field(description="false when a sync was already waiting")


@router.get("/properties/{property_id}/state")
def get_state(property_id: PropertyId, services: ServicesDep) -> dict[str, Any]:
    """The property's STATE (FORMAT.md), at the property's local time."""
    engine = services.engine
    with engine.transaction() as session:
        prop = session.get(m.Property, property_id)
        if prop is None:
            raise _unknown_property(property_id)
        at = engine.clock.now().astimezone(ZoneInfo(prop.timezone))
        return property_state(session, property_id, at)


@router.post("/properties/{property_id}/sync", status_code=202)
def post_sync(property_id: PropertyId, services: ServicesDep) -> SyncQueuedOut:
    """Sync the property now (L15); the sync runs in the background."""
    with services.engine.transaction() as session:
        if session.get(m.Property, property_id) is None:
            raise _unknown_property(property_id)
    queued = services.request_sync(property_id)
    return SyncQueuedOut(property_id=property_id, queued=queued)


@router.post("/properties/{property_id}/units/{unit_id}/installed")
def post_installed(
    property_id: PropertyId,
    unit_id: Annotated[str, Path(min_length=1, max_length=64)],
    services: ServicesDep,
    body: InstalledIn | None = None,
) -> StaffActionOut:
    """L5: the unit's installation is complete; held invites go out."""
    actor = (body or InstalledIn()).actor
    actions = completions.mark_installed(services.engine, property_id, unit_id, actor)
    return StaffActionOut(property_id=property_id, unit_id=unit_id, actions=actions)


@router.post("/device-reports")
def post_device_report(body: DeviceReportIn, services: ServicesDep) -> DeviceReportOut:
    """A device gateway reports that a reconfiguration completed or failed (L8)."""
    report = ConfigurationReport(
        idempotency_key=body.key,
        outcome=CommandOutcome(body.outcome),
        at=body.at,
        detail=body.detail,
    )
    return DeviceReportOut(applied=completions.device_reported(services.engine, report))


def _unknown_property(property_id: int) -> ApiError:
    return ApiError(
        404,
        "not_found",
        f"no property {property_id}",
        "list the properties with `leasesync property list`",
    )
