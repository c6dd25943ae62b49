"""Where every RealPage failure becomes a leasesync error, by what to do about it.

The client and the parser raise whatever the wire gives them: httpx's transport
and status errors, lxml's syntax errors, and the two wire-level exceptions defined
here — :class:`SoapFault` for a ``<Fault>`` in the body (RPX also sends those inside
HTTP 200) and :class:`MalformedResponseError` for a body that parses but lacks the
``…Result`` element. :func:`translated` is the one place that turns them into
:class:`~leasesync.domain.errors.RetryLaterError` (the next poll may succeed) or
:class:`~leasesync.domain.errors.NeedsHumanError` (credentials, subscription,
endpoint), always chaining the cause with ``raise … from``.

The decisions are tables, not branches: :data:`HTTP_STATUS_ACTIONS` for status
codes, :data:`FAULT_TEXT_ACTIONS` for the words a fault uses. A fault that matches
no needs-a-human pattern is taken as temporary, because RPX reports its own
outages (database timeouts, "unexpected error") the same way.

Messages name the operation and the kind of failure, never the licence key or the
request body; text that comes back from RealPage is scrubbed of the configured
secrets before it is quoted.
"""

from __future__ import annotations

import email.utils
import enum
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime

import httpx
from lxml import etree

from leasesync.domain.errors import LeasesyncError, NeedsHumanError, RetryLaterError


class Action(enum.Enum):
    """What the caller should do about one failure."""

    RETRY = "retry"
    ASK_HUMAN = "ask_human"


class SoapFault(Exception):  # noqa: N818 - named for the SOAP element it carries
    """A SOAP ``<Fault>`` as RPX sent it (``custom_message`` from RPXApplicationFault)."""

    def __init__(
        self, *, code: str, reason: str, custom_message: str = "", detail: str = ""
    ) -> None:
        super().__init__(f"SOAP fault {code}")
        self.code = code
        self.reason = reason
        self.custom_message = custom_message
        self.detail = detail

    @property
    def text(self) -> str:
        """Everything the fault says, for pattern matching."""
        return " ".join((self.code, self.reason, self.custom_message, self.detail))


class MalformedResponseError(Exception):
    """A body that is XML but not the answer we asked for (no Body, no Result)."""


#: HTTP status codes that are not a SOAP fault. Anything else of 500 and above is
#: the gateway's trouble (retry); anything else of 400–499 is ours (ask a human).
HTTP_STATUS_ACTIONS: Mapping[int, Action] = {
    401: Action.ASK_HUMAN,
    403: Action.ASK_HUMAN,
    404: Action.ASK_HUMAN,
    408: Action.RETRY,
    425: Action.RETRY,
    429: Action.RETRY,
}

#: Lower-case fragments of a fault's code, reason or detail that no retry fixes:
#: a wrong licence key, PMC or site id, a site that unsubscribed, an operation the
#: partner endpoint does not offer. First match wins; no match means RETRY.
FAULT_TEXT_ACTIONS: tuple[tuple[str, Action], ...] = (
    ("license", Action.ASK_HUMAN),
    ("licence", Action.ASK_HUMAN),
    ("credential", Action.ASK_HUMAN),
    ("unauthori", Action.ASK_HUMAN),
    ("authenticat", Action.ASK_HUMAN),
    ("access is denied", Action.ASK_HUMAN),
    ("not subscribed", Action.ASK_HUMAN),
    ("unsubscribed", Action.ASK_HUMAN),
    ("subscription", Action.ASK_HUMAN),
    ("invalid pmc", Action.ASK_HUMAN),
    ("invalid site", Action.ASK_HUMAN),
    ("actionnotsupported", Action.ASK_HUMAN),
)

#: Transport failures by type, most specific first: a URL httpx cannot use is a
#: configuration mistake; every other transport failure may clear up by itself.
TRANSPORT_ACTIONS: tuple[tuple[type[Exception], Action], ...] = (
    (httpx.InvalidURL, Action.ASK_HUMAN),
    (httpx.UnsupportedProtocol, Action.ASK_HUMAN),
    (httpx.TimeoutException, Action.RETRY),
    (httpx.HTTPError, Action.RETRY),
)

#: Longest Retry-After we honour; a longer one is clamped (the engine polls anyway).
MAX_RETRY_AFTER_SECONDS = 3600.0


def http_status_action(status: int) -> Action:
    """Decide a non-fault HTTP error by :data:`HTTP_STATUS_ACTIONS`."""
    if status in HTTP_STATUS_ACTIONS:
        return HTTP_STATUS_ACTIONS[status]
    return Action.RETRY if status >= 500 else Action.ASK_HUMAN


def fault_action(fault: SoapFault) -> Action:
    """Decide a SOAP fault by the first pattern of :data:`FAULT_TEXT_ACTIONS` it shows."""
    text = fault.text.lower()
    for fragment, action in FAULT_TEXT_ACTIONS:
        if fragment in text:
            return action
    return Action.RETRY


def retry_after_seconds(
    value: str | None, *, now: datetime | None = None
) -> float | None:
    """Read a Retry-After header: delta-seconds or an HTTP date; ``None`` if absent or bad."""
    if not value or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return min(float(text), MAX_RETRY_AFTER_SECONDS)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    now = now or datetime.now(UTC)
    seconds = (when - now).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace every non-empty secret in ``text`` by ``***`` and keep it short."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text[:200]


@contextmanager
def translated(operation: str, *, secrets: Iterable[str] = ()) -> Iterator[None]:
    """Run one RPX call; re-raise its failures as leasesync errors, chained.

    Our own :class:`LeasesyncError` passes through untouched, so nesting is safe.
    """
    hidden = tuple(secrets)
    try:
        yield
    except LeasesyncError:
        raise
    except SoapFault as exc:
        raise _fault_error(operation, exc, hidden) from exc
    except httpx.HTTPStatusError as exc:
        raise _status_error(operation, exc.response) from exc
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise _transport_error(operation, exc) from exc
    except (etree.XMLSyntaxError, MalformedResponseError) as exc:
        raise RetryLaterError(f"RealPage {operation}: malformed response") from exc


def _fault_error(
    operation: str, fault: SoapFault, secrets: tuple[str, ...]
) -> Exception:
    said = scrub(fault.custom_message or fault.reason, secrets)
    message = f"RealPage {operation}: SOAP fault {fault.code!r}: {said}"
    if fault_action(fault) is Action.ASK_HUMAN:
        return NeedsHumanError(message)
    return RetryLaterError(message)


def _transport_error(operation: str, exc: Exception) -> Exception:
    action = next(
        (a for kind, a in TRANSPORT_ACTIONS if isinstance(exc, kind)), Action.RETRY
    )
    what = "timed out" if isinstance(exc, httpx.TimeoutException) else "transport error"
    message = f"RealPage {operation}: {what} ({type(exc).__name__})"
    if action is Action.ASK_HUMAN:
        return NeedsHumanError(message)
    return RetryLaterError(message)


def _status_error(operation: str, response: httpx.Response) -> Exception:
    status = response.status_code
    message = f"RealPage {operation}: HTTP {status}"
    if http_status_action(status) is Action.ASK_HUMAN:
        return NeedsHumanError(message)
    delay = retry_after_seconds(response.headers.get("Retry-After"))
    return RetryLaterError(message, delay_seconds=delay)
