"""Sealing case notes (and team-review decisions) at rest: AES-256-GCM with a key the database never holds.

A sealed value is ``v1.<key id>.<base64url(nonce + ciphertext + tag)>``. The key id (the first 8 hex digits of
the key's SHA-256) says which key sealed it, so that after a rotation (``python run.py rotate-key``) values sealed
with a previous key can still be opened until they are re-sealed. The associated data binds a value to its place
(e.g. ``case_note:<case id>``): a sealed note copied into another case does not open there.

The key comes from the ``notes_key`` setting (base64url of 32 bytes), or, when that is empty (the embedded
default), from the key file (the ``notes_key_file`` setting, else ``notes.key`` in the data folder), created on
first use, readable by its owner only. A key file that its group or others may read or write is refused
(:class:`KeyFileError`): the server does not start until it is ``chmod 600``.
Opening with the wrong key, or a value that was tampered with, raises :class:`SealError`: it never returns
garbage.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from server.setting_types import SettingsError
from server.settings import Settings

VERSION = "v1"
NONCE_BYTES = 12


class SealError(Exception):
    """A sealed value cannot be opened: unknown key, wrong key, or tampered with."""


class KeyFileError(SettingsError, SealError):
    """The key file may be read or written by someone other than its owner: the server refuses to start."""


def new_key() -> str:
    """A fresh key, as the ``notes_key`` setting takes it."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def decode_key(text: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except ValueError:
        raise SealError("the notes key is not base64url") from None
    if len(key) != 32:
        raise SealError("the notes key must be 32 bytes (base64url)")
    return key


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


@dataclass(frozen=True)
class Keyring:
    """The current key (which seals) and previous keys (which only open)."""

    current: bytes
    previous: tuple[bytes, ...] = ()

    @property
    def current_id(self) -> str:
        return key_id(self.current)

    def seal(self, text: str, place: str) -> str:
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = AESGCM(self.current).encrypt(nonce, text.encode(), place.encode())
        return f"{VERSION}.{self.current_id}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, value: str, place: str) -> str:
        version, _, rest = value.partition(".")
        wanted, _, payload = rest.partition(".")
        if version != VERSION or not payload:
            raise SealError("not a sealed value")
        key = next((k for k in (self.current, *self.previous) if key_id(k) == wanted), None)
        if key is None:
            raise SealError(f"sealed with a key this server does not have (key id {wanted})")
        try:
            raw = base64.urlsafe_b64decode(payload)
            return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], place.encode()).decode()
        except (InvalidTag, ValueError):
            raise SealError("the sealed value does not open with its key: tampered with, or moved") from None

    def needs_reseal(self, value: str) -> bool:
        return not value.startswith(f"{VERSION}.{self.current_id}.")


def key_file(settings: Settings) -> Path:
    """Where the key file is (the ``notes_key_file`` setting, else ``notes.key`` in the data folder)."""
    return settings.notes_key_path


def check_key_file(path: Path) -> None:
    """Raise :class:`KeyFileError` when the key file's group or others have any permission on it."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeyFileError(
            f"the notes key file {path} can be read or written by others (mode {mode:04o}); "
            f"make it readable by its owner only: chmod 600 {path}"
        )


def load_keyring(settings: Settings) -> Keyring:
    """The keyring of these settings: ``notes_key`` (and ``notes_previous_keys``), or the key file, made if new
    (in a folder made 0700 if new); a key file others may read is refused (:class:`KeyFileError`)."""
    previous = tuple(decode_key(k) for k in settings.notes_previous_keys)
    if settings.notes_key:
        return Keyring(decode_key(settings.notes_key), previous)
    path = key_file(settings)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_key_file(path, new_key())
    check_key_file(path)
    lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not lines:
        raise SealError(f"{path} holds no key")
    return Keyring(decode_key(lines[0]), previous + tuple(decode_key(k) for k in lines[1:]))


def write_key_file(path: Path, *keys: str) -> None:
    """Write the key file (the current key first, previous ones after), readable by its owner only."""
    temporary = path.with_suffix(".new")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # also when a leftover temporary file had another mode
    with os.fdopen(fd, "w") as out:
        out.write("\n".join(keys) + "\n")
    temporary.replace(path)
