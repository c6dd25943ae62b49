"""Mail gateways: invites rendered once, then written to a folder or sent by SMTP.

:mod:`.rendering` builds the message from an
:class:`~leasesync.domain.ports.InviteMessage`; :mod:`.outbox` is the embedded
default's mail system (files the dashboard lists); :mod:`.smtp` is production.
"""

from leasesync.gateways.mail.outbox import OutboxEntry, OutboxMailGateway, list_outbox
from leasesync.gateways.mail.rendering import message_id_for, render_invite
from leasesync.gateways.mail.smtp import SmtpMailGateway

__all__ = [
    "OutboxEntry",
    "OutboxMailGateway",
    "SmtpMailGateway",
    "list_outbox",
    "message_id_for",
    "render_invite",
]
