"""``Idempotency-Key`` for POSTs: the same key with the same body gets the first answer again, and one booking.

A record is written in the same transaction as the booking it answers, so there is an answer to replay exactly
when there is a booking. Only successful answers are kept: an error wrote nothing, and the client may retry it.
The same key with another body is refused (422). Records live for :data:`TTL`.

The stored answer holds the citizen's join and manage links, and the database keeps only digests of those tokens.
So the answer is encrypted (AES-GCM) with a key derived from the idempotency key, which only the client knows;
the record's primary key is another digest of it, scoped to who asked (the public, or one staff member).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.errors import AscoltoError, InvalidInput
from server.models import IdempotencyRecord

HEADER = "Idempotency-Key"
MAX_KEY = 200
TTL = timedelta(hours=24)


class IdempotencyKeyReused(AscoltoError):
    status = 422
    code = "idempotency_key_reused"


@dataclass(frozen=True)
class IdempotencyKey:
    """A client's key, scoped to who sent it, and the digest of the request it came with."""

    scope: str  # "public" or "staff:<id>"
    key: str
    request_hash: str

    @classmethod
    def of(cls, raw: str | None, scope: str, payload: object) -> IdempotencyKey | None:
        if raw is None:
            return None
        if not raw.strip() or len(raw) > MAX_KEY:
            raise InvalidInput("the Idempotency-Key header is not valid", {HEADER: "invalid"})
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return cls(scope, raw, hashlib.sha256(canonical.encode()).hexdigest())

    @property
    def record_id(self) -> str:
        return hashlib.sha256(f"record\n{self.scope}\n{self.key}".encode()).hexdigest()

    def _cipher(self) -> AESGCM:
        return AESGCM(hashlib.sha256(f"answer\n{self.scope}\n{self.key}".encode()).digest())

    def seal(self, body: str) -> str:
        nonce = os.urandom(12)
        return base64.b64encode(nonce + self._cipher().encrypt(nonce, body.encode(), None)).decode()

    def open(self, sealed: str) -> str:
        raw = base64.b64decode(sealed)
        return self._cipher().decrypt(raw[:12], raw[12:], None).decode()


@dataclass(frozen=True)
class Replay:
    status: int
    body: object  # JSON


async def lookup(sessionmaker: async_sessionmaker[AsyncSession], key: IdempotencyKey, now: datetime) -> Replay | None:
    """The first answer to this key, or None; IdempotencyKeyReused when the key came with another body."""
    async with sessionmaker() as db:
        row = await db.get(IdempotencyRecord, key.record_id)
    if row is None or row.created_at + TTL <= now:
        return None
    if row.request_hash != key.request_hash:
        raise IdempotencyKeyReused("this Idempotency-Key was used for another request")
    try:
        return Replay(row.status, json.loads(key.open(row.body)))
    except (InvalidTag, ValueError):
        raise IdempotencyKeyReused("this Idempotency-Key was used for another request") from None


async def answer_row(
    db: AsyncSession, key: IdempotencyKey, status: int, body: object, now: datetime
) -> IdempotencyRecord:
    """The record of the first answer to ``key``, for the caller to write with the change it answers; an expired
    record of the same key is deleted first."""
    await db.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.key == key.record_id, IdempotencyRecord.created_at <= now - TTL
        )
    )
    return IdempotencyRecord(
        key=key.record_id,
        request_hash=key.request_hash,
        status=status,
        body=key.seal(json.dumps(body)),
        created_at=now,
    )
