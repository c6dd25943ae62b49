"""RealPage OneSite, read through RPX, as a :class:`~leasesync.domain.ports.PmsConnector`.

A fetch asks four whole-site questions — units, residents, resident details,
leases — and only when all four have been answered completely does it build
the snapshot (SPEC L12): any failure raises before :func:`.mapping.build_snapshot`
runs, so a partial fetch can never be mistaken for "these people left". An
answer that is well formed but empty is an answer; judging whether it is
plausible is the sync guard's job, not ours.

:func:`snapshot_from_envelopes` is the same pipeline from four response bodies,
for tests and the parsing benchmark.
"""

from __future__ import annotations

import logging
from types import TracebackType

import httpx
from lxml import etree
from pydantic import SecretStr

from leasesync.connectors.realpage import parsing
from leasesync.connectors.realpage.client import (
    LEASE_INFO,
    RESIDENT_LIST,
    RESIDENT_LIST_INFO,
    UNIT_LIST,
    RpxClient,
    RpxCredentials,
)
from leasesync.connectors.realpage.mapping import build_snapshot
from leasesync.domain.snapshots import PropertySnapshot

logger = logging.getLogger(__name__)


class RealPageConnector:
    """Reads one RealPage site (``pmcid``/``siteid``) from one RPX partner endpoint."""

    def __init__(
        self,
        *,
        url: str,
        pmcid: str,
        siteid: str,
        license_key: str,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 60.0,
        retry_attempts: int = 3,
        retry_wait: float = 1.0,
        http_client: httpx.Client | None = None,
    ) -> None:
        credentials = RpxCredentials(
            pmcid=pmcid,
            siteid=siteid,
            license_key=SecretStr(license_key),
            username=username,
            password=SecretStr(password) if password is not None else None,
        )
        self._siteid = siteid
        self._client = RpxClient(
            url=url,
            credentials=credentials,
            timeout=timeout,
            retry_attempts=retry_attempts,
            retry_wait=retry_wait,
            http_client=http_client,
        )

    def __repr__(self) -> str:
        return f"RealPageConnector(siteid={self._siteid!r})"

    def check_credentials(self) -> None:
        """One ``unitlist`` call: the cheapest question every subscribed site answers."""
        self._client.call(UNIT_LIST)

    def fetch_snapshot(self) -> PropertySnapshot:
        """Ask all four questions, then map; raises before mapping if any fails."""
        units = self._client.call(UNIT_LIST)
        residents = self._client.call(RESIDENT_LIST)
        infos = self._client.call(RESIDENT_LIST_INFO)
        leases = self._client.call(LEASE_INFO)

        snapshot = snapshot_from_payloads(units, residents, infos, leases)
        logger.debug(
            "RealPage site %s: %d units, %d memberships, %d terms, %d quarantined",
            self._siteid,
            len(snapshot.units),
            len(snapshot.memberships),
            len(snapshot.lease_terms),
            len(snapshot.quarantined),
        )
        return snapshot

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> RealPageConnector:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def snapshot_from_payloads(
    units: etree._Element,
    residents: etree._Element,
    infos: etree._Element,
    leases: etree._Element,
) -> PropertySnapshot:
    """Map four result documents (as :meth:`RpxClient.call` returns them)."""
    return build_snapshot(
        units=parsing.unit_rows(units),
        residents=parsing.resident_rows(residents),
        resident_infos=parsing.resident_rows(infos),
        leases=parsing.lease_rows(leases),
    )


def snapshot_from_envelopes(
    *, unitlist: bytes, residentlist: bytes, residentlistinfo: bytes, leaseinfo: bytes
) -> PropertySnapshot:
    """Map four raw SOAP response bodies; raises the wire exceptions of :mod:`.parsing`."""
    return snapshot_from_payloads(
        parsing.read_result(unitlist, UNIT_LIST.operation),
        parsing.read_result(residentlist, RESIDENT_LIST.operation),
        parsing.read_result(residentlistinfo, RESIDENT_LIST_INFO.operation),
        parsing.read_result(leaseinfo, LEASE_INFO.operation),
    )
