"""The SMTP mail gateway: invites handed to a real mail server (SPEC §5, issue #6).

The engine and the workers are synchronous; aiosmtplib is not. Each send therefore
runs one short-lived event loop of its own, which works from any thread — a worker
thread has no loop, and a caller that is itself inside a running loop gets the send
run on a helper thread instead of being refused.

Every failure is translated here, in :func:`_translate`, by what to do about it
(STYLE.md habit 9): a busy server, a timeout, a dropped or refused connection or a
4xx reply is worth retrying later; a 5xx reply (recipient unknown, credentials
refused), a missing STARTTLS or AUTH extension and a certificate that does not verify
need a human. A server that received the message but whose reply was lost makes the
worker retry, and the repeat carries the same ``Message-ID``
(:func:`~leasesync.gateways.mail.rendering.message_id_for`) for receivers to drop.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import aiosmtplib
from aiosmtplib import SMTPException

from leasesync.domain.errors import LeasesyncError, NeedsHumanError, RetryLaterError
from leasesync.domain.ports import Clock, InviteMessage
from leasesync.gateways.credentials import Secret, reveal
from leasesync.gateways.mail.rendering import render_invite

logger = logging.getLogger(__name__)

# What the server was answering when it said no, for a message a human can act on.
_STAGES: tuple[tuple[type[aiosmtplib.SMTPResponseException], str], ...] = (
    (aiosmtplib.SMTPAuthenticationError, "refused the credentials"),
    (aiosmtplib.SMTPSenderRefused, "refused the sender"),
    (aiosmtplib.SMTPRecipientRefused, "refused the recipient"),
    (aiosmtplib.SMTPDataError, "refused the message"),
    (aiosmtplib.SMTPHeloError, "refused the greeting"),
    (aiosmtplib.SMTPConnectResponseError, "refused the connection"),
)


class SmtpMailGateway:
    """A :class:`~leasesync.domain.ports.MailGateway` speaking SMTP.

    ``use_tls`` is TLS from the first byte (port 465); ``starttls`` upgrades a plain
    connection (port 587) and fails if the server does not offer it. The two are
    exclusive. ``tls_context`` replaces the system's trusted certificates (a private
    CA); ``clock`` stamps the ``Date`` header.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        sender: str,
        starttls: bool = False,
        use_tls: bool = False,
        username: str | None = None,
        password: Secret | None = None,
        timeout: float = 30.0,
        tls_context: ssl.SSLContext | None = None,
        clock: Clock | None = None,
    ) -> None:
        if starttls and use_tls:
            raise ValueError("choose STARTTLS or implicit TLS for SMTP, not both")
        if (username is None) != (password is None):
            raise ValueError("SMTP authentication needs both a username and a password")
        self.host, self.port, self.sender = host, port, sender
        self._starttls, self._use_tls = starttls, use_tls
        self._username, self._password = username, password
        self._timeout, self._tls_context, self._clock = timeout, tls_context, clock

    def __repr__(self) -> str:
        return (
            f"SmtpMailGateway({self.host!r}, {self.port}, username={self._username!r})"
        )

    def send_invite(self, message: InviteMessage) -> None:
        """Hand the invite to the server; raises by what to do on failure."""
        email = render_invite(message)
        email["From"] = self.sender
        email["Date"] = format_datetime(self._clock.now() if self._clock else _utcnow())

        try:
            _run(self._send(email))
        except (aiosmtplib.SMTPException, OSError) as error:
            raise _translate(error, self) from error
        logger.info(
            "Invite handed to the SMTP server",
            extra={
                "event": "invite_mailed",
                "idempotency_key": message.idempotency_key,
            },
        )

    async def _send(self, email: EmailMessage) -> None:
        password = None if self._password is None else reveal(self._password)
        await aiosmtplib.send(
            email,
            hostname=self.host,
            port=self.port,
            username=self._username,
            password=password,
            use_tls=self._use_tls,
            start_tls=self._starttls,
            tls_context=self._tls_context,
            timeout=self._timeout,
        )


def _run(coroutine: Coroutine[Any, Any, None]) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coroutine)
        return
    # NB: asyncio.run refuses to nest inside a running loop, so an async caller of
    # this synchronous port gets the send run on a thread with a loop of its own.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="smtp") as pool:
        pool.submit(asyncio.run, coroutine).result()


def _translate(error: Exception, gateway: SmtpMailGateway) -> LeasesyncError:
    """The one place SMTP and transport failures become leasesync errors.

    Messages name the server and the reply code but never the address: the server's
    own text, which often quotes it, stays on the chained exception.
    """
    server = f"SMTP server {gateway.host}:{gateway.port}"
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        codes = [refusal.code for refusal in error.recipients] or [550]
        return _by_code(max(codes), f"{server} refused the recipient")
    if isinstance(error, aiosmtplib.SMTPResponseException):
        stage = next((words for kind, words in _STAGES if isinstance(error, kind)), "")
        return _by_code(error.code, f"{server} {stage or 'answered with an error'}")
    if isinstance(error, aiosmtplib.SMTPNotSupported) or type(error) is SMTPException:
        # aiosmtplib raises its bare base class when the server lacks an extension
        # the settings require (STARTTLS, AUTH); its subclasses are transport trouble.
        return NeedsHumanError(f"{server} lacks what the settings ask for: {error}")
    if _tls_misconfigured(error):
        return NeedsHumanError(f"TLS with {server} failed; check the TLS settings")
    return RetryLaterError(f"{server} could not be reached or did not answer in time")


def _by_code(code: int, words: str) -> LeasesyncError:
    # Only a 5xx reply is permanent (RFC 5321 §4.2.1); a 4xx or a reply code that
    # makes no sense at this point is the server's passing trouble.
    if 500 <= code < 600:
        return NeedsHumanError(f"{words} ({code})")
    return RetryLaterError(f"{words} for now ({code})")


def _tls_misconfigured(error: BaseException) -> bool:
    """An SSL error in ``error`` or what it wraps, other than a cut connection.

    aiosmtplib wraps a failed implicit-TLS handshake in ``SMTPConnectError``; a
    certificate that does not verify or a plain-text port spoken to in TLS will
    fail the same way at every retry.
    """
    for cause in (error, error.__cause__, error.__context__):
        if isinstance(cause, ssl.SSLError):
            return not isinstance(cause, ssl.SSLEOFError | ssl.SSLZeroReturnError)
    return False


def _utcnow() -> datetime:
    return datetime.now(UTC)
