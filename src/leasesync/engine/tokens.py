"""Signed invite tokens: single-use, expiring, unforgeable (SPEC L3, L4).

A token signs the invite's id and its random nonce with the installation's secret.
The signature makes it unforgeable; the nonce ties it to one invite row, whose
status makes it single-use and whose ``expires_at`` makes it expire.
"""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer

from leasesync.domain.errors import LeasesyncError


class InvalidTokenError(LeasesyncError):
    """The link was tampered with or was not made by this installation."""


@dataclass(frozen=True, slots=True)
class InviteTokens:
    secret: str

    def _serializer(self) -> URLSafeSerializer:
        return URLSafeSerializer(self.secret, salt="leasesync-invite")

    def make(self, invite_id: int, nonce: str) -> str:
        return str(self._serializer().dumps([invite_id, nonce]))

    def read(self, token: str) -> tuple[int, str]:
        try:
            invite_id, nonce = self._serializer().loads(token)
        except (BadSignature, ValueError, TypeError) as error:
            raise InvalidTokenError("this invite link is not valid") from error
        return int(invite_id), str(nonce)
