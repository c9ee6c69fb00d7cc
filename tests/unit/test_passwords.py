from __future__ import annotations

import pytest

from server.auth import hash_password, verify_password
from server.errors import InvalidInput


async def test_argon2id_hashes_verify_only_the_right_password() -> None:
    hashed = await hash_password("correct horse battery staple")
    assert hashed.startswith("$argon2id$")
    assert await verify_password(hashed, "correct horse battery staple")
    assert not await verify_password(hashed, "correct horse battery stapler")
    assert not await verify_password("not a hash", "whatever")


async def test_short_passwords_are_refused() -> None:
    with pytest.raises(InvalidInput):
        await hash_password("short")
