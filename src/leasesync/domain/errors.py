"""Errors grouped by what to do about them (STYLE.md habit 9).

Every error leasesync raises on purpose derives from :class:`LeasesyncError`. Callers
decide by the branch, not by the message: retry later, ask a human, skip the record,
or stop because an invariant broke.
"""

from __future__ import annotations


class LeasesyncError(Exception):
    """The root of every error leasesync raises deliberately."""


class RetryLaterError(LeasesyncError):
    """A temporary failure: the same call may succeed later.

    ``delay_seconds`` is a hint from the other side (a Retry-After header), if any.
    """

    def __init__(self, message: str, *, delay_seconds: float | None = None) -> None:
        super().__init__(message)
        self.delay_seconds = delay_seconds


class NeedsHumanError(LeasesyncError):
    """A failure no retry will fix: credentials, subscription, configuration."""


class SkipRecordError(LeasesyncError):
    """One vendor record is unusable; the rest of the data carries on without it."""


class IntegrityError(LeasesyncError):
    """An invariant of leasesync's own data does not hold; stop and report."""
