"""Secrets handed to gateways, kept out of logs and reprs (SPEC §5).

Settings hold passwords and tokens as pydantic ``SecretStr`` so that printing the
settings shows stars; gateways accept either that or a plain string and reveal the
value only at the moment they put it on the wire.
"""

from __future__ import annotations

from typing import Protocol


class SupportsSecret(Protocol):
    """Anything that, like pydantic's ``SecretStr``, reveals its value on request."""

    def get_secret_value(self) -> str: ...


Secret = str | SupportsSecret


def reveal(secret: Secret) -> str:
    """The secret's value, for the wire only: never log what this returns."""
    return secret if isinstance(secret, str) else secret.get_secret_value()
