"""The SMTP gateway against a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import asyncio
import email
import email.policy
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from gateway_doubles import START, FakeClock, free_port

from leasesync.domain.errors import NeedsHumanError, RetryLaterError
from leasesync.domain.ports import InviteMessage
from leasesync.gateways.mail.rendering import message_id_for
from leasesync.gateways.mail.smtp import SmtpMailGateway

SENDER = "Maple Court <noreply@maple.example>"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    over_tls: bool


@dataclass
class Mailbox:
    """An aiosmtpd handler: refuses some recipients, keeps what it accepts."""

    received: list[Received] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 No such user here"
        if address.startswith("busy@"):
            return "451 4.3.0 Mailbox busy, try again"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        # NB: aiosmtpd sets session.ssl only after STARTTLS; implicit TLS shows
        # in the transport instead.
        over_tls = server.transport.get_extra_info("sslcontext") is not None
        self.received.append(
            Received(envelope.mail_from, envelope.rcpt_tos, parsed, over_tls)
        )
        return "250 Message accepted"


def only_ann(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    good = isinstance(auth_data, LoginPassword) and auth_data.login == b"ann"
    # handled=False: aiosmtpd itself answers 535 to a failure (see its AuthResult).
    return AuthResult(success=good and auth_data.password == b"s3cret", handled=False)


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


@pytest.fixture
def serve(mailbox: Mailbox) -> Iterator[Any]:
    """Start an SMTP server on a free loopback port with the given options."""
    controllers: list[Controller] = []

    def start(**options: Any) -> int:
        port = free_port()
        controller = Controller(mailbox, hostname="127.0.0.1", port=port, **options)
        controller.start()
        controllers.append(controller)
        return port

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made for this run by openssl."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: cannot make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def trusting(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


def invite(
    to: str = "ann@example.com", key: str = "invite:p1/u204/m1001:1"
) -> InviteMessage:
    return InviteMessage(
        idempotency_key=key,
        to=to,
        recipient_names=("Ann Lee",),
        property_name="Maple Court",
        unit_number="204",
        accept_url="https://homes.example.com/accept/t0k3n",
        expires_at=datetime(2026, 3, 9, 23, 59, tzinfo=UTC),
    )


def gateway(port: int, **options: Any) -> SmtpMailGateway:
    options.setdefault("timeout", 5.0)
    return SmtpMailGateway(
        "127.0.0.1", port, sender=SENDER, clock=FakeClock(START), **options
    )


def test_an_invite_reaches_the_server_whole(serve: Any, mailbox: Mailbox) -> None:
    port = serve()

    gateway(port).send_invite(invite())

    [got] = mailbox.received
    assert got.mail_from == "noreply@maple.example"
    assert got.rcpt_tos == ["ann@example.com"]
    assert got.message["From"] == SENDER
    assert got.message["To"] == "ann@example.com"
    assert got.message["Date"].datetime == START
    assert got.message["Message-ID"] == message_id_for("invite:p1/u204/m1001:1")
    text = got.message.get_body(preferencelist=("plain",))
    assert text is not None
    assert "https://homes.example.com/accept/t0k3n" in text.get_content()


def test_a_redelivery_carries_the_same_message_id_for_receivers_to_drop(
    serve: Any, mailbox: Mailbox
) -> None:
    port = serve()

    gateway(port).send_invite(invite())
    gateway(port).send_invite(invite())

    ids = {got.message["Message-ID"] for got in mailbox.received}
    assert ids == {message_id_for("invite:p1/u204/m1001:1")}


def test_a_refused_recipient_needs_a_human(serve: Any, mailbox: Mailbox) -> None:
    port = serve()

    with pytest.raises(NeedsHumanError, match="550"):
        gateway(port).send_invite(invite(to="nobody@example.com"))
    assert mailbox.received == []


def test_a_temporarily_refused_recipient_is_retried_later(serve: Any) -> None:
    port = serve()

    with pytest.raises(RetryLaterError, match="451"):
        gateway(port).send_invite(invite(to="busy@example.com"))


def test_error_messages_keep_the_address_out(serve: Any) -> None:
    port = serve()

    with pytest.raises(NeedsHumanError) as caught:
        gateway(port).send_invite(invite(to="nobody@example.com"))
    assert "nobody" not in str(caught.value)


def test_a_server_that_is_down_is_retried_later() -> None:
    with pytest.raises(RetryLaterError):
        gateway(free_port()).send_invite(invite())


def test_a_server_that_never_greets_times_out_and_is_retried_later() -> None:
    with socket.socket() as mute:
        mute.bind(("127.0.0.1", 0))
        mute.listen()
        port = mute.getsockname()[1]

        with pytest.raises(RetryLaterError):
            gateway(port, timeout=0.3).send_invite(invite())


PLAIN_AUTH = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@PLAIN_AUTH
def test_good_credentials_are_accepted(serve: Any, mailbox: Mailbox) -> None:
    port = serve(authenticator=only_ann, auth_required=True, auth_require_tls=False)

    gateway(port, username="ann", password="s3cret").send_invite(invite())

    assert len(mailbox.received) == 1


@PLAIN_AUTH
def test_refused_credentials_need_a_human(serve: Any, mailbox: Mailbox) -> None:
    port = serve(authenticator=only_ann, auth_required=True, auth_require_tls=False)

    with pytest.raises(NeedsHumanError, match="credentials"):
        gateway(port, username="ann", password="wrong").send_invite(invite())
    assert mailbox.received == []


def test_starttls_upgrades_the_connection(
    serve: Any, mailbox: Mailbox, certificate: tuple[Path, Path]
) -> None:
    port = serve(tls_context=server_tls(certificate), require_starttls=True)

    gateway(port, starttls=True, tls_context=trusting(certificate)).send_invite(
        invite()
    )

    [got] = mailbox.received
    assert got.over_tls


def test_auth_over_starttls(
    serve: Any, mailbox: Mailbox, certificate: tuple[Path, Path]
) -> None:
    port = serve(
        tls_context=server_tls(certificate),
        require_starttls=True,
        authenticator=only_ann,
        auth_required=True,
    )
    smtp = gateway(
        port,
        starttls=True,
        tls_context=trusting(certificate),
        username="ann",
        password="s3cret",
    )

    smtp.send_invite(invite())

    assert [got.over_tls for got in mailbox.received] == [True]


def test_a_server_demanding_starttls_from_a_plain_gateway_needs_a_human(
    serve: Any, certificate: tuple[Path, Path]
) -> None:
    port = serve(tls_context=server_tls(certificate), require_starttls=True)

    with pytest.raises(NeedsHumanError):
        gateway(port).send_invite(invite())


def test_starttls_to_a_server_without_it_needs_a_human(serve: Any) -> None:
    port = serve()

    with pytest.raises(NeedsHumanError):
        gateway(port, starttls=True).send_invite(invite())


def test_a_certificate_nobody_vouches_for_needs_a_human(
    serve: Any, certificate: tuple[Path, Path]
) -> None:
    port = serve(tls_context=server_tls(certificate), require_starttls=True)

    with pytest.raises(NeedsHumanError, match="TLS"):
        gateway(port, starttls=True).send_invite(invite())


def test_implicit_tls_to_a_plain_port_needs_a_human(serve: Any) -> None:
    port = serve()

    with pytest.raises(NeedsHumanError, match="TLS"):
        gateway(port, use_tls=True).send_invite(invite())


def test_implicit_tls_from_the_first_byte(
    serve: Any, mailbox: Mailbox, certificate: tuple[Path, Path]
) -> None:
    port = serve(ssl_context=server_tls(certificate))

    gateway(port, use_tls=True, tls_context=trusting(certificate)).send_invite(invite())

    assert [got.over_tls for got in mailbox.received] == [True]


def test_sending_works_from_a_worker_thread(serve: Any, mailbox: Mailbox) -> None:
    port = serve()
    failures: list[BaseException] = []

    def work() -> None:
        try:
            gateway(port).send_invite(invite())
        except BaseException as error:  # handed to the test thread below
            failures.append(error)

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(timeout=10)

    assert failures == []
    assert len(mailbox.received) == 1


def test_sending_works_from_inside_a_running_event_loop(
    serve: Any, mailbox: Mailbox
) -> None:
    port = serve()

    async def caller() -> None:
        gateway(port).send_invite(invite())

    asyncio.run(caller())

    assert len(mailbox.received) == 1


def test_starttls_and_implicit_tls_together_are_refused() -> None:
    with pytest.raises(ValueError, match="not both"):
        SmtpMailGateway("h", 25, sender=SENDER, starttls=True, use_tls=True)


def test_a_username_without_a_password_is_refused() -> None:
    with pytest.raises(ValueError, match="both"):
        SmtpMailGateway("h", 25, sender=SENDER, username="ann")


def test_the_password_never_shows_in_the_repr() -> None:
    smtp = SmtpMailGateway("h", 25, sender=SENDER, username="ann", password="s3cret")

    assert "s3cret" not in repr(smtp)
