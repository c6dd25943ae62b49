"""A RealPage RPX gateway on loopback: real SOAP over HTTP, from scenario state.

:class:`RealPageSimulator` is an ASGI application that answers the four RPX
operations leasesync reads (``unitlist``, ``getresidentlist``,
``getresidentlistinfo``, ``getleaseinfo``) with documents built by
:mod:`.realpage_documents` from the rows a scenario sets. It checks the
credentials in the ``<auth>`` block like the gateway does and answers a wrong
licence key, PMC or site with the SOAP fault RPX gives (HTTP 500, an
``RPXApplicationFault`` detail).

It can misbehave on request — the faults of a ``pms_fault`` scenario step —
so the connector's failure handling is exercised over a real socket:

==============  ================================================================
``soap_fault``  HTTP 200 carrying a SOAP fault (a transient RPX error)
``http_500``    HTTP 500 with an HTML error page, as a load balancer gives
``http_429``    HTTP 429 with ``Retry-After: 1``
``timeout``     answers normally, but only after ``timeout_seconds`` and more
``empty_list``  HTTP 200, well formed, no rows
``truncated``   HTTP 200, the body cut off halfway through the document
==============  ================================================================

Each injected fault is used by exactly one request, in order. State changes
and faults are thread-safe: tests drive the simulator from their own thread
while uvicorn serves it from another (:func:`.serving.serve_in_thread`).
:func:`run_simulator` serves the last PMS state of a scenario file until
interrupted.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
import yaml
from lxml import etree
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from leasesync.simulators import realpage_documents as documents

logger = logging.getLogger(__name__)

#: The licence key the scenario harness configures for the simulated site.
SCENARIO_LICENSE_KEY = "00000000-5ce7-4a10-8000-00000000c0de"

FAULT_KINDS = frozenset(
    {"soap_fault", "http_500", "http_429", "timeout", "empty_list", "truncated"}
)

_XML = "text/xml; charset=utf-8"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True)


@dataclass(frozen=True, kw_only=True, slots=True)
class RpxCall:
    """What a request asked: the operation and its ``<auth>`` fields (lower-case)."""

    operation: str
    auth: Mapping[str, str]


def parse_request(body: bytes, soap_action: str | None = None) -> RpxCall:
    """Read an RPX request; ``SOAPAction`` wins over the body's operation element.

    Raises ``ValueError`` when the body is not a SOAP envelope with an operation.
    """
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise ValueError("request is not XML") from exc
    soap_body = next((c for c in root if _local(c.tag) == "body"), None)
    if soap_body is None or not len(soap_body):
        raise ValueError("request has no operation")

    operation = soap_body[0]
    auth = next((c for c in operation if _local(c.tag) == "auth"), None)
    fields = (
        {} if auth is None else {_local(f.tag): (f.text or "").strip() for f in auth}
    )
    action = (soap_action or "").strip().strip('"').rpartition("/")[2]
    return RpxCall(operation=(action or _local(operation.tag)).lower(), auth=fields)


class RealPageSimulator:
    """An RPX partner endpoint serving one site's units and residents."""

    def __init__(
        self,
        *,
        pmcid: str,
        siteid: str,
        license_key: str,
        units: Sequence[Mapping[str, Any]],
        residents: Sequence[Mapping[str, Any]],
        timeout_seconds: float = 2.0,
    ) -> None:
        self._pmcid, self._siteid = str(pmcid), str(siteid)
        self._license_key = license_key
        self._timeout_seconds = timeout_seconds
        self._lock = threading.Lock()
        self._units = documents.normalized_rows(units, lower=False)
        self._residents = documents.normalized_rows(residents, lower=True)
        self._faults: deque[str] = deque()
        self._delay = 0.0
        self._requests = 0
        self._app = Starlette(
            routes=[Route("/{path:path}", self._handle, methods=["POST"])]
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)

    @property
    def request_count(self) -> int:
        """Requests received so far, whatever was answered."""
        with self._lock:
            return self._requests

    def set_state(
        self,
        *,
        units: Sequence[Mapping[str, Any]] | None = None,
        residents: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        """Serve these rows from the next request on; ``None`` keeps a list as is."""
        with self._lock:
            if units is not None:
                self._units = documents.normalized_rows(units, lower=False)
            if residents is not None:
                self._residents = documents.normalized_rows(residents, lower=True)

    def inject_fault(self, kind: str, calls: int = 1) -> None:
        """Make the next ``calls`` requests fail with ``kind`` (see the module table)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}")
        with self._lock:
            self._faults.extend([kind] * calls)

    def set_delay(self, seconds: float) -> None:
        """Wait this long before every answer (0 for none)."""
        with self._lock:
            self._delay = max(0.0, seconds)

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        fault, units, residents = self._take_turn()

        # NB: an outage strikes before the gateway looks at who is asking.
        await self._stall(fault)
        early = _fault_response(fault)
        if early is not None:
            return early

        try:
            call = parse_request(body, request.headers.get("SOAPAction"))
        except ValueError:
            return Response("Bad Request", status_code=400, media_type="text/plain")
        refusal = self._refusal(call)
        if refusal is not None:
            return refusal
        return await self._answer(call.operation, units, residents, fault)

    def _take_turn(
        self,
    ) -> tuple[str | None, list[dict[str, Any]], list[dict[str, Any]]]:
        """Count this request; take its fault, if one is queued, and the state to serve."""
        with self._lock:
            self._requests += 1
            fault = self._faults.popleft() if self._faults else None
            return fault, self._units, self._residents

    async def _stall(self, fault: str | None) -> None:
        with self._lock:
            delay = self._delay
        if fault == "timeout":
            delay += self._timeout_seconds * 1.5 + 0.5
        if delay:
            await asyncio.sleep(delay)

    def _refusal(self, call: RpxCall) -> Response | None:
        """The fault RPX gives for bad credentials or an operation it lacks, if any."""
        if call.auth.get("licensekey") != self._license_key:
            return _fault(
                500, "a:InvalidLicense", "The license key provided is invalid."
            )
        site = (call.auth.get("pmcid"), call.auth.get("siteid"))
        if site != (self._pmcid, self._siteid):
            return _fault(
                500,
                "a:SiteNotSubscribed",
                "The site is not subscribed for this license.",
            )
        if call.operation not in documents.OPERATIONS:
            reason = f"The action {call.operation!r} is not supported."
            return _fault(500, "a:ActionNotSupported", reason)
        return None

    async def _answer(
        self,
        operation: str,
        units: list[dict[str, Any]],
        residents: list[dict[str, Any]],
        fault: str | None,
    ) -> Response:
        if fault == "empty_list":
            units, residents = [], []
        document = await run_in_threadpool(
            documents.build_response, operation, units, residents, self._siteid
        )
        if fault == "truncated":
            document = document[: len(document) // 2]
        return Response(document, status_code=200, media_type=_XML)


def _fault_response(fault: str | None) -> Response | None:
    """The answer of a fault that fails before credentials are even looked at."""
    if fault == "soap_fault":
        reason = "An unexpected error occurred while processing the request."
        return _fault(200, "s:Server", reason)
    if fault == "http_500":
        page = "<html><body><h1>500 - Internal server error.</h1></body></html>"
        return Response(page, status_code=500, media_type="text/html")
    if fault == "http_429":
        return Response("Too Many Requests", 429, headers={"Retry-After": "1"})
    return None


def _fault(status: int, code: str, message: str) -> Response:
    body = documents.fault_envelope(
        code=code, reason=message, custom_message=message, log_id=str(uuid.uuid4())
    )
    return Response(body, status_code=status, media_type=_XML)


def _local(tag: Any) -> str:
    return tag.rpartition("}")[2].lower() if isinstance(tag, str) else ""


def scenario_state(
    scenario: Mapping[str, Any],
) -> tuple[dict[str, str], list[Any], list[Any]]:
    """(site ids, units, residents) a scenario's last ``pms`` step leaves in place.

    Later ``pms`` steps replace the lists they give; ``units`` start as the
    property's. No validation: the scenario harness owns the format.
    """
    prop = scenario["property"]
    units: list[Any] = list(prop.get("units") or [])
    residents: list[Any] = []
    for step in scenario.get("steps") or []:
        pms = step.get("pms")
        if pms is not None:
            residents = list(pms.get("residents") or [])
            units = list(pms["units"]) if pms.get("units") is not None else units
    site = {"pmcid": str(prop["pmcid"]), "siteid": str(prop["siteid"])}
    return site, units, residents


def run_simulator(scenario_path: Path, port: int) -> None:
    """Serve the last PMS state of a scenario on ``127.0.0.1:port`` until stopped.

    Clients use :data:`SCENARIO_LICENSE_KEY` and the scenario's pmcid/siteid.
    """
    scenario = yaml.safe_load(scenario_path.read_text(encoding="utf-8"))
    site, units, residents = scenario_state(scenario)
    simulator = RealPageSimulator(
        pmcid=site["pmcid"],
        siteid=site["siteid"],
        license_key=SCENARIO_LICENSE_KEY,
        units=units,
        residents=residents,
    )
    logger.info(
        "RealPage simulator for site %s on http://127.0.0.1:%d/",
        site["siteid"],
        port,
        extra={"event": "simulator_started", "siteid": site["siteid"], "port": port},
    )
    config = uvicorn.Config(simulator, host="127.0.0.1", port=port, lifespan="off")
    uvicorn.Server(config).run()
