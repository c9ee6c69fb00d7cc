"""Ascolto's command line: ``python run.py [serve|migrate|create-user|consult|demo] ...``.

It turns argv and ``ASCOLTO_*`` variables into :class:`server.settings.Settings` and hands them on;
``serve`` (the default) calls :func:`app.create_app`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

import cli
from server.settings import Settings, SettingsError


def _common(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    """The server options, accepted before or after the command (after it, they must not reset them)."""
    default = None if top else argparse.SUPPRESS
    parser.add_argument("--host", default=default, help="address to listen on (ASCOLTO_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=default, help="port to listen on (ASCOLTO_PORT, default 8080)")
    parser.add_argument(
        "--data-dir", type=Path, default=default, help="data directory (ASCOLTO_DATA_DIR, default ./data)"
    )
    parser.add_argument("--database-url", default=default, help="SQLAlchemy database URL (ASCOLTO_DATABASE_URL)")
    parser.add_argument("--public-url", default=default, help="base URL used in links (ASCOLTO_PUBLIC_URL)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run.py",
        description="Ascolto: video consultations for public psychological-support services.",
        epilog="Every setting can also come from an ASCOLTO_* environment variable: see README.md.",
    )
    _common(parser, top=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve the platform (the default command)")
    _common(serve)

    migrate = commands.add_parser("migrate", help="bring the database schema up to date and exit")
    _common(migrate)

    create_user = commands.add_parser("create-user", help="create a staff account")
    _common(create_user)
    create_user.add_argument("--email", required=True)
    create_user.add_argument("--name", required=True)
    create_user.add_argument("--role", required=True, choices=cli.ROLE_NAMES)
    create_user.add_argument("--discipline", default="", help="e.g. psicologa, criminologo, avvocata")
    create_user.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (otherwise one is generated and printed once)",
    )

    consult = commands.add_parser(
        "consult", help="create a consultation and print the citizen's and the operator's links"
    )
    _common(consult)
    consult.add_argument("--operator", required=True, metavar="EMAIL", help="the operator's login email")
    consult.add_argument("--citizen-name", default="Cittadino", metavar="NAME")

    demo = commands.add_parser("demo", help="fill an empty database with a believable demo organisation")
    _common(demo)
    rotate = commands.add_parser("rotate-key", help="seal every case note again with a new key")
    _common(rotate)
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        database_url=args.database_url,
        public_url=args.public_url,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = settings_from(args)
    except SettingsError as exc:
        print(f"run.py: {exc}", file=sys.stderr)
        return 2
    command = args.command or "serve"
    try:
        if command == "serve":
            return cli.serve(settings)
        return asyncio.run(cli.run_command(command, settings, args))
    except SettingsError as exc:  # found at start, e.g. a notes key file that others can read
        print(f"run.py: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
