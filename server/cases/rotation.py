"""``python run.py rotate-key``: seal every case note and review decision again with a new key.

All values are opened with the keys the server has and sealed with the new key in one transaction: if anything
does not open, nothing is changed. Then the new key is put in place: in the key file (the previous key kept on
its second line, so a value sealed meanwhile by a server still running with it still opens), or, when the key
comes from the ``notes_key`` setting, printed for the operator to set (with the old one in
``notes_previous_keys`` until every server has restarted).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.cases.records import decision_place, note_place
from server.models import CaseNote, ReviewDecision
from server.sealing import Keyring, decode_key, key_file, load_keyring, new_key, write_key_file
from server.settings import Settings


@dataclass(frozen=True)
class Rotated:
    key: str  # the new key (base64url)
    values: int  # how many sealed values were sealed again
    in_file: bool  # the key file was updated (else the operator sets the new key)


async def rotate(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> Rotated:
    old = load_keyring(settings)
    key = new_key()
    new = Keyring(decode_key(key), (old.current, *old.previous))
    count = 0
    async with sessionmaker.begin() as db:
        for note in await db.scalars(select(CaseNote)):
            place = note_place(note.case_id)
            note.sealed = new.seal(old.open(note.sealed, place), place)
            count += 1
        for decision in await db.scalars(select(ReviewDecision)):
            place = decision_place(decision.case_id)
            decision.sealed = new.seal(old.open(decision.sealed, place), place)
            count += 1
    if settings.notes_key:
        return Rotated(key, count, in_file=False)
    path = key_file(settings)
    write_key_file(path, key, path.read_text().split()[0])  # the new key first, the one it replaces second
    return Rotated(key, count, in_file=True)
