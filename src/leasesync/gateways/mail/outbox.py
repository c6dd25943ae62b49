"""The outbox folder: the embedded default's mail system (SPEC §5).

With no SMTP server configured, every invite is written to a folder as an RFC 5322
``.eml`` file that any mail client opens, plus a JSON sidecar with the facts tooling
needs — the dashboard lists the outbox and the scenario harness counts e-mails from
it (FORMAT.md ``emails``) without parsing MIME.

Each message is named from its idempotency key, so a repeated delivery finds the
file already there and is dropped (SPEC L13). Writing is crash-safe: the sidecar is
replaced atomically first, then the ``.eml`` is published with a hard link from a
temporary file, which fails if the name exists. The ``.eml`` is therefore the commit
mark — a message is sent exactly when its ``.eml`` exists, complete — and a crash in
between leaves only a sidecar that the retry overwrites and that listing ignores.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from leasesync.domain.errors import NeedsHumanError, RetryLaterError
from leasesync.domain.ports import Clock, InviteMessage
from leasesync.gateways.mail.rendering import invite_subject, render_invite

logger = logging.getLogger(__name__)

DEFAULT_SENDER = "leasesync <noreply@leasesync.invalid>"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True, kw_only=True, slots=True)
class OutboxEntry:
    """One message in the outbox folder, as its sidecar describes it."""

    at: datetime
    to: str
    kind: str
    key: str
    accept_url: str
    subject: str
    property_name: str
    unit_number: str
    expires_at: datetime
    path: Path


class OutboxMailGateway:
    """A :class:`~leasesync.domain.ports.MailGateway` that writes files.

    ``clock`` stamps the ``Date`` header and the sidecar's ``at`` (the scenario
    harness passes its virtual clock); without one, the system clock in UTC.
    """

    def __init__(
        self, folder: Path, *, clock: Clock | None = None, sender: str = DEFAULT_SENDER
    ) -> None:
        self.folder = folder
        self._clock = clock
        self._sender = sender

    def send_invite(self, message: InviteMessage) -> None:
        """Write the invite, or do nothing when its key was written before."""
        sent_at = self._clock.now() if self._clock else datetime.now(UTC)
        email = render_invite(message)
        email["From"] = self._sender
        email["Date"] = format_datetime(sent_at)

        stem = outbox_stem(message.idempotency_key)
        sidecar = _sidecar(message, sent_at)
        try:
            written = self._publish(stem, email.as_bytes(), sidecar)
        except (PermissionError, FileExistsError, NotADirectoryError) as error:
            # A path that is a file, or not ours to write: settings, not weather.
            raise NeedsHumanError(
                f"the outbox {self.folder} is not writable"
            ) from error
        except OSError as error:
            raise RetryLaterError(
                f"could not write to the outbox {self.folder}"
            ) from error
        event = "invite_written" if written else "invite_repeat_dropped"
        logger.info(
            "Invite %s to the outbox",
            "written" if written else "already in",
            extra={"event": event, "idempotency_key": message.idempotency_key},
        )

    def _publish(self, stem: str, eml: bytes, sidecar: dict[str, str]) -> bool:
        self.folder.mkdir(parents=True, exist_ok=True)
        final = self.folder / f"{stem}.eml"
        if final.exists():
            return False

        # NB: sidecar before message; the .eml's appearance is what "sent" means.
        sidecar_bytes = json.dumps(sidecar, indent=2).encode("utf-8")
        _replace_atomically(self.folder / f"{stem}.json", sidecar_bytes)
        return _create_exclusively(final, eml)


def list_outbox(folder: Path) -> list[OutboxEntry]:
    """Every message in ``folder``, oldest first; unreadable sidecars are skipped."""
    if not folder.is_dir():
        return []
    entries = []
    for sidecar in folder.glob("*.json"):
        eml = sidecar.with_suffix(".eml")
        if sidecar.name.startswith(".") or not eml.exists():
            continue
        try:
            entries.append(_entry(json.loads(sidecar.read_text("utf-8")), eml))
        except (OSError, ValueError, KeyError, TypeError):
            logger.warning(
                "Unreadable outbox sidecar %s skipped",
                sidecar.name,
                extra={"event": "outbox_sidecar_unreadable"},
            )
    return sorted(entries, key=lambda entry: (entry.at, entry.key))


def outbox_stem(idempotency_key: str) -> str:
    """A file name for the key: readable, portable, and distinct for distinct keys.

    Characters outside ``[A-Za-z0-9._-]`` become ``_``; a digest of the whole key
    keeps ``"a/b"`` and ``"a_b"`` apart and the name short.
    """
    readable = _UNSAFE.sub("_", idempotency_key).strip("._")[:80]
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:12]
    return f"{readable}-{digest}" if readable else digest


def _sidecar(message: InviteMessage, sent_at: datetime) -> dict[str, str]:
    return {
        "at": sent_at.isoformat(),
        "to": message.to,
        "kind": "invite",
        "key": message.idempotency_key,
        "accept_url": message.accept_url,
        "subject": invite_subject(message),
        "property_name": message.property_name,
        "unit_number": message.unit_number,
        "expires_at": message.expires_at.isoformat(),
    }


def _entry(data: dict[str, Any], eml: Path) -> OutboxEntry:
    return OutboxEntry(
        at=datetime.fromisoformat(data["at"]),
        to=str(data["to"]),
        kind=str(data["kind"]),
        key=str(data["key"]),
        accept_url=str(data["accept_url"]),
        subject=str(data["subject"]),
        property_name=str(data["property_name"]),
        unit_number=str(data["unit_number"]),
        expires_at=datetime.fromisoformat(data["expires_at"]),
        path=eml,
    )


def _replace_atomically(path: Path, content: bytes) -> None:
    temporary = _temporary_beside(path)
    try:
        temporary.write_bytes(content)
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)


def _create_exclusively(path: Path, content: bytes) -> bool:
    """Publish ``content`` at ``path`` complete or not at all; False if it exists."""
    temporary = _temporary_beside(path)
    try:
        temporary.write_bytes(content)
        # A hard link, unlike a rename, refuses to replace: two workers racing on
        # one key cannot both believe they sent it.
        path.hardlink_to(temporary)
    except FileExistsError:
        return False
    finally:
        temporary.unlink(missing_ok=True)
    return True


def _temporary_beside(path: Path) -> Path:
    return path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
