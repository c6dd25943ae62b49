"""The staff API's bearer token.

There is one token per installation, derived from the secret key, so that it needs no
setting of its own and survives restarts: ``leasesync serve`` prints it at start.
Anyone who knows the secret key can compute it; anyone who knows the token can only
call the API. Comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

_PURPOSE = b"leasesync staff api token v1"


def staff_token(secret_key: str) -> str:
    """The installation's staff API token, derived from its secret key."""
    digest = hmac.new(secret_key.encode("utf-8"), _PURPOSE, hashlib.sha256)
    return digest.hexdigest()


def token_matches(given: str | None, expected: str) -> bool:
    return given is not None and secrets.compare_digest(given, expected)
