"""The value types of settings: how each kind of ``ASCOLTO_*`` value is parsed, and a declared setting."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass


class SettingsError(ValueError):
    """A setting has a value that cannot be used."""


def parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected a boolean (true/false), got {raw!r}")


def parse_list(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def parse_networks(raw: str) -> tuple[str, ...]:
    """Comma-separated CIDRs (``10.0.0.0/8,::1``), checked and normalised."""
    return tuple(str(ipaddress.ip_network(item, strict=False)) for item in parse_list(raw))


def parse_hours(raw: str) -> tuple[int, ...]:
    """Comma-separated whole hours, e.g. ``24,1`` (empty: no reminders)."""
    hours = tuple(int(item) for item in parse_list(raw))
    if any(h <= 0 for h in hours):
        raise ValueError("expected positive whole hours, e.g. 24,1")
    return hours


def parse_ice_servers(raw: str) -> tuple[Mapping[str, object], ...]:
    """Either a JSON list of RTCIceServer dictionaries or a comma-separated list of URLs."""
    raw = raw.strip()
    if not raw:
        return ()
    if raw.startswith("["):
        servers = json.loads(raw)
        if not isinstance(servers, list) or not all(isinstance(s, dict) and "urls" in s for s in servers):
            raise ValueError("expected a JSON list of objects with 'urls'")
        return tuple(servers)
    return tuple({"urls": url} for url in parse_list(raw))


STAFF_ROLES = frozenset({"operator", "supervisor", "switchboard", "coordinator"})  # server.models.Role's values


@dataclass(frozen=True)
class Setting:
    name: str
    type: str
    default: object
    help: str
    parse: Callable[[str], object]

    @property
    def env(self) -> str:
        return f"ASCOLTO_{self.name.upper()}"
