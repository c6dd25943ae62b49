"""Per-property settings that shape the lifecycle rules (SPEC L3, L10, L12).

These are values of the domain, stored with each property; application configuration
(database URL, SMTP, …) lives in :mod:`leasesync.config`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True, kw_only=True, slots=True)
class PropertySettings:
    """How one property wants its lifecycle run.

    ``common_areas`` is ordered: access lists show them in this order (FORMAT.md).
    """

    timezone: str
    common_areas: tuple[str, ...] = ()
    poll_minutes: int = 15
    early_access_hours: int = 0
    move_out_time: time = field(default=time(23, 59))
    removal_threshold_percent: float = 20.0
    removal_threshold_people: int = 3
    invite_expiry_days: int = 7
    reconfiguration_timeout_minutes: int = 30

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def invite_lifetime(self) -> timedelta:
        return timedelta(days=self.invite_expiry_days)

    @property
    def doors(self) -> tuple[str, ...]:
        """What a resident of this property can open: ``unit`` first (FORMAT.md)."""
        return ("unit", *(f"common:{area}" for area in self.common_areas))
