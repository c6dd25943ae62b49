"""The portfolio's PMS: one RealPage simulator per property, in a process of its own.

The benchmark measures leasesync, not the simulator, so the simulators run in a
child process (their memory and CPU are not the measured process's) behind one
loopback HTTP server that routes ``/site/<siteid>`` to that property's
:class:`~leasesync.simulators.realpage.RealPageSimulator`. Each simulator answers
as in the scenario harness — credentials checked, the four RPX operations built
from rows — and a successful answer is kept by the request's exact bytes until
that property's state changes. The first request of each operation pays for
building the document; the benchmark makes it before timing (it needs those bytes
for its floors anyway), so a timed sync waits only for the wire, as it would on a
gateway that serves a ready answer.

A ``POST /_bench/state`` with a JSON body switches properties to a later state
(:func:`.portfolio.change_households`, :func:`.portfolio.turn_over`); the child
derives the rows from the seed itself, so nothing large crosses the process border.
"""

from __future__ import annotations

import json
import multiprocessing
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from multiprocessing.connection import Connection
from typing import Any

import httpx
from pydantic import SecretStr
from starlette.types import Message, Receive, Scope, Send

from leasesync.connectors.realpage.client import (
    CONTENT_TYPE,
    LEASE_INFO,
    RESIDENT_LIST,
    RESIDENT_LIST_INFO,
    SOAP_ACTION_PREFIX,
    UNIT_LIST,
    RpxCredentials,
    build_envelope,
)
from leasesync.simulators.realpage import RealPageSimulator
from leasesync.simulators.serving import serve_in_thread
from portfolio import LICENSE_KEY, PMCID, Site, generate_site, later_site

_SITE_PREFIX = "/site/"
_CONTROL_PATH = "/_bench/state"
OPERATIONS = (UNIT_LIST, RESIDENT_LIST, RESIDENT_LIST_INFO, LEASE_INFO)


@dataclass(frozen=True, kw_only=True, slots=True)
class PortfolioSpec:
    """What both processes need to rebuild the same portfolio."""

    seed: int
    properties: int
    units: int
    today: date


@dataclass(kw_only=True, slots=True)
class _Captured:
    status: int = 0
    headers: list[tuple[bytes, bytes]] | None = None
    body: bytes = b""


class PortfolioPms:
    """An ASGI app: every property's simulator, a response cache, a state switch."""

    def __init__(self, spec: PortfolioSpec) -> None:
        self._spec = spec
        self._lock = threading.Lock()
        self._sites: dict[str, RealPageSimulator] = {}
        self._cache: dict[tuple[str, bytes], _Captured] = {}
        self._rows: dict[str, list[dict[str, Any]]] = {}
        for index in range(spec.properties):
            site = generate_site(spec.seed, index, spec.units, spec.today)
            self._sites[site.siteid] = _simulator(site)
            self._rows[site.siteid] = site.residents

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        body = await _read_body(receive)
        if path == _CONTROL_PATH:
            await self._switch(json.loads(body or b"{}"), send)
            return
        siteid = path.removeprefix(_SITE_PREFIX).strip("/")
        simulator = self._sites.get(siteid)
        if not path.startswith(_SITE_PREFIX) or simulator is None:
            await _reply(send, _Captured(status=404, body=b"no such site"))
            return
        await _reply(send, await self._answer(siteid, simulator, scope, body))

    async def _answer(
        self, siteid: str, simulator: RealPageSimulator, scope: Scope, body: bytes
    ) -> _Captured:
        with self._lock:
            cached = self._cache.get((siteid, body))
        if cached is not None:
            return cached
        captured = await _call(simulator, {**scope, "path": "/"}, body)
        if captured.status == 200:
            with self._lock:
                self._cache[(siteid, body)] = captured
        return captured

    async def _switch(self, command: dict[str, Any], send: Send) -> None:
        spec = self._spec
        for index in range(spec.properties):
            site = generate_site(spec.seed, index, spec.units, spec.today)
            later = _later_state(site, command, spec)
            if later.residents == self._rows[site.siteid]:
                continue
            self._rows[site.siteid] = later.residents
            self._sites[site.siteid].set_state(residents=later.residents)
            with self._lock:
                self._cache = {
                    k: v for k, v in self._cache.items() if k[0] != site.siteid
                }
        await _reply(send, _Captured(status=204))


def _later_state(site: Site, command: dict[str, Any], spec: PortfolioSpec) -> Site:
    """The state ``command`` asks of ``site``: see :func:`.portfolio.later_site`."""
    units = command.get("turnovers", {}).get(site.siteid, [])
    return later_site(
        site,
        fraction=float(command.get("fraction", 0.0)),
        turnovers=list(units),
        seed=spec.seed,
        today=spec.today,
    )


def _simulator(site: Site) -> RealPageSimulator:
    return RealPageSimulator(
        pmcid=site.pmcid,
        siteid=site.siteid,
        license_key=LICENSE_KEY,
        units=site.units,
        residents=site.residents,
        timeout_seconds=60.0,
    )


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _call(app: RealPageSimulator, scope: Scope, body: bytes) -> _Captured:
    """Run one request through ``app`` and keep its whole answer."""
    captured = _Captured()
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            captured.status = int(message["status"])
            captured.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            captured.body += message.get("body", b"")

    await app(scope, receive, send)
    return captured


async def _reply(send: Send, answer: _Captured) -> None:
    headers = answer.headers or [(b"content-type", b"text/plain")]
    headers = [h for h in headers if h[0].lower() != b"content-length"]
    headers.append((b"content-length", str(len(answer.body)).encode()))
    await send(
        {"type": "http.response.start", "status": answer.status, "headers": headers}
    )
    await send({"type": "http.response.body", "body": answer.body})


def site_url(base_url: str, siteid: str) -> str:
    return f"{base_url}{_SITE_PREFIX}{siteid}"


def fetch_answers(base_url: str, siteids: Iterable[str]) -> Iterator[bytes]:
    """Every RPX answer of each site, asked exactly as the connector asks for it.

    Asking renders (and caches) the answers in the PMS process, so the benchmark
    calls this before it times anything that reads them.
    """
    with httpx.Client(timeout=3600) as client:
        for siteid in siteids:
            credentials = RpxCredentials(
                pmcid=PMCID, siteid=siteid, license_key=SecretStr(LICENSE_KEY)
            )
            for request in OPERATIONS:
                response = client.post(
                    site_url(base_url, siteid),
                    content=build_envelope(request, credentials),
                    headers={
                        "Content-Type": CONTENT_TYPE,
                        "SOAPAction": SOAP_ACTION_PREFIX + request.operation,
                    },
                )
                response.raise_for_status()
                yield response.content


def _serve(spec: PortfolioSpec, pipe: Connection) -> None:
    """The child's life: build the portfolio, serve it, say where, wait for 'stop'."""
    with serve_in_thread(PortfolioPms(spec)) as url:
        pipe.send(url)
        pipe.recv()


@contextmanager
def portfolio_pms(spec: PortfolioSpec) -> Iterator[str]:
    """Serve the portfolio from a child process; yields the server's base URL."""
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    child = context.Process(target=_serve, args=(spec, theirs), name="bench-pms")
    child.start()
    try:
        if not ours.poll(600):
            raise RuntimeError("the portfolio's PMS did not start within 10 minutes")
        yield str(ours.recv())
    finally:
        if child.is_alive():
            ours.send("stop")
        child.join(30)
        if child.is_alive():
            child.terminate()
