"""The outbox folder: one readable .eml per key, listed for tooling, repeats dropped."""

from __future__ import annotations

import email
import email.policy
import hashlib
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from gateway_doubles import START, FakeClock

from leasesync.domain.errors import NeedsHumanError
from leasesync.domain.ports import InviteMessage
from leasesync.gateways.mail.outbox import (
    DEFAULT_SENDER,
    OutboxMailGateway,
    list_outbox,
    outbox_stem,
)

EXPIRES = datetime(2026, 3, 9, 23, 59, tzinfo=UTC)


def invite(
    key: str = "invite:p1/u204/m1001:1", to: str = "ann@example.com"
) -> InviteMessage:
    return InviteMessage(
        idempotency_key=key,
        to=to,
        recipient_names=("Ann Lee",),
        property_name="Maple Court",
        unit_number="204",
        accept_url=f"https://homes.example.com/accept/{key}",
        expires_at=EXPIRES,
    )


def read_eml(path: Path) -> EmailMessage:
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_an_invite_becomes_an_eml_file_a_mail_client_can_open(tmp_path: Path) -> None:
    gateway = OutboxMailGateway(tmp_path / "outbox", clock=FakeClock(START))

    gateway.send_invite(invite())

    [eml] = (tmp_path / "outbox").glob("*.eml")
    message = read_eml(eml)
    assert message["To"] == "ann@example.com"
    assert message["From"] == DEFAULT_SENDER
    assert message["Date"].datetime == START
    digest = hashlib.sha256(b"invite:p1/u204/m1001:1").hexdigest()[:32]
    assert message["Message-ID"] == f"<{digest}@leasesync>"
    html = message.get_body(preferencelist=("html",))
    assert html is not None
    assert (
        "https://homes.example.com/accept/invite:p1/u204/m1001:1" in html.get_content()
    )


def test_listing_the_outbox_describes_each_message(tmp_path: Path) -> None:
    gateway = OutboxMailGateway(tmp_path, clock=FakeClock(START))

    gateway.send_invite(invite())

    [entry] = list_outbox(tmp_path)
    assert entry.at == START
    assert entry.to == "ann@example.com"
    assert entry.kind == "invite"
    assert entry.key == "invite:p1/u204/m1001:1"
    assert entry.accept_url == "https://homes.example.com/accept/invite:p1/u204/m1001:1"
    assert (entry.property_name, entry.unit_number) == ("Maple Court", "204")
    assert entry.expires_at == EXPIRES
    assert entry.path.suffix == ".eml"
    assert read_eml(entry.path)["To"] == "ann@example.com"


def test_a_repeated_key_is_dropped_and_the_first_message_kept(tmp_path: Path) -> None:
    clock = FakeClock(START)
    gateway = OutboxMailGateway(tmp_path, clock=clock)
    gateway.send_invite(invite())
    first = list_outbox(tmp_path)[0].path.read_bytes()

    clock.advance(hours=1)
    gateway.send_invite(invite())
    OutboxMailGateway(tmp_path, clock=clock).send_invite(invite())

    [entry] = list_outbox(tmp_path)
    assert entry.at == START
    assert entry.path.read_bytes() == first
    assert len(list(tmp_path.glob("*.eml"))) == 1


def test_different_keys_are_different_messages_even_when_their_names_look_alike(
    tmp_path: Path,
) -> None:
    gateway = OutboxMailGateway(tmp_path, clock=FakeClock(START))

    for key in ("invite:a/b", "invite:a_b", "invite:a?b"):
        gateway.send_invite(invite(key))

    assert sorted(entry.key for entry in list_outbox(tmp_path)) == [
        "invite:a/b",
        "invite:a?b",
        "invite:a_b",
    ]


def test_messages_are_listed_oldest_first(tmp_path: Path) -> None:
    clock = FakeClock(START)
    gateway = OutboxMailGateway(tmp_path, clock=clock)

    for key in ("k-3", "k-1", "k-2"):
        gateway.send_invite(invite(key))
        clock.advance(minutes=1)

    assert [entry.key for entry in list_outbox(tmp_path)] == ["k-3", "k-1", "k-2"]


def test_no_temporary_files_are_left_behind(tmp_path: Path) -> None:
    gateway = OutboxMailGateway(tmp_path, clock=FakeClock(START))

    gateway.send_invite(invite())
    gateway.send_invite(invite())

    assert sorted(path.suffix for path in tmp_path.iterdir()) == [".eml", ".json"]


def test_a_sidecar_left_by_a_crash_is_not_a_sent_message_and_a_retry_sends_it(
    tmp_path: Path,
) -> None:
    stem = outbox_stem("invite:p1/u204/m1001:1")
    (tmp_path / f"{stem}.json").write_text('{"at": "half-written')

    assert list_outbox(tmp_path) == []

    OutboxMailGateway(tmp_path, clock=FakeClock(START)).send_invite(invite())
    [entry] = list_outbox(tmp_path)
    assert entry.key == "invite:p1/u204/m1001:1"
    assert entry.at == START


def test_an_unreadable_sidecar_is_skipped_not_fatal(tmp_path: Path) -> None:
    gateway = OutboxMailGateway(tmp_path, clock=FakeClock(START))
    gateway.send_invite(invite("good"))
    gateway.send_invite(invite("broken"))
    (tmp_path / f"{outbox_stem('broken')}.json").write_text("[]")

    assert [entry.key for entry in list_outbox(tmp_path)] == ["good"]


def test_a_missing_outbox_lists_nothing(tmp_path: Path) -> None:
    assert list_outbox(tmp_path / "never-written") == []


def test_an_outbox_path_that_is_a_file_needs_a_human(tmp_path: Path) -> None:
    occupied = tmp_path / "outbox"
    occupied.write_text("not a folder")

    with pytest.raises(NeedsHumanError):
        OutboxMailGateway(occupied).send_invite(invite())


@pytest.mark.parametrize(
    "key", ["invite:p1/u204/m1001:1", "../../etc/passwd", "a" * 300, "///", "é ü"]
)
def test_file_names_stay_inside_the_folder_and_short(key: str) -> None:
    stem = outbox_stem(key)

    assert "/" not in stem and "\\" not in stem and not stem.startswith(".")
    assert 12 <= len(stem) <= 93
    assert stem.isascii()
