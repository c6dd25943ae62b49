"""Door gateways: the in-memory access system, the HTTP adapter, and revoke checks."""

from __future__ import annotations

import email.utils
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import httpx
import pytest

from leasesync.domain.errors import NeedsHumanError, RetryLaterError
from leasesync.gateways.doors import (
    HttpDoorGateway,
    SimulatedDoorGateway,
    verify_revoked,
)

UNIT = "p1/u204/unit"
LOBBY = "p1/common:lobby"
ANN, BOB = "p1/1001", "p1/1002"
TOKEN = "t0ken"


# --- the simulated access system --------------------------------------------------


def test_a_grant_makes_a_holder_and_a_revoke_unmakes_one() -> None:
    doors = SimulatedDoorGateway()

    doors.grant(idempotency_key="g1", door=UNIT, person=ANN)
    doors.grant(idempotency_key="g2", door=UNIT, person=BOB)
    assert doors.holders(UNIT) == {ANN, BOB}
    assert doors.holders(LOBBY) == frozenset()

    doors.revoke(idempotency_key="r1", door=UNIT, person=ANN)
    assert doors.holders(UNIT) == {BOB}
    assert verify_revoked(doors, UNIT, ANN)
    assert not verify_revoked(doors, UNIT, BOB)


def test_a_repeated_key_is_dropped_even_after_later_changes() -> None:
    doors = SimulatedDoorGateway()
    doors.grant(idempotency_key="g1", door=UNIT, person=ANN)
    doors.revoke(idempotency_key="r1", door=UNIT, person=ANN)
    doors.grant(idempotency_key="g2", door=UNIT, person=ANN)

    doors.revoke(idempotency_key="r1", door=UNIT, person=ANN)
    doors.grant(idempotency_key="g1", door=UNIT, person=ANN)

    assert doors.holders(UNIT) == {ANN}
    assert [call.idempotency_key for call in doors.calls] == ["g1", "r1", "g2"]


def test_revoking_someone_who_holds_nothing_is_harmless() -> None:
    doors = SimulatedDoorGateway()

    doors.revoke(idempotency_key="r1", door=LOBBY, person=ANN)

    assert doors.holders(LOBBY) == frozenset()


def test_failures_on_demand_are_temporary_and_do_not_use_up_the_key() -> None:
    doors = SimulatedDoorGateway()
    doors.fail_next(2)

    for _attempt in range(2):
        with pytest.raises(RetryLaterError):
            doors.grant(idempotency_key="g1", door=UNIT, person=ANN)
    assert doors.holders(UNIT) == frozenset()

    doors.grant(idempotency_key="g1", door=UNIT, person=ANN)
    assert doors.holders(UNIT) == {ANN}


def test_a_revoke_that_does_not_take_is_caught_by_verification() -> None:
    doors = SimulatedDoorGateway()
    doors.grant(idempotency_key="g1", door=UNIT, person=ANN)
    doors.ignore_revokes_for(ANN)

    doors.revoke(idempotency_key="r1", door=UNIT, person=ANN)
    assert not verify_revoked(doors, UNIT, ANN)

    # The system acknowledged r1; only a fresh key makes it try again.
    doors.heed_revokes_for(ANN)
    doors.revoke(idempotency_key="r1", door=UNIT, person=ANN)
    assert not verify_revoked(doors, UNIT, ANN)
    doors.revoke(idempotency_key="r1-again", door=UNIT, person=ANN)
    assert verify_revoked(doors, UNIT, ANN)


def test_concurrent_grants_are_all_kept() -> None:
    doors = SimulatedDoorGateway()

    def grant_many(worker: int) -> None:
        for n in range(200):
            doors.grant(
                idempotency_key=f"g{worker}-{n}", door=LOBBY, person=f"p1/{worker}-{n}"
            )

    workers = [threading.Thread(target=grant_many, args=(w,)) for w in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert len(doors.holders(LOBBY)) == 1600
    assert len(doors.calls) == 1600


# --- the HTTP adapter against a fake access-control system -------------------------


@dataclass
class FakeAccessControl:
    """A small access-control system speaking the REST dialect the adapter expects.

    It serves under ``/api`` through an httpx ``MockTransport`` and routes on the
    raw path, as a real server must to tell an encoded ``/`` inside an id from a path
    separator. ``faults`` are answered, in order, before any work is done.
    """

    holders: dict[str, set[str]] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    faults: list[httpx.Response] = field(default_factory=list)
    holder_list_body: bytes | None = None

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handle))

    def handle(self, request: httpx.Request) -> httpx.Response:
        raw_path = request.url.raw_path.decode().partition("?")[0]
        key = request.headers.get("Idempotency-Key")
        self.requests.append((request.method, raw_path, key))
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return httpx.Response(401, json={"error": "unauthorized"})
        if self.faults:
            return self.faults.pop(0)
        match [unquote(part) for part in raw_path.split("/")]:
            case ["", "api", "doors", door, "holders"] if request.method == "GET":
                return self.list_holders(door)
            case ["", "api", "doors", door, "holders", person] if key:
                return self.change(request.method, door, person, key)
        return httpx.Response(400, json={"error": "bad request"})

    def list_holders(self, door: str) -> httpx.Response:
        if self.holder_list_body is not None:
            return httpx.Response(200, content=self.holder_list_body)
        return httpx.Response(
            200, json={"holders": sorted(self.holders.get(door, set()))}
        )

    def change(self, method: str, door: str, person: str, key: str) -> httpx.Response:
        if key in self.seen:
            return httpx.Response(204)
        self.seen.add(key)
        held = self.holders.setdefault(door, set())
        if method == "PUT":
            held.add(person)
            return httpx.Response(204)
        if person not in held:
            return httpx.Response(404, json={"error": "not a holder"})
        held.discard(person)
        return httpx.Response(204)


