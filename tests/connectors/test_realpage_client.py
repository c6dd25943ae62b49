"""The RPX wire: request envelopes, error translation, retries — over a fake HTTP transport."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from lxml import etree

from leasesync.connectors.realpage.connector import RealPageConnector
from leasesync.connectors.realpage.errors import Action, SoapFault, fault_action
from leasesync.domain.errors import NeedsHumanError, RetryLaterError
from leasesync.domain.snapshots import Role

SAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "samples"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
LICENSE_KEY = "6f1c2b7e-aaaa-4bbb-8ccc-0123456789ab"
PASSWORD = "hunter2-secret"

ANSWERS = {
    "unitlist": SAMPLES / "realpage_unitlist_response.xml",
    "getresidentlist": SAMPLES / "realpage_getresidentlist_response.xml",
    "getresidentlistinfo": FIXTURES / "realpage_getresidentlistinfo_maple_court.xml",
    "getleaseinfo": SAMPLES / "realpage_getleaseinfo_response.xml",
}

Handler = Callable[[httpx.Request], httpx.Response]


def _operation(request: httpx.Request) -> str:
    return request.headers["SOAPAction"].rpartition("/")[2]


def _samples(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=ANSWERS[_operation(request)].read_bytes())


def _connector(handler: Handler, *, retry_attempts: int = 1) -> RealPageConnector:
    return RealPageConnector(
        url="https://gateway.example/rpx/Partner.svc",
        pmcid="9990001",
        siteid="9990101",
        license_key=LICENSE_KEY,
        username="partner",
        password=PASSWORD,
        retry_attempts=retry_attempts,
        retry_wait=0.0,
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
    )


def _fault(message: str, code: str = "s:Client") -> bytes:
    return (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault>'
        f"<faultcode>{code}</faultcode><faultstring>{message}</faultstring><detail>"
        '<RPXApplicationFault xmlns="urn:rpx">'
        f"<CustomMessage>{message}</CustomMessage></RPXApplicationFault>"
        "</detail></s:Fault></s:Body></s:Envelope>"
    ).encode()


def test_requests_are_soap_11_with_auth_in_the_body() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _samples(request)

    _connector(handler).fetch_snapshot()

    assert [_operation(r) for r in seen] == [
        "unitlist",
        "getresidentlist",
        "getresidentlistinfo",
        "getleaseinfo",
    ]
    request = seen[2]
    assert request.method == "POST"
    assert request.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert (
        request.headers["SOAPAction"]
        == "http://tempuri.org/IRPXService/getresidentlistinfo"
    )
    envelope = etree.fromstring(request.content)
    ns = {"s": "http://schemas.xmlsoap.org/soap/envelope/", "t": "http://tempuri.org/"}
    auth = envelope.find("s:Body/t:getresidentlistinfo/t:auth", ns)
    assert auth is not None
    assert [(etree.QName(e).localname, e.text) for e in auth] == [
        ("pmcid", "9990001"),
        ("siteid", "9990101"),
        ("licensekey", LICENSE_KEY),
        ("username", "partner"),
        ("password", PASSWORD),
        ("system", "Onesite"),
    ]
    status = envelope.find(
        "s:Body/t:getresidentlistinfo/t:getresidentlistinfo/t:status", ns
    )
    assert status is not None and status.text == "ALL"
    leases = etree.fromstring(seen[3].content)
    held = leases.find("s:Body/t:getleaseinfo/t:getleaseinfo/t:residentstatus", ns)
    assert held is not None and held.text == "ALL"


def test_username_and_password_are_left_out_when_not_given() -> None:
    seen: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.content)
        return _samples(request)

    client = httpx.Client(transport=httpx.MockTransport(handler))
    RealPageConnector(
        url="https://gateway.example/x.svc",
        pmcid="1",
        siteid="2",
        license_key="k",
        http_client=client,
    ).check_credentials()

    assert b"username" not in seen[0] and b"password" not in seen[0]


def test_fetch_over_the_wire_gives_the_maple_court_snapshot() -> None:
    snapshot = _connector(_samples).fetch_snapshot()

    roles = {str(m.person_id): m.role for m in snapshot.memberships}
    assert len(snapshot.units) == 6
    assert (roles["50003"], roles["50008"]) == (Role.MINOR, Role.GUARANTOR)


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (httpx.Response(401), NeedsHumanError),
        (httpx.Response(403, text="Forbidden"), NeedsHumanError),
        (httpx.Response(404), NeedsHumanError),
        (httpx.Response(500, text="<html>oops</html>"), RetryLaterError),
        (httpx.Response(502), RetryLaterError),
        (httpx.Response(503), RetryLaterError),
        (httpx.Response(429), RetryLaterError),
        (
            httpx.Response(200, content=b"<s:Envelope xmlns:s='x'><s:Body>"),
            RetryLaterError,
        ),
        (
            httpx.Response(200, content=b"Service temporarily unavailable"),
            RetryLaterError,
        ),
        (
            httpx.Response(200, content=_fault("Database timeout", "s:Server")),
            RetryLaterError,
        ),
        (httpx.Response(500, content=_fault("Invalid license key")), NeedsHumanError),
        (
            httpx.Response(200, content=_fault("Site is not subscribed")),
            NeedsHumanError,
        ),
        (
            httpx.Response(500, content=_fault("x", "a:ActionNotSupported")),
            NeedsHumanError,
        ),
        (
            httpx.Response(
                200,
                content=b"<s:Envelope xmlns:s='http://schemas.xmlsoap.org/soap/envelope/'>"
                b"<s:Body><unitlistResponse/></s:Body></s:Envelope>",
            ),
            RetryLaterError,
        ),
    ],
)
def test_failures_are_translated_by_what_to_do(
    response: httpx.Response, error: type[Exception]
) -> None:
    connector = _connector(lambda request: response)

    with pytest.raises(error) as caught:
        connector.fetch_snapshot()

    assert caught.value.__cause__ is not None


def test_retry_after_becomes_the_delay_hint() -> None:
    connector = _connector(
        lambda r: httpx.Response(429, headers={"Retry-After": "120"})
    )

    with pytest.raises(RetryLaterError) as caught:
        connector.check_credentials()

    assert caught.value.delay_seconds == 120.0


def test_a_short_retry_after_is_waited_out_then_retried() -> None:
    answers = iter([httpx.Response(429, headers={"Retry-After": "0"})])

    def handler(request: httpx.Request) -> httpx.Response:
        return next(answers, None) or _samples(request)

    _connector(handler, retry_attempts=2).check_credentials()


def test_a_long_retry_after_ends_the_retries_at_once() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(429, headers={"Retry-After": "600"})

    with pytest.raises(RetryLaterError):
        _connector(handler, retry_attempts=5).check_credentials()

    assert len(calls) == 1


@pytest.mark.parametrize(
    "exception",
    [
        httpx.ReadTimeout("slow"),
        httpx.ConnectError("refused"),
        httpx.RemoteProtocolError("cut"),
    ],
)
def test_transport_failures_are_temporary(exception: Exception) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exception

    with pytest.raises(RetryLaterError):
        _connector(handler).fetch_snapshot()


def test_an_unusable_url_needs_a_human() -> None:
    connector = RealPageConnector(
        url="ftp://gateway.example/rpx.svc", pmcid="1", siteid="2", license_key="k"
    )

    with pytest.raises(NeedsHumanError):
        connector.check_credentials()


def test_temporary_failures_are_retried_up_to_the_bound() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(_operation(request))
        return httpx.Response(503)

    with pytest.raises(RetryLaterError):
        _connector(handler, retry_attempts=3).fetch_snapshot()

    assert calls == ["unitlist"] * 3


def test_a_transient_failure_is_healed_by_a_retry() -> None:
    failures = iter([httpx.Response(503), httpx.Response(200, content=b"<truncated")])

    def handler(request: httpx.Request) -> httpx.Response:
        if _operation(request) == "getleaseinfo":
            failure = next(failures, None)
            if failure is not None:
                return failure
        return _samples(request)

    snapshot = _connector(handler, retry_attempts=3).fetch_snapshot()

    assert len(snapshot.lease_terms) == 8


def test_needs_human_is_not_retried() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(
            500, content=_fault("The license key provided is invalid.")
        )

    with pytest.raises(NeedsHumanError):
        _connector(handler, retry_attempts=3).check_credentials()

    assert len(calls) == 1


def test_secrets_stay_out_of_errors_logs_and_repr(
    caplog: pytest.LogCaptureFixture,
) -> None:
    echo = f"License key {LICENSE_KEY} with password {PASSWORD} is invalid"
    responses = iter([httpx.Response(503)])

    def handler(request: httpx.Request) -> httpx.Response:
        return next(responses, None) or httpx.Response(500, content=_fault(echo))

    connector = _connector(handler, retry_attempts=2)
    with caplog.at_level(logging.DEBUG), pytest.raises(NeedsHumanError) as caught:
        connector.check_credentials()

    shown = " ".join([str(caught.value), caplog.text, repr(connector)])
    assert LICENSE_KEY not in shown and PASSWORD not in shown
    assert "***" in str(caught.value)


def test_a_failed_fetch_after_some_answers_gives_no_snapshot() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if _operation(request) == "getleaseinfo":
            return httpx.Response(200, content=_fault("Unexpected error", "s:Server"))
        return _samples(request)

    with pytest.raises(RetryLaterError):
        _connector(handler).fetch_snapshot()


def test_fault_table_defaults_to_retry_for_unknown_words() -> None:
    fault = SoapFault(code="s:Server", reason="Object reference not set to an instance")

    assert fault_action(fault) is Action.RETRY
