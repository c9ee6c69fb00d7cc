"""What the command line does: serve, migrate, create-user, consult, demo (``run.py`` parses argv)."""

from __future__ import annotations

import argparse
import gc
import logging
import secrets
import sys
from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import create_app
from server import auth, consultations, logs, sealing
from server.cases import rotation
from server.db import create_engine, make_sessionmaker, migrate_as_owner
from server.errors import InvalidInput
from server.models import Role, Service, Staff
from server.sealing import SealError
from server.settings import Settings
from web.links import join_url, operator_url

log = logging.getLogger(__name__)

ROLE_NAMES = [role.value for role in Role]


def tune_gc() -> None:
    """Requests allocate many short-lived objects (rows, statements, responses): collect the youngest generation
    ten times less often than Python's default of every 700 allocations. It costs a little memory and saves
    several per cent of CPU on the booking path (``make bench``)."""
    gc.set_threshold(7000, 10, 10)


def serve(settings: Settings) -> int:
    logs.configure(settings.log_level, settings.log_json)
    tune_gc()
    app = create_app(settings)
    log.info("serving on %s", settings.base_url)
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        access_log_class=logs.AccessLogger,
        print=None,
        shutdown_timeout=5,
    )
    return 0


Command = Callable[[async_sessionmaker[AsyncSession], Settings, argparse.Namespace], Awaitable[int]]


async def run_command(name: str, settings: Settings, args: argparse.Namespace) -> int:
    """Open the database (migrating it), run one command, close."""
    logs.configure("WARNING", as_json=False)
    engine = create_engine(settings)
    try:
        await migrate_as_owner(settings, engine)
        return await COMMANDS[name](make_sessionmaker(engine), settings, args)
    except InvalidInput as exc:
        details = "; ".join(f"{k}: {v}" for k, v in exc.fields.items())
        print(f"run.py {name}: {exc.message}" + (f" ({details})" if details else ""), file=sys.stderr)
        return 2
    finally:
        await engine.dispose()


async def _migrate(_sm: async_sessionmaker[AsyncSession], _settings: Settings, _args: argparse.Namespace) -> int:
    print("database is up to date")
    return 0


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def mfa_lines(settings: Settings, roles: set[str]) -> list[str]:
    """What a newcomer of these roles needs to know about the second factor at their first login."""
    required = sorted(roles & set(settings.mfa_roles))
    if not required:
        return []
    return [
        f"two-step verification (MFA) is required for: {', '.join(required)}.",
        "  At the first login they are led through enrolment: an authenticator app on the phone (FreeOTP, Aegis,",
        "  Google or Microsoft Authenticator) scans a QR code; ten one-time recovery codes are shown once.",
        "  For a demo without it, start the server with ASCOLTO_MFA_ROLES= (empty: no role must).",
    ]


async def _create_user(sm: async_sessionmaker[AsyncSession], settings: Settings, args: argparse.Namespace) -> int:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        generated = False
    else:
        password, generated = generate_password(), True
    staff = await auth.create_staff(
        sm, email=args.email, name=args.name, role=Role(args.role), password=password, discipline=args.discipline
    )
    print(f"created {staff.role.value} {staff.email}")
    if generated:
        print(f"password (shown only now): {password}")
    for line in mfa_lines(settings, {staff.role.value}):
        print(line)
    return 0


async def _consult(sm: async_sessionmaker[AsyncSession], settings: Settings, args: argparse.Namespace) -> int:
    async with sm() as db:
        operator = await db.scalar(select(Staff).where(Staff.email == auth.normalise_email(args.operator)))
    if operator is None or not operator.active:
        print(f"run.py consult: no active staff member with email {args.operator}", file=sys.stderr)
        return 2
    new = await consultations.create_consultation(sm, settings, operator=operator, citizen_name=args.citizen_name)
    app = create_app(settings)  # for its URL map only; nothing is started
    print(f"citizen: {join_url(app, new.token)}")
    print(f"operator: {operator_url(app, new.consultation.id)}")
    return 0


DEMO_SERVICES = [
    ("emergenza", "Servizio di emergenza psicologica e relazionale", "02 0202"),
    ("vittime", "Sostegno alle vittime di reato (psicotrauma)", "02 0203"),
    ("criminologico", "Servizio criminologico", "02 0204"),
    ("mediazione", "Mediazione sociale e penale", "02 0205"),
]

DEMO_STAFF = [
    ("coordinamento@example.org", "Giulia Ferrari", Role.COORDINATOR, ""),
    ("supervisione@example.org", "Dott. Marco Bianchi", Role.SUPERVISOR, "psicoterapeuta"),
    ("rossi@example.org", "Dott.ssa Laura Rossi", Role.OPERATOR, "psicologa"),
    ("conti@example.org", "Dott. Luca Conti", Role.OPERATOR, "criminologo"),
    ("greco@example.org", "Avv. Sara Greco", Role.OPERATOR, "avvocata"),
    ("centralino@example.org", "Paolo Esposito", Role.SWITCHBOARD, ""),
]


async def _demo(sm: async_sessionmaker[AsyncSession], settings: Settings, _args: argparse.Namespace) -> int:
    async with sm() as db:
        if await db.scalar(select(func.count()).select_from(Staff)):
            print("run.py demo: the database already has staff; the demo fills only an empty one", file=sys.stderr)
            return 2
    async with sm.begin() as db:
        db.add_all(Service(slug=slug, name=name, phone=phone) for slug, name, phone in DEMO_SERVICES)
    password = generate_password()
    for email, name, role, discipline in DEMO_STAFF:
        await auth.create_staff(sm, email=email, name=name, role=role, password=password, discipline=discipline)
    print(f"demo organisation created: {len(DEMO_SERVICES)} services, {len(DEMO_STAFF)} staff")
    for email, name, role, _ in DEMO_STAFF:
        print(f"  {role.value:<12} {email:<28} {name}")
    print(f"password for every demo account (shown only now): {password}")
    for line in mfa_lines(settings, {role.value for _, _, role, _ in DEMO_STAFF}):
        print(line)
    print(f"try: python run.py consult --operator {DEMO_STAFF[2][0]} --citizen-name Maria")
    return 0


async def _rotate_key(sm: async_sessionmaker[AsyncSession], settings: Settings, _args: argparse.Namespace) -> int:
    try:
        rotated = await rotation.rotate(sm, settings)
    except SealError as exc:
        print(f"run.py rotate-key: nothing changed: {exc}", file=sys.stderr)
        return 1
    print(f"{rotated.values} sealed notes and decisions now use the new key.")
    if rotated.in_file:
        print(f"The key file {sealing.key_file(settings)} holds the new key (and the previous one, second).")
    else:
        print("Set ASCOLTO_NOTES_KEY to this key and restart every server; keep the old key in")
        print(f"ASCOLTO_NOTES_PREVIOUS_KEYS until they have all restarted:\n{rotated.key}")
    return 0


COMMANDS: dict[str, Command] = {
    "migrate": _migrate,
    "create-user": _create_user,
    "consult": _consult,
    "demo": _demo,
    "rotate-key": _rotate_key,
}
