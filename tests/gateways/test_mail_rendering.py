"""The invite e-mail: what it says, how it is built, and that it escapes PMS text."""

from __future__ import annotations

import hashlib
from datetime import datetime
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest

from leasesync.domain.errors import NeedsHumanError
from leasesync.domain.ports import InviteMessage
from leasesync.gateways.mail.rendering import (
    describe_moment,
    join_names,
    message_id_for,
    render_invite,
)

NEW_YORK = ZoneInfo("America/New_York")


def invite(**changes: object) -> InviteMessage:
    values: dict[str, object] = {
        "idempotency_key": "invite:p1/u204/m1001:1",
        "to": "ann@example.com",
        "recipient_names": ("Ann Lee", "Bob Lee"),
        "property_name": "Maple Court",
        "unit_number": "204",
        "accept_url": "https://homes.example.com/invites/accept?token=abc.def",
        # 14 March 2026 is a Saturday, after New York's switch to summer time (8 March).
        "expires_at": datetime(2026, 3, 14, 17, 0, tzinfo=NEW_YORK),
    }
    values.update(changes)
    return InviteMessage(**values)  # type: ignore[arg-type]


def bodies(email: EmailMessage) -> tuple[str, str]:
    text = email.get_body(preferencelist=("plain",))
    html = email.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())


def test_the_text_greets_everyone_and_says_where_how_and_until_when() -> None:
    text, _html = bodies(render_invite(invite()))

    assert text.startswith("Hello Ann Lee and Bob Lee,\n")
    assert "unit 204 at Maple Court" in text
    assert "\nhttps://homes.example.com/invites/accept?token=abc.def\n" in text
    assert "expires on Saturday 14 March 2026 at 5:00 PM EDT" in text


def test_the_html_alternative_carries_the_same_link_and_expiry() -> None:
    _text, html = bodies(render_invite(invite()))

    assert 'href="https://homes.example.com/invites/accept?token=abc.def"' in html
    assert "Hello Ann Lee and Bob Lee," in html
    assert "Saturday 14 March 2026 at 5:00 PM EDT" in html


def test_the_message_is_text_with_an_html_alternative_addressed_to_the_invitee() -> (
    None
):
    email = render_invite(invite())

    assert email.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in email.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert email["To"] == "ann@example.com"
    assert email["Subject"] == "Your invitation to unit 204 at Maple Court"
    assert email["Auto-Submitted"] == "auto-generated"
    assert email["From"] is None, "the gateway that sends it decides the sender"


def test_a_hostile_name_is_escaped_in_html_and_kept_verbatim_in_text() -> None:
    hostile = invite(
        recipient_names=('<script>alert("x")</script>',),
        property_name="Tom & Jerry's <b>Lofts</b>",
    )
    text, html = bodies(render_invite(hostile))

    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "Tom &amp; Jerry&#39;s &lt;b&gt;Lofts&lt;/b&gt;" in html
    assert '<script>alert("x")</script>' in text


def test_a_hostile_link_cannot_break_out_of_its_attribute() -> None:
    _text, html = bodies(
        render_invite(invite(accept_url='https://x.test/"><img src=y>'))
    )

    assert "<img" not in html
    assert 'href="https://x.test/&#34;&gt;&lt;img src=y&gt;"' in html


def test_the_message_id_is_derived_from_the_key_alone() -> None:
    expected = (
        "<" + hashlib.sha256(b"invite:p1/u204/m1001:1").hexdigest()[:32] + "@leasesync>"
    )

    first = render_invite(invite())
    again = render_invite(invite(recipient_names=("Ann Lee",)))
    other = render_invite(invite(idempotency_key="invite:p1/u204/m1001:2"))

    assert first["Message-ID"] == expected == again["Message-ID"]
    assert other["Message-ID"] != expected
    assert message_id_for("invite:p1/u204/m1001:1") == expected


def test_line_breaks_typed_into_the_pms_do_not_reach_the_subject() -> None:
    email = render_invite(invite(property_name="Maple\nCourt\r\nBcc: evil@x.test"))

    assert (
        email["Subject"]
        == "Your invitation to unit 204 at Maple Court Bcc: evil@x.test"
    )
    assert email["Bcc"] is None


def test_an_address_that_cannot_be_a_header_needs_a_human() -> None:
    with pytest.raises(NeedsHumanError):
        render_invite(invite(to="ann@example.com\nBcc: evil@x.test"))


def test_nobody_named_gets_a_plain_hello() -> None:
    text, _html = bodies(render_invite(invite(recipient_names=("", "  "))))

    assert text.startswith("Hello,\n")


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (("Ann",), "Ann"),
        (("Ann", "Bob"), "Ann and Bob"),
        (("Ann", "Bob", "Cy"), "Ann, Bob and Cy"),
        (("Ann", " ", "Cy"), "Ann and Cy"),
        ((), ""),
    ],
)
def test_names_are_joined_as_a_person_would_write_them(
    names: tuple[str, ...], expected: str
) -> None:
    assert join_names(names) == expected


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (
            datetime(2026, 1, 5, 0, 0, tzinfo=NEW_YORK),
            "Monday 5 January 2026 at 12:00 AM EST",
        ),
        (
            datetime(2026, 7, 4, 12, 30, tzinfo=NEW_YORK),
            "Saturday 4 July 2026 at 12:30 PM EDT",
        ),
        (datetime(2026, 12, 31, 23, 59), "Thursday 31 December 2026 at 11:59 PM"),
    ],
)
def test_moments_read_in_plain_words_in_their_own_zone(
    moment: datetime, expected: str
) -> None:
    assert describe_moment(moment) == expected
