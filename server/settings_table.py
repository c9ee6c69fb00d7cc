"""The one declared table of settings.

Every setting has a name, a type, a default, an ``ASCOLTO_*`` environment variable and a line of help.
``README.md`` lists them all (a test checks it), and ``run.py`` exposes the most common ones as
command-line flags. :class:`server.settings.Settings` holds one server's values.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from server.setting_types import (
    Setting,
    parse_bool,
    parse_hours,
    parse_ice_servers,
    parse_list,
    parse_networks,
)

SETTINGS: tuple[Setting, ...] = (
    Setting("host", "str", "127.0.0.1", "Address the server listens on.", str),
    Setting("port", "int", 8080, "Port the server listens on.", int),
    Setting(
        "data_dir",
        "path",
        Path("data"),
        "Directory for the embedded SQLite database and other local state.",
        Path,
    ),
    Setting(
        "database_url",
        "str",
        "",
        "SQLAlchemy URL of the database, e.g. postgresql+asyncpg://user@host/db. "
        "Empty means a SQLite file in the data directory.",
        str,
    ),
    Setting(
        "database_owner_url",
        "str",
        "",
        "PostgreSQL URL of the role that owns the schema: migrations run as it, the server works as "
        "`database_url`'s less privileged role (docs/deployment.md). Empty: migrate with `database_url`.",
        str,
    ),
    Setting(
        "database_pool_size",
        "int",
        10,
        "Database connections kept open (PostgreSQL). Busier moments open up to as many again, closed after use.",
        int,
    ),
    Setting(
        "public_url",
        "str",
        "",
        "Base URL people reach the site at, used in join links and for the WebSocket Origin check. "
        "Empty means http://HOST:PORT.",
        str,
    ),
    Setting(
        "allowed_origins",
        "list",
        (),
        "Extra Origins (comma-separated) allowed to open the signaling WebSocket besides the site's own.",
        parse_list,
    ),
    Setting(
        "ice_servers",
        "ice",
        (),
        "STUN/TURN servers for the browsers: comma-separated URLs, or a JSON list of RTCIceServer objects. "
        "Empty: host candidates only, enough for loopback and LAN calls.",
        parse_ice_servers,
    ),
    Setting("service_name", "str", "Ascolto", "Name of the service shown on every page.", str),
    Setting(
        "service_phone",
        "str",
        "02 0202",
        "Phone number of the service, shown to citizens when a call cannot go ahead.",
        str,
    ),
    Setting("emergency_number", "str", "112", "Emergency number shown to citizens.", str),
    Setting(
        "quick_exit_url",
        "str",
        "https://www.google.it/",
        "Neutral site the citizen's quick-exit button leaves for.",
        str,
    ),
    Setting(
        "consultation_minutes",
        "int",
        60,
        "Default length of a consultation created from the console, in minutes.",
        int,
    ),
    Setting(
        "join_early_minutes",
        "int",
        15,
        "How many minutes before its start a citizen's join link starts to work.",
        int,
    ),
    Setting(
        "join_late_minutes",
        "int",
        30,
        "How many minutes after its planned end a citizen's join link keeps working.",
        int,
    ),
    Setting("session_idle_minutes", "int", 30, "Staff sessions end after this much inactivity.", int),
    Setting("session_absolute_hours", "int", 12, "Staff sessions end this long after login.", int),
    Setting(
        "login_max_failures",
        "int",
        5,
        "Login attempts allowed in a row for one account from one client address; after them each further attempt "
        "waits, 2 seconds doubling up to 5 minutes. The account from any address allows 4 times as many, one "
        "address across all accounts 20 times as many. A correct password clears the account-and-address count.",
        int,
    ),
    Setting(
        "login_window_minutes",
        "int",
        15,
        "Minutes without a counted login attempt after which the throttle forgets a key's attempts.",
        int,
    ),
    Setting(
        "secure_cookies",
        "bool",
        False,
        "Mark cookies Secure even when `public_url` is not https (they always are when it is).",
        parse_bool,
    ),
    Setting(
        "trusted_proxies",
        "list",
        (),
        "Addresses or CIDRs of reverse proxies whose X-Forwarded-For is believed (comma-separated): the right-most "
        "entry that is not itself a trusted proxy is the client. Empty: none, the peer address is the client's.",
        parse_networks,
    ),
    Setting(
        "mfa_roles",
        "list",
        ("operator", "supervisor", "coordinator"),
        "Staff roles that must log in with a second factor (TOTP), comma-separated. Default: every role that "
        "can read case data. Empty: no role must (demos and tests).",
        parse_list,
    ),
    Setting(
        "ws_messages_per_second",
        "int",
        50,
        "Sustained signaling messages per second allowed per WebSocket (bursts up to twice that).",
        int,
    ),
    Setting(
        "ws_max_per_identity",
        "int",
        8,
        "Signaling WebSockets one person (a citizen's pass, a staff member) may hold open at once, all endpoints "
        "together.",
        int,
    ),
    Setting(
        "ws_max_per_address",
        "int",
        64,
        "Signaling WebSockets one client address may hold open at once (a whole office may share one).",
        int,
    ),
    Setting("ws_max_total", "int", 2000, "Signaling WebSockets this process holds open at most.", int),
    Setting(
        "ws_heartbeat_seconds",
        "int",
        20,
        "Interval of WebSocket pings; a peer that misses one is dropped.",
        int,
    ),
    Setting(
        "sfu_last_n",
        "int",
        6,
        "In a group supervision room, video is forwarded for this many most recent speakers (plus screen shares); "
        "audio for everyone.",
        int,
    ),
    Setting(
        "smtp_host",
        "str",
        "",
        "SMTP server for outgoing email. Empty: no SMTP, emails are kept in the outbox for staff to read.",
        str,
    ),
    Setting("smtp_port", "int", 25, "Port of the SMTP server.", int),
    Setting("smtp_username", "str", "", "SMTP user name (empty: no authentication).", str),
    Setting("smtp_password", "str", "", "SMTP password.", str),
    Setting("smtp_starttls", "bool", False, "Upgrade the SMTP connection with STARTTLS.", parse_bool),
    Setting("mail_from", "str", "ascolto@localhost", "Sender address of outgoing email.", str),
    Setting(
        "reminder_hours",
        "list",
        (24, 1),
        "Hours before a session at which a reminder email is sent (comma-separated).",
        parse_hours,
    ),
    Setting(
        "mail_max_attempts",
        "int",
        5,
        "Delivery attempts of an email before it is marked failed.",
        int,
    ),
    Setting(
        "notes_key",
        "str",
        "",
        "Key that seals case notes at rest (base64url of 32 bytes; `python run.py rotate-key` makes one). "
        "Empty: the key is kept in the file `notes_key_file`, made on first start.",
        str,
    ),
    Setting(
        "notes_key_file",
        "path",
        Path(""),
        "File that holds the notes key when `notes_key` is empty (made 0600 on first start; the server refuses "
        "a key file that others can read). Empty: `notes.key` in the data folder; keep it off the database's "
        "disk and backups in production.",
        Path,
    ),
    Setting(
        "notes_previous_keys",
        "list",
        (),
        "Earlier notes keys (comma-separated), to open notes not yet re-sealed after a rotation.",
        parse_list,
    ),
    Setting(
        "supervisors_see_all_cases",
        "bool",
        True,
        "Supervisors see every case of the service (notes and risk included); when off, only cases shared with them.",
        parse_bool,
    ),
    Setting(
        "retention_days",
        "int",
        3650,
        "Case notes and citizens' personal data older than this many days are purged (the figures are kept).",
        int,
    ),
    Setting(
        "stats_min_count",
        "int",
        5,
        "Statistics show counts below this as suppressed, so that nobody can be singled out.",
        int,
    ),
    Setting("log_level", "str", "INFO", "Logging level (DEBUG, INFO, WARNING, ERROR).", str),
    Setting("log_json", "bool", True, "Write logs as one JSON object per line.", parse_bool),
)

SETTINGS_BY_NAME: Mapping[str, Setting] = {s.name: s for s in SETTINGS}
