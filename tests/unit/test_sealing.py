"""Sealing notes at rest: what is stored is not the text, opens only with its key and in its place, and the keys
survive a rotation."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from server.sealing import (
    KeyFileError,
    Keyring,
    SealError,
    decode_key,
    key_file,
    load_keyring,
    new_key,
    write_key_file,
)
from server.setting_types import SettingsError
from server.settings import Settings

TEXT = "Riferisce pensieri di farsi del male; concordato un piano di sicurezza."


def keyring() -> Keyring:
    return Keyring(decode_key(new_key()))


def test_sealed_text_is_not_readable_and_opens_back() -> None:
    ring = keyring()
    sealed = ring.seal(TEXT, "case_note:C1")
    assert TEXT not in sealed and "farsi" not in sealed
    assert sealed.startswith(f"v1.{ring.current_id}.")
    assert ring.open(sealed, "case_note:C1") == TEXT
    assert ring.seal(TEXT, "case_note:C1") != sealed  # a fresh nonce each time


def test_the_wrong_key_a_tampered_value_or_another_place_fail_loudly() -> None:
    ring = keyring()
    sealed = ring.seal(TEXT, "case_note:C1")
    with pytest.raises(SealError, match="key this server does not have"):
        keyring().open(sealed, "case_note:C1")
    same_id = Keyring(decode_key(new_key()))
    forged = sealed.replace(f".{ring.current_id}.", f".{same_id.current_id}.")
    with pytest.raises(SealError, match="does not open"):
        same_id.open(forged, "case_note:C1")
    with pytest.raises(SealError, match="does not open"):
        ring.open(sealed, "case_note:C2")  # copied into another case
    with pytest.raises(SealError, match="does not open"):
        ring.open(sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB"), "case_note:C1")
    with pytest.raises(SealError, match="not a sealed value"):
        ring.open(TEXT, "case_note:C1")


def test_a_previous_key_still_opens_and_tells_what_needs_resealing() -> None:
    old = keyring()
    sealed = old.seal(TEXT, "p")
    new = Keyring(decode_key(new_key()), (old.current,))
    assert new.open(sealed, "p") == TEXT
    assert new.needs_reseal(sealed) and not new.needs_reseal(new.seal(TEXT, "p"))


def test_the_key_file_is_made_once_and_readable_by_its_owner_only(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    first = load_keyring(settings)
    path = key_file(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_keyring(settings) == first
    write_key_file(path, new_key(), path.read_text().split()[0])
    rotated = load_keyring(settings)
    assert rotated.current != first.current and rotated.previous == (first.current,)


def test_a_key_from_the_settings_and_bad_keys(tmp_path: Path) -> None:
    key = new_key()
    ring = load_keyring(Settings(data_dir=tmp_path, notes_key=key))
    assert ring.current == decode_key(key) and not key_file(Settings(data_dir=tmp_path)).exists()
    for bad in ("short", "!!!not base64!!!"):
        with pytest.raises(SealError):
            decode_key(bad)


def test_a_key_file_others_can_read_or_write_refuses_to_start(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    load_keyring(settings)  # made by the server: 0600, accepted
    path = key_file(settings)
    for loose in (0o644, 0o640, 0o602):
        path.chmod(loose)
        with pytest.raises(KeyFileError, match="chmod 600") as refused:
            load_keyring(settings)
        assert str(path) in str(refused.value) and isinstance(refused.value, SettingsError)
    path.chmod(0o600)
    load_keyring(settings)


def test_the_key_file_setting_keeps_the_key_away_from_the_data_folder(tmp_path: Path) -> None:
    elsewhere = tmp_path / "keys" / "ascolto-notes.key"
    settings = Settings(data_dir=tmp_path / "data", notes_key_file=elsewhere)
    ring = load_keyring(settings)
    assert key_file(settings) == elsewhere and elsewhere.exists()
    assert not (tmp_path / "data" / "notes.key").exists()
    assert stat.S_IMODE(elsewhere.stat().st_mode) == 0o600
    assert stat.S_IMODE(elsewhere.parent.stat().st_mode) == 0o700
    assert decode_key(elsewhere.read_text().split()[0]) == ring.current
