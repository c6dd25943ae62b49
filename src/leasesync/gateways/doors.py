"""Door gateways: grant and revoke one person's access to one door (SPEC L4, L6, L7).

:class:`SimulatedDoorGateway` is the embedded stack's access-control system, in
memory, with two faults a test can switch on: a run of temporary failures, and a
person whose revokes are acknowledged but never take — the case the read-back in
:func:`verify_revoked` exists to catch (issue #6: after a revoke, read the door's list
back and alert if the person is still there).

:class:`HttpDoorGateway` speaks a small REST dialect of access-control systems::

    PUT    /doors/{door}/holders/{person}   grant   (Idempotency-Key header)
    DELETE /doors/{door}/holders/{person}   revoke  (Idempotency-Key header)
    GET    /doors/{door}/holders            {"holders": ["<person>", …]}

Door and person ids contain ``/`` and ``:``, so each is one percent-encoded path
segment. All responses are mapped in :func:`_check`: 429, 408 and 5xx and transport
failures are worth retrying (honouring ``Retry-After``), 401 and 403 need new
credentials, any other refusal needs a human too. Revoking someone who no longer
holds the door (404) is success: the call is idempotent.
"""

from __future__ import annotations

import email.utils
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import quote

import httpx

from leasesync.domain.errors import LeasesyncError, NeedsHumanError, RetryLaterError
from leasesync.domain.ports import DoorGateway
from leasesync.gateways.credentials import Secret, reveal

logger = logging.getLogger(__name__)

DoorOperation = Literal["grant", "revoke"]


def verify_revoked(gateway: DoorGateway, door: str, person: str) -> bool:
    """Whether ``person`` is really gone from ``door``, read back from the system.

    Raises what :meth:`~leasesync.domain.ports.DoorGateway.holders` raises; a retry
    of a revoke that did not take needs a fresh idempotency key, since the system
    already acknowledged the first.
    """
    return person not in gateway.holders(door)


@dataclass(frozen=True, kw_only=True, slots=True)
class DoorCall:
    """One grant or revoke the simulated system carried out (repeats are not)."""

    operation: DoorOperation
    idempotency_key: str
    door: str
    person: str


class SimulatedDoorGateway:
    """An in-memory access-control system; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders: dict[str, set[str]] = {}
        self._seen: set[str] = set()
        self._calls: list[DoorCall] = []
        self._failures_left = 0
        self._stubborn: set[str] = set()

    @property
    def calls(self) -> list[DoorCall]:
        """Every grant and revoke carried out, in order."""
        with self._lock:
            return list(self._calls)

    def fail_next(self, count: int) -> None:
        """Make the next ``count`` grants or revokes raise :class:`RetryLaterError`."""
        with self._lock:
            self._failures_left = count

    def ignore_revokes_for(self, person: str) -> None:
        """Acknowledge ``person``'s revokes from now on, but keep them as a holder."""
        with self._lock:
            self._stubborn.add(person)

    def heed_revokes_for(self, person: str) -> None:
        """Undo :meth:`ignore_revokes_for`."""
        with self._lock:
            self._stubborn.discard(person)

    def grant(self, *, idempotency_key: str, door: str, person: str) -> None:
        call = DoorCall(
            operation="grant", idempotency_key=idempotency_key, door=door, person=person
        )
        with self._lock:
            if self._accept(call):
                self._holders.setdefault(door, set()).add(person)

    def revoke(self, *, idempotency_key: str, door: str, person: str) -> None:
        call = DoorCall(
            operation="revoke",
            idempotency_key=idempotency_key,
            door=door,
            person=person,
        )
        with self._lock:
            if self._accept(call) and person not in self._stubborn:
                self._holders.get(door, set()).discard(person)

    def holders(self, door: str) -> frozenset[str]:
        with self._lock:
            return frozenset(self._holders.get(door, ()))

    def _accept(self, call: DoorCall) -> bool:
        """Record the call; False for a repeated key. Runs under the lock."""
        if self._failures_left > 0:
            self._failures_left -= 1
            raise RetryLaterError(
                f"simulated access system unavailable ({call.operation})"
            )
        if call.idempotency_key in self._seen:
            return False
        self._seen.add(call.idempotency_key)
        self._calls.append(call)
        return True


class HttpDoorGateway:
    """A :class:`~leasesync.domain.ports.DoorGateway` for a REST access-control system.

    ``client`` is for tests and shared connection pools; without one the gateway
    makes its own, with ``timeout``. The token goes in ``Authorization: Bearer``.
    """

    def __init__(
        self,
        base_url: str,
        token: Secret,
        client: httpx.Client | None = None,
        *,
        timeout: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._client = client or httpx.Client(timeout=timeout)

    def __repr__(self) -> str:
        return f"HttpDoorGateway({self.base_url!r})"

    def close(self) -> None:
        self._client.close()

    def grant(self, *, idempotency_key: str, door: str, person: str) -> None:
        self._send("PUT", _holder_path(door, person), idempotency_key)

    def revoke(self, *, idempotency_key: str, door: str, person: str) -> None:
        self._send(
            "DELETE", _holder_path(door, person), idempotency_key, absent_ok=True
        )

    def holders(self, door: str) -> frozenset[str]:
        """The door's holders as the system lists them."""
        response = self._send("GET", f"/doors/{_segment(door)}/holders")
        try:
            listed = response.json()["holders"]
        except (ValueError, KeyError, TypeError) as error:
            raise RetryLaterError(
                "the access system's holder list is unreadable"
            ) from error
        if not isinstance(listed, list) or not all(isinstance(p, str) for p in listed):
            raise RetryLaterError("the access system's holder list is unreadable")
        return frozenset(listed)

    def _send(
        self, method: str, path: str, key: str | None = None, *, absent_ok: bool = False
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {reveal(self._token)}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        try:
            response = self._client.request(
                method, self.base_url + path, headers=headers
            )
        except httpx.HTTPError as error:
            raise RetryLaterError(
                f"access system {self.base_url} unreachable"
            ) from error

        if absent_ok and response.status_code == httpx.codes.NOT_FOUND:
            return response
        _check(response)
        return response


def _check(response: httpx.Response) -> None:
    """The one place HTTP answers become leasesync errors."""
    if not response.is_success:
        raise _error_for(response)


def _error_for(response: httpx.Response) -> LeasesyncError:
    status = response.status_code
    where = f"access system answered {status} to {response.request.method}"
    if status in (408, 429) or status >= 500:
        delay = _retry_after(response.headers.get("Retry-After"))
        return RetryLaterError(f"{where}; try later", delay_seconds=delay)
    if status in (401, 403):
        return NeedsHumanError(f"{where}: the access system token is refused")
    # A redirect or another 4xx: the base URL or our dialect is wrong; retries
    # would only repeat it.
    return NeedsHumanError(f"{where}: the request was not accepted")


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header: a number, or an HTTP date."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _holder_path(door: str, person: str) -> str:
    return f"/doors/{_segment(door)}/holders/{_segment(person)}"


def _segment(identifier: str) -> str:
    return quote(identifier, safe="")
