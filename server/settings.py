"""The configuration of one server, :class:`Settings`: the values of the declared table of settings
(:mod:`server.settings_table`, re-exported here), checked. Values come, in increasing priority, from the defaults,
the environment and the command line.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.setting_types import STAFF_ROLES, Setting, SettingsError
from server.settings_table import SETTINGS, SETTINGS_BY_NAME

__all__ = ["SETTINGS", "SETTINGS_BY_NAME", "Setting", "Settings", "SettingsError"]


@dataclass(frozen=True)
class Settings:
    """The configuration of one server. Build it with :meth:`from_env` or directly in tests."""

    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("data")
    database_url: str = ""
    database_owner_url: str = ""
    database_pool_size: int = 10
    public_url: str = ""
    allowed_origins: tuple[str, ...] = ()
    ice_servers: tuple[Mapping[str, object], ...] = ()
    service_name: str = "Ascolto"
    service_phone: str = "02 0202"
    emergency_number: str = "112"
    quick_exit_url: str = "https://www.google.it/"
    consultation_minutes: int = 60
    join_early_minutes: int = 15
    join_late_minutes: int = 30
    session_idle_minutes: int = 30
    session_absolute_hours: int = 12
    login_max_failures: int = 5
    login_window_minutes: int = 15
    secure_cookies: bool = False
    trusted_proxies: tuple[str, ...] = ()
    mfa_roles: tuple[str, ...] = ("operator", "supervisor", "coordinator")
    ws_messages_per_second: int = 50
    ws_max_per_identity: int = 8
    ws_max_per_address: int = 64
    ws_max_total: int = 2000
    ws_heartbeat_seconds: int = 20
    sfu_last_n: int = 6
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    mail_from: str = "ascolto@localhost"
    reminder_hours: tuple[int, ...] = (24, 1)
    mail_max_attempts: int = 5
    notes_key: str = ""
    notes_key_file: Path = Path("")
    notes_previous_keys: tuple[str, ...] = ()
    supervisors_see_all_cases: bool = True
    retention_days: int = 3650
    stats_min_count: int = 5
    log_level: str = "INFO"
    log_json: bool = True

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Defaults, then ``ASCOLTO_*`` variables, then ``overrides`` (ignored when None)."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}  # Any: each value has its own setting's type, known at run time only
        for setting in SETTINGS:
            raw = environ.get(setting.env)
            if raw is not None:
                try:
                    values[setting.name] = setting.parse(raw)
                except (ValueError, json.JSONDecodeError) as exc:
                    raise SettingsError(f"{setting.env}: {exc}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values).validated()

    def validated(self) -> Settings:
        if not 0 < self.port < 65536:
            raise SettingsError(f"port must be between 1 and 65535, got {self.port}")
        for name in (
            "consultation_minutes",
            "session_idle_minutes",
            "session_absolute_hours",
            "login_max_failures",
            "login_window_minutes",
            "ws_messages_per_second",
            "ws_heartbeat_seconds",
            "ws_max_per_identity",
            "ws_max_per_address",
            "ws_max_total",
            "sfu_last_n",
            "mail_max_attempts",
            "retention_days",
            "stats_min_count",
        ):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{name} must be positive")
        if self.public_url and not self.public_url.startswith(("http://", "https://")):
            raise SettingsError("public_url must start with http:// or https://")
        unknown = set(self.mfa_roles) - STAFF_ROLES
        if unknown:
            raise SettingsError(f"mfa_roles: unknown role(s) {', '.join(sorted(unknown))}")
        return self

    @property
    def https(self) -> bool:
        """The site is reached over HTTPS (its ``public_url`` says so): cookies are Secure, responses carry HSTS."""
        return self.public_url.startswith("https://")

    @property
    def cookies_secure(self) -> bool:
        return self.secure_cookies or self.https

    @property
    def notes_key_path(self) -> Path:
        """Where the notes key file is (used when ``notes_key`` is empty)."""
        return self.notes_key_file if str(self.notes_key_file) not in ("", ".") else self.data_dir / "notes.key"

    @property
    def base_url(self) -> str:
        """The site's own origin plus any path prefix, without a trailing slash."""
        if self.public_url:
            return self.public_url.rstrip("/")
        return f"http://{self.host}:{self.port}"

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'ascolto.sqlite3').resolve()}"

    def replace(self, **changes: Any) -> Settings:  # Any: each change has its own field's type
        return dataclasses.replace(self, **changes).validated()
