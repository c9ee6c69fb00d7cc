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


# Join tokens are read aloud on the phone as often as they are clicked, so they use Crockford's base32: digits
# and lowercase letters without i, l, o and u, in groups of four. 28 characters carry 140 bits.
JOIN_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
JOIN_CHARS = 28
_READ_AS = str.maketrans({"o": "0", "i": "1", "l": "1", "-": None, " ": None, ".": None})


def new_join_token() -> str:
    n = secrets.randbits(5 * JOIN_CHARS)
    chars = [JOIN_ALPHABET[(n >> (5 * i)) & 31] for i in range(JOIN_CHARS)]
    return "-".join("".join(chars[i : i + 4]) for i in range(0, JOIN_CHARS, 4))


def normalise_join_token(typed: str) -> str:
    """What was typed or heard, in canonical form: case, dashes, spaces and look-alike letters do not matter."""
    return typed.strip().lower().translate(_READ_AS)


def join_digest(token: str) -> str:
    return digest(normalise_join_token(token))
