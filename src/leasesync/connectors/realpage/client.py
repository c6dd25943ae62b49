"""The RPX wire: SOAP 1.1 envelopes over httpx, with bounded retries.

:class:`RpxClient` knows how RealPage Exchange wants to be spoken to — one POST
per operation to the partner endpoint, the credentials inside the body in a
``<tem:auth>`` block (not a SOAP header), ``SOAPAction`` naming the operation —
and how it answers, via :func:`.parsing.read_result`. It knows nothing of our
database or of the neutral model; :mod:`.connector` decides what to ask and
:mod:`.mapping` what the rows mean.

Every call runs inside :func:`.errors.translated`, so it either returns the
result document or raises a ``RetryLaterError`` / ``NeedsHumanError``. Only
``RetryLaterError`` is retried (tenacity): at most ``retry_attempts`` tries,
waiting ``retry_wait`` seconds and doubling, or the server's ``Retry-After`` when
it gave one. A ``Retry-After`` longer than :data:`MAX_INLINE_WAIT_SECONDS` ends
the retries at once: the caller gets the error with its delay and can schedule
the next poll instead of holding a worker.

The licence key and password are kept as :class:`pydantic.SecretStr` and only
ever leave as text inside the request body.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from types import TracebackType

import httpx
from lxml import etree
from pydantic import SecretStr
from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_exponential

from leasesync.connectors.realpage.errors import translated
from leasesync.connectors.realpage.parsing import fault_in, read_result
from leasesync.domain.errors import RetryLaterError

logger = logging.getLogger(__name__)

SOAP_ENVELOPE_NS = "http://schemas.xmlsoap.org/soap/envelope/"
RPX_NS = "http://tempuri.org/"
SOAP_ACTION_PREFIX = "http://tempuri.org/IRPXService/"
CONTENT_TYPE = "text/xml; charset=utf-8"

#: Longest server-requested pause we sit through inside one fetch.
MAX_INLINE_WAIT_SECONDS = 30.0
#: Cap on our own exponential back-off between two tries.
MAX_BACKOFF_SECONDS = 60.0


@dataclass(frozen=True, kw_only=True, slots=True)
class RpxCredentials:
    """What RealPage issues a partner for one site. ``system`` is sent as-is."""

    pmcid: str
    siteid: str
    license_key: SecretStr
    username: str | None = None
    password: SecretStr | None = None
    system: str = "Onesite"

    def secrets(self) -> tuple[str, ...]:
        """The values that must never appear in a log line or an error message."""
        hidden = [self.license_key.get_secret_value()]
        if self.password is not None:
            hidden.append(self.password.get_secret_value())
        return tuple(hidden)


@dataclass(frozen=True, kw_only=True, slots=True)
class RpxRequest:
    """One operation and its arguments, as they go into the SOAP body.

    ``argument_element`` wraps ``arguments`` (name, text) after the auth block; an
    empty text gives an empty element, as ``ExtensionData`` is sent.
    """

    operation: str
    argument_element: str | None = None
    arguments: tuple[tuple[str, str], ...] = ()


UNIT_LIST = RpxRequest(operation="unitlist")
RESIDENT_LIST = RpxRequest(
    operation="getresidentlist",
    argument_element="getresidentlistargs",
    arguments=(("ExtensionData", ""),),
)
RESIDENT_LIST_INFO = RpxRequest(
    operation="getresidentlistinfo",
    argument_element="getresidentlistinfo",
    arguments=(("status", "ALL"), ("headofhousehold", "0")),
)
LEASE_INFO = RpxRequest(
    operation="getleaseinfo",
    argument_element="getleaseinfo",
    arguments=(("residentstatus", "ALL"), ("residentheldthestatus", "365")),
)


def build_envelope(request: RpxRequest, credentials: RpxCredentials) -> bytes:
    """The SOAP 1.1 request document for one operation, UTF-8 encoded."""
    envelope = etree.Element(
        _soap("Envelope"), nsmap={"soapenv": SOAP_ENVELOPE_NS, "tem": RPX_NS}
    )
    etree.SubElement(envelope, _soap("Header"))
    body = etree.SubElement(envelope, _soap("Body"))
    operation = etree.SubElement(body, _rpx(request.operation))
    _append_auth(operation, credentials)

    if request.argument_element is not None:
        wrapper = etree.SubElement(operation, _rpx(request.argument_element))
        for name, text in request.arguments:
            etree.SubElement(wrapper, _rpx(name)).text = text or None
    return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")


class RpxClient:
    """Calls RPX operations on one partner endpoint for one site."""

    def __init__(
        self,
        *,
        url: str,
        credentials: RpxCredentials,
        timeout: float = 60.0,
        retry_attempts: int = 3,
        retry_wait: float = 1.0,
        http_client: httpx.Client | None = None,
    ) -> None:
        if retry_attempts < 1:
            raise ValueError("retry_attempts must be at least 1")
        self._url = url
        self._credentials = credentials
        self._timeout = timeout
        self._attempts = retry_attempts
        self._backoff = wait_exponential(multiplier=retry_wait, max=MAX_BACKOFF_SECONDS)
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(timeout=timeout)

    def __repr__(self) -> str:
        return f"RpxClient(url={self._url!r}, siteid={self._credentials.siteid!r})"

    def call(self, request: RpxRequest) -> etree._Element:
        """The result document of one operation, retried while it is temporary."""
        retrying = Retrying(
            retry=retry_if_exception_type(RetryLaterError),
            stop=self._should_stop,
            wait=self._wait,
            before_sleep=self._log_retry,
            reraise=True,
        )
        return retrying(self.call_once, request)

    def call_once(self, request: RpxRequest) -> etree._Element:
        """One POST and its answer, failures translated by :func:`.errors.translated`."""
        with translated(request.operation, secrets=self._credentials.secrets()):
            response = self._http.post(
                self._url,
                content=build_envelope(request, self._credentials),
                headers={
                    "Content-Type": CONTENT_TYPE,
                    "SOAPAction": SOAP_ACTION_PREFIX + request.operation,
                },
                timeout=self._timeout,
            )
            if response.is_error:
                # NB: a fault first — WCF sends faults, bad credentials included, as 500.
                fault = fault_in(response.content)
                if fault is not None:
                    raise fault
                response.raise_for_status()
            return read_result(response.content, request.operation)

    def close(self) -> None:
        """Close the HTTP client if this object made it."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> RpxClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _should_stop(self, state: RetryCallState) -> bool:
        hint = _delay_hint(state)
        too_long = hint is not None and hint > MAX_INLINE_WAIT_SECONDS
        return too_long or state.attempt_number >= self._attempts

    def _wait(self, state: RetryCallState) -> float:
        hint = _delay_hint(state)
        return hint if hint is not None else self._backoff(state)

    def _log_retry(self, state: RetryCallState) -> None:
        operation = state.args[0].operation if state.args else "?"
        wait = state.next_action.sleep if state.next_action else 0.0
        logger.info(
            "RealPage %s failed (attempt %d of %d), retrying in %.1f s",
            operation,
            state.attempt_number,
            self._attempts,
            wait,
            extra={"event": "pms_call_retry", "operation": operation},
        )


def _delay_hint(state: RetryCallState) -> float | None:
    exc = state.outcome.exception() if state.outcome else None
    return exc.delay_seconds if isinstance(exc, RetryLaterError) else None


def _append_auth(operation: etree._Element, credentials: RpxCredentials) -> None:
    auth = etree.SubElement(operation, _rpx("auth"))
    fields = [
        ("pmcid", credentials.pmcid),
        ("siteid", credentials.siteid),
        ("licensekey", credentials.license_key.get_secret_value()),
        ("username", credentials.username),
        (
            "password",
            credentials.password.get_secret_value() if credentials.password else None,
        ),
        ("system", credentials.system),
    ]
    for name, value in fields:
        if value is not None:
            etree.SubElement(auth, _rpx(name)).text = value


def _soap(name: str) -> str:
    return f"{{{SOAP_ENVELOPE_NS}}}{name}"


def _rpx(name: str) -> str:
    return f"{{{RPX_NS}}}{name}"
