from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from server.settings import SETTINGS, Settings, SettingsError

README = Path(__file__).parents[2] / "README.md"


def test_every_setting_is_declared_once_and_matches_the_dataclass() -> None:
    declared = [s.name for s in SETTINGS]
    assert len(declared) == len(set(declared))
    assert declared == [f.name for f in dataclasses.fields(Settings)]
    defaults = Settings()
    for setting in SETTINGS:
        assert getattr(defaults, setting.name) == setting.default, setting.name
        assert setting.help.endswith("."), setting.name


def test_every_setting_is_documented() -> None:
    docs = README.read_text()
    for setting in SETTINGS:
        assert f"| `{setting.name}` | `{setting.env}` |" in docs, f"{setting.name} missing from README.md"


def test_environment_then_overrides() -> None:
    env = {"ASCOLTO_PORT": "9000", "ASCOLTO_HOST": "0.0.0.0", "ASCOLTO_LOG_JSON": "no"}
    settings = Settings.from_env(env, host="127.0.0.2", port=None)
    assert settings.port == 9000
    assert settings.host == "127.0.0.2"  # the command line wins
    assert settings.log_json is False


def test_ice_servers_from_urls_or_json() -> None:
    urls = Settings.from_env({"ASCOLTO_ICE_SERVERS": "stun:a.example:3478, turn:b.example"})
    assert urls.ice_servers == ({"urls": "stun:a.example:3478"}, {"urls": "turn:b.example"})
    as_json = Settings.from_env({"ASCOLTO_ICE_SERVERS": '[{"urls": "turn:t", "username": "u", "credential": "c"}]'})
    assert as_json.ice_servers[0]["username"] == "u"


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("ASCOLTO_PORT", "eighty", "ASCOLTO_PORT"),
        ("ASCOLTO_PORT", "70000", "port"),
        ("ASCOLTO_SECURE_COOKIES", "perhaps", "boolean"),
        ("ASCOLTO_ICE_SERVERS", '[{"nourl": 1}]', "urls"),
        ("ASCOLTO_PUBLIC_URL", "ftp://x", "public_url"),
        ("ASCOLTO_SESSION_IDLE_MINUTES", "0", "positive"),
    ],
)
def test_bad_values_are_explained(variable: str, value: str, fragment: str) -> None:
    with pytest.raises(SettingsError, match=fragment):
        Settings.from_env({variable: value})


def test_base_url_and_database_url() -> None:
    settings = Settings(host="127.0.0.1", port=8123, data_dir=Path("/tmp/x"))
    assert settings.base_url == "http://127.0.0.1:8123"
    assert settings.sqlalchemy_url == "sqlite+aiosqlite:////tmp/x/ascolto.sqlite3"
    public = settings.replace(public_url="https://ascolto.example.org/", database_url="postgresql+asyncpg://db/x")
    assert public.base_url == "https://ascolto.example.org"
    assert public.sqlalchemy_url == "postgresql+asyncpg://db/x"
