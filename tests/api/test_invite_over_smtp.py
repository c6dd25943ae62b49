"""Issue #6 end to end: the invite goes out over real SMTP and its link accepts once.

The embedded stack is configured with the SMTP mail backend, pointed at an aiosmtpd
server on loopback. The test reads the link from the message the server received,
opens it, accepts, and then tries it again, tampered, and after expiry.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from aiosmtpd.controller import Controller
from api_site import ApiSite, api_site
from httpx import Response

ANN = "ann.avery@example.com"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Sink:
    """An SMTP server that keeps every message it is handed."""

    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.original_content))
        return "250 OK"

    def link_to(self, address: str) -> str:
        mails = [m for m in self.messages if m["To"] == address]
        assert len(mails) == 1, f"{len(mails)} invites reached {address}"
        text = next(p for p in mails[0].walk() if p.get_content_type() == "text/plain")
        payload = text.get_payload(decode=True)
        assert isinstance(payload, bytes)
        found = re.search(r"https?://\S+/invites/accept\?token=\S+", payload.decode())
        assert found is not None, "no accept link in the invite"
        return found.group(0)


@pytest.fixture
def smtp_site(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[ApiSite, Sink]]:
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("LEASESYNC_MAIL__BACKEND", "smtp")
    monkeypatch.setenv("LEASESYNC_MAIL__SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("LEASESYNC_MAIL__SMTP_PORT", str(port))
    monkeypatch.setenv("LEASESYNC_MAIL__SMTP_STARTTLS", "false")
    try:
        with api_site(tmp_path, monkeypatch) as site:
            site.client.post(
                "/api/properties/1/units/30101/installed", headers=site.auth
            )
            site.worker.run_once()
            yield site, sink
    finally:
        controller.stop()


def _token(link: str) -> str:
    return parse_qs(urlparse(link).query)["token"][0]


def _open(site: ApiSite, token: str) -> Response:
    response: Response = site.client.get("/invites/accept", params={"token": token})
    return response


def _accept(site: ApiSite, page: Response) -> Response:
    fields = dict(re.findall(r'name="(token|csrf)" value="([^"]*)"', page.text))
    response: Response = site.client.post("/invites/accept", data=fields)
    return response


def _reason(page: Response) -> str:
    found = re.search(r'data-reason="([a-z]+)"', page.text)
    assert found is not None
    return found.group(1)


def test_the_mailed_link_accepts_once_and_a_reused_one_changes_nothing(
    smtp_site: tuple[ApiSite, Sink],
) -> None:
    site, sink = smtp_site
    token = _token(sink.link_to(ANN))

    welcome = _accept(site, _open(site, token))
    after = site.state()
    reused = _open(site, token)

    assert welcome.status_code == 200 and "Welcome home" in welcome.text
    assert after["units"]["30101"]["residents"]["60001"]["status"] == "active"  # type: ignore[index]
    assert (reused.status_code, _reason(reused)) == (410, "used")
    assert site.state() == after


def test_a_tampered_or_expired_mailed_link_is_refused_and_changes_nothing(
    smtp_site: tuple[ApiSite, Sink],
) -> None:
    site, sink = smtp_site
    token = _token(sink.link_to(ANN))
    before = site.state()

    tampered = _open(site, token[:-3] + ("xyz" if not token.endswith("xyz") else "abc"))
    site.clock.advance(days=7, minutes=1)  # L3: an invite lives seven days
    expired = _open(site, token)

    assert (tampered.status_code, _reason(tampered)) == (400, "invalid")
    assert (expired.status_code, _reason(expired)) == (410, "expired")
    assert site.state()["units"] == before["units"]
