"""Random secrets and their stored digests. Secrets go to browsers; only SHA-256 digests are stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets

# 32 bytes = 256 bits of randomness, well above the 128 bits asked of any bearer token.
TOKEN_BYTES = 32


def new_secret() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
