"""The invite e-mail, rendered once for every mail gateway (SPEC L3, issue #6).

An :class:`~leasesync.domain.ports.InviteMessage` says who to invite where; this
module turns it into a complete :class:`email.message.EmailMessage`: a plain-text
body, an HTML alternative, a subject and a ``Message-ID``. Both gateways in this
package — the outbox folder of the embedded default and SMTP in production — send
exactly what :func:`render_invite` returns, adding only the headers that belong to
the act of sending (``From`` and ``Date``).

The ``Message-ID`` is derived from the idempotency key, so a message delivered twice
after a crash carries the same id and a receiving system can drop the repeat (SPEC
L13). The HTML template escapes everything it is given: names come from the PMS,
where anyone can type anything.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from email.message import EmailMessage

import jinja2

from leasesync.domain.errors import NeedsHumanError
from leasesync.domain.ports import InviteMessage

_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("leasesync.gateways", "templates"),
    autoescape=jinja2.select_autoescape(
        enabled_extensions=("html.j2",), default=False, default_for_string=False
    ),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)

# NB: spelled out rather than strftime("%A"), which follows the process locale.
_WEEKDAYS = (
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
)
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def render_invite(message: InviteMessage) -> EmailMessage:
    """Build the invite e-mail, without ``From`` and ``Date``.

    Raises :class:`NeedsHumanError` when the recipient address cannot be written in
    a header at all (a line break in it): no retry will fix the PMS record.
    """
    context = _context(message)
    email = EmailMessage()
    try:
        email["To"] = message.to
    except ValueError as error:
        raise NeedsHumanError("the invite's address is not a usable e-mail") from error

    email["Subject"] = context["subject"]
    email["Message-ID"] = message_id_for(message.idempotency_key)
    # Asks vacation responders and list servers not to answer a robot.
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(_ENVIRONMENT.get_template("invite.txt.j2").render(context))
    html = _ENVIRONMENT.get_template("invite.html.j2").render(context)
    email.add_alternative(html, subtype="html")
    return email


def message_id_for(idempotency_key: str) -> str:
    """The ``Message-ID`` every delivery of one effect carries (SPEC L13)."""
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}@leasesync>"


def invite_subject(message: InviteMessage) -> str:
    """The subject line: one line, whatever the PMS put in the names."""
    place = _one_line(message.property_name)
    return f"Your invitation to unit {_one_line(message.unit_number)} at {place}"


def describe_moment(at: datetime) -> str:
    """``at`` in plain words in its own time zone: "Monday 9 March 2026 at 2:05 PM EDT"."""
    hour = at.hour % 12 or 12
    half = "AM" if at.hour < 12 else "PM"
    zone = at.tzname()
    day = f"{_WEEKDAYS[at.weekday()]} {at.day} {_MONTHS[at.month - 1]} {at.year}"
    clock = f"{hour}:{at.minute:02d} {half}"
    return f"{day} at {clock} {zone}" if zone else f"{day} at {clock}"


def join_names(names: tuple[str, ...]) -> str:
    """ "Ann", "Ann and Bob", "Ann, Bob and Cy"; blank names are left out."""
    kept = [_one_line(name) for name in names if name.strip()]
    if len(kept) < 2:
        return "".join(kept)
    return f"{', '.join(kept[:-1])} and {kept[-1]}"


def _context(message: InviteMessage) -> dict[str, str]:
    return {
        "subject": invite_subject(message),
        "names": join_names(message.recipient_names),
        "property_name": _one_line(message.property_name),
        "unit_number": _one_line(message.unit_number),
        "accept_url": message.accept_url,
        "expires": describe_moment(message.expires_at),
    }


def _one_line(text: str) -> str:
    return " ".join(text.split())