@pytest.fixture
def system() -> FakeAccessControl:
    return FakeAccessControl()


@pytest.fixture
def gateway(system: FakeAccessControl) -> HttpDoorGateway:
    return HttpDoorGateway("https://access.example/api/", TOKEN, system.client())


def test_grant_puts_the_holder_with_encoded_ids_and_the_key(
    gateway: HttpDoorGateway, system: FakeAccessControl
) -> None:
    gateway.grant(idempotency_key="g1", door=UNIT, person=ANN)

    assert system.requests == [
        ("PUT", "/api/doors/p1%2Fu204%2Funit/holders/p1%2F1001", "g1")
    ]
    assert system.holders == {UNIT: {ANN}}


def test_holders_reads_the_list_back(gateway: HttpDoorGateway) -> None:
    gateway.grant(idempotency_key="g1", door=LOBBY, person=ANN)
    gateway.grant(idempotency_key="g2", door=LOBBY, person=BOB)

    assert gateway.holders(LOBBY) == {ANN, BOB}
    assert gateway.holders(UNIT) == frozenset()


def test_revoke_deletes_and_verification_sees_it(
    gateway: HttpDoorGateway, system: FakeAccessControl
) -> None:
    gateway.grant(idempotency_key="g1", door=UNIT, person=ANN)

    gateway.revoke(idempotency_key="r1", door=UNIT, person=ANN)

    assert system.requests[-1][0] == "DELETE"
    assert system.requests[-1][2] == "r1"
    assert verify_revoked(gateway, UNIT, ANN)


def test_revoking_someone_the_system_does_not_list_is_success(
    gateway: HttpDoorGateway, system: FakeAccessControl
) -> None:
    gateway.revoke(idempotency_key="r1", door=UNIT, person=ANN)

    assert system.requests[-1][0] == "DELETE"


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_busy_or_broken_answers_mean_retry_later(
    gateway: HttpDoorGateway, system: FakeAccessControl, status: int
) -> None:
    system.faults.append(httpx.Response(status))

    with pytest.raises(RetryLaterError):
        gateway.grant(idempotency_key="g1", door=UNIT, person=ANN)
    assert system.holders == {}


def test_retry_after_is_passed_on_as_the_delay(
    gateway: HttpDoorGateway, system: FakeAccessControl
) -> None:
    system.faults.append(httpx.Response(429, headers={"Retry-After": "30"}))

    with pytest.raises(RetryLaterError) as caught:
        gateway.revoke(idempotency_key="r1", door=UNIT, person=ANN)
    assert caught.value.delay_seconds == 30.0


def test_retry_after_as_an_http_date_becomes_seconds_from_now(
    gateway: HttpDoorGateway, system: FakeAccessControl
) -> None:
    in_a_minute = email.utils.format_datetime(
        datetime.now(UTC) + timedelta(seconds=60), usegmt=True
    )
    system.faults.append(httpx.Response(503, headers={"Retry-After": in_a_minute}))

    with pytest.raises(RetryLaterError) as caught:
        gateway.grant(idempotency_key="g1", door=UNIT, person=ANN)
    assert caught.value.delay_seconds is not None
    assert 55 <= caught.value.delay_seconds <= 60


def test_a_refused_token_needs_a_human(system: FakeAccessControl) -> None:
    gateway = HttpDoorGateway("https://access.example/api", "expired", system.client())

    with pytest.raises(NeedsHumanError, match="401"):
        gateway.grant(idempotency_key="g1", door=UNIT, person=ANN)


@pytest.mark.parametrize("status", [400, 403, 404, 409, 422])
def test_other_refusals_need_a_human(
    gateway: HttpDoorGateway, system: FakeAccessControl, status: int
) -> None:
    system.faults.append(httpx.Response(status))

    with pytest.raises(NeedsHumanError, match=str(status)):
        gateway.grant(idempotency_key="g1", door=UNIT, person=ANN)


@pytest.mark.parametrize(
    "body", [b"<html>oops</html>", b"[]", b'{"holders": "ann"}', b"{}"]
)
def test_an_unreadable_holder_list_means_retry_later(
    gateway: HttpDoorGateway, system: FakeAccessControl, body: bytes
) -> None:
    system.holder_list_body = body

    with pytest.raises(RetryLaterError):
        gateway.holders(UNIT)


@pytest.mark.parametrize(
    "failure", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow")]
)
def test_transport_failures_mean_retry_later(failure: httpx.HTTPError) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise failure

    client = httpx.Client(transport=httpx.MockTransport(fail))
    gateway = HttpDoorGateway("https://access.example", TOKEN, client)

    with pytest.raises(RetryLaterError) as caught:
        gateway.revoke(idempotency_key="r1", door=UNIT, person=ANN)
    assert caught.value.__cause__ is failure


def test_the_token_never_shows_in_the_repr() -> None:
    gateway = HttpDoorGateway("https://access.example", TOKEN)

    assert TOKEN not in repr(gateway)
    gateway.close()
