"""The statistics page for a year of data on PostgreSQL: the median time of RENDERS renders of ``GET /stats`` (its
default period, the last twelve months) by a logged-in coordinator, through the real handler in a server process
of its own, as in production.

The year: 100,000 sessions (70% booked, video or phone, through every channel; most video citizens joined) and
30,000 cases (reasons, channels, risks, outcomes, first sessions), written with COPY so that setup stays short.
The first renders are not timed (the server opens its pool and compiles its statements then)."""

from __future__ import annotations

import asyncio
import random
import re
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
from sqlalchemy.engine import make_url

from server import auth
from server.db import create_engine, make_sessionmaker
from server.models import Role
from server.settings import Settings
from tests.bench import report
from tests.helpers.ports import free_port, wait_ready
from tests.helpers.services import fresh_postgres_database

SESSIONS = 100_000
CASES = 30_000
OPERATORS = 50
SERVICES = 3
BOOKED = 0.7
WARMUP = 2
RENDERS = 9
TIMEOUT = 170.0
PASSWORD = "bench statistics password"
REASONS = ["epidemic_events", "negative_emotions", "impulsive_acts", "relational_conflict", "crime_victim", "other"]
RISKS = ["none", "none", "none", "low", "medium", "high"]
OUTCOMES = ["closed_after_support", "further_sessions", "specialist", "referral", "legal_advice"]


def _hex() -> str:
    return secrets.token_hex(12)


async def _copy(conn: asyncpg.Connection, table: str, rows: list[dict[str, Any]]) -> None:
    columns = list(rows[0])
    await conn.copy_records_to_table(table, records=[tuple(r[c] for c in columns) for r in rows], columns=columns)


def _cases(now: datetime, services: list[str], rng: random.Random) -> list[dict[str, Any]]:
    rows = []
    for n in range(CASES):
        opened = now - timedelta(minutes=rng.randrange(365 * 24 * 60))
        first = opened + timedelta(hours=rng.expovariate(1 / 60)) if rng.random() < 0.9 else None
        rows.append(
            {
                "id": _hex(),
                "code": f"B{n:07d}",
                "service_id": rng.choice(services),
                "citizen_name": "",
                "citizen_email": "",
                "citizen_phone": "",
                "reason": rng.choice(REASONS),
                "channel": rng.choice(["switchboard", "online", "referral"]),
                "status": rng.choice(["open", "closed"]),
                "risk_self": rng.choice(RISKS),
                "risk_others": rng.choice(RISKS),
                "flagged": False,
                "opened_at": opened,
                "opened_by": "citizen",
                "first_session_at": first,
            }
        )
    return rows


def _sessions(
    now: datetime, operators: list[str], services: list[str], cases: list[str], rng: random.Random
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Consultations, their bookings (no two of an operator overlap), and the citizens' passes."""
    consultations, bookings, passes = [], [], []
    per_operator = SESSIONS // OPERATORS
    spacing = timedelta(days=365) / per_operator
    start_of_year = now - timedelta(days=365)
    for n in range(SESSIONS):
        operator, slot = operators[n % OPERATORS], n // OPERATORS
        starts = start_of_year + slot * spacing + timedelta(minutes=rng.randrange(60))
        ends = starts + timedelta(minutes=45)
        consultation = {
            "id": _hex(),
            "operator_id": operator,
            "service_id": rng.choice(services),
            "citizen_name": "Persona",
            "citizen_email": "",
            "citizen_phone": "",
            "starts_at": starts,
            "ends_at": ends,
            "status": "ended" if ends < now else "scheduled",
            "token_hash": secrets.token_hex(32),
            "created_at": starts - timedelta(days=3),
            "case_id": rng.choice(cases),
        }
        consultations.append(consultation)
        mode = "video"
        if rng.random() < BOOKED:
            mode = "phone" if rng.random() < 0.3 else "video"
            bookings.append(
                {
                    "id": _hex(),
                    "service_id": consultation["service_id"],
                    "operator_id": operator,
                    "consultation_id": consultation["id"],
                    "starts_at": starts,
                    "ends_at": ends,
                    "blocked_until": ends + timedelta(minutes=15),
                    "mode": mode,
                    "status": "cancelled" if rng.random() < 0.05 else "active",
                    "channel": rng.choice(["online", "switchboard", "follow_up"]),
                    "citizen_name": "Persona",
                    "citizen_email": "",
                    "citizen_phone": "",
                    "booked_by": "citizen",
                    "manage_token_hash": secrets.token_hex(32),
                    "created_at": starts - timedelta(days=3),
                    "case_id": consultation["case_id"],
                }
            )
        if mode == "video" and rng.random() < 0.85:
            passes.append(
                {"id_hash": secrets.token_hex(32), "consultation_id": consultation["id"], "created_at": starts}
            )
    return consultations, bookings, passes


def _outcomes(cases: list[dict[str, Any]], operator: str, rng: random.Random) -> list[dict[str, Any]]:
    rows = []
    for case in cases:
        for k in range(rng.choice([0, 1, 1, 2])):
            at = case["opened_at"] + timedelta(days=k + 1)
            rows.append({"case_id": case["id"], "kind": rng.choice(OUTCOMES), "by": operator, "at": at})
    return rows


async def _fill(database_url: str) -> str:
    """A year of data; returns the coordinator's email."""
    rng = random.Random(5)
    now = datetime.now(UTC)
    engine = create_engine(Settings(database_url=database_url))
    try:
        coordinator = await auth.create_staff(
            make_sessionmaker(engine),
            email="coordinator@bench.test",
            name="Coord",
            role=Role.COORDINATOR,
            password=PASSWORD,
        )
    finally:
        await engine.dispose()
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        operators = [_hex() for _ in range(OPERATORS)]
        await _copy(
            conn,
            "staff",
            [
                {
                    "id": o,
                    "email": f"op{n}@bench.test",
                    "name": f"Op {n}",
                    "role": "operator",
                    "discipline": "",
                    "password_hash": "x",
                    "active": True,
                    "created_at": now,
                }
                for n, o in enumerate(operators)
            ],
        )
        services = [_hex() for _ in range(SERVICES)]
        await _copy(
            conn,
            "service",
            [
                {
                    "id": s,
                    "slug": f"service-{n}",
                    "name": f"Servizio {n}",
                    "phone": "",
                    "description": "",
                    "session_minutes": 45,
                    "buffer_minutes": 15,
                    "min_notice_minutes": 120,
                    "horizon_days": 30,
                    "modes": "video,phone",
                    "disciplines": "",
                    "holiday_subdivision": "MI",
                    "bookable_online": True,
                }
                for n, s in enumerate(services)
            ],
        )
        cases = _cases(now, services, rng)
        await _copy(conn, "case_file", cases)
        consultations, bookings, passes = _sessions(now, operators, services, [c["id"] for c in cases], rng)
        await _copy(conn, "consultation", consultations)
        await _copy(conn, "booking", bookings)
        await _copy(conn, "citizen_pass", passes)
        await _copy(conn, "outcome", _outcomes(cases, coordinator.id, rng))
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return coordinator.email


async def _login(http: aiohttp.ClientSession, url: str, email: str) -> None:
    async with http.get(f"{url}/login") as page:
        token = re.search(r'name="csrf_token" value="([^"]+)"', await page.text())
    assert token, "no CSRF token on the login page"
    form = {"email": email, "password": PASSWORD, "csrf_token": token.group(1), "next": "/console"}
    async with http.post(f"{url}/login", data=form, allow_redirects=False) as response:
        assert response.status == 303, await response.text()


async def _render(http: aiohttp.ClientSession, url: str) -> tuple[float, int]:
    started = time.perf_counter()
    async with http.get(f"{url}/stats") as response:
        body = await response.read()
        assert response.status == 200, body[:500]
    return (time.perf_counter() - started) * 1000, len(body)


async def run() -> None:
    async with fresh_postgres_database(require=True) as database_url:
        with tempfile.TemporaryDirectory() as tmp:
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            code = (
                "import sys; from tests.bench.bench_booking import serve; "
                "serve(sys.argv[1], int(sys.argv[2]), sys.argv[3])"
            )
            process = await asyncio.create_subprocess_exec(sys.executable, "-c", code, database_url, str(port), tmp)
            try:
                async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
                    await wait_ready(http, url, process)  # the server has migrated the database
                    started = time.perf_counter()
                    email = await _fill(database_url)
                    print(f"# {SESSIONS} sessions, {CASES} cases written in {time.perf_counter() - started:.1f} s")
                    await _login(http, url, email)
                    for _ in range(WARMUP):
                        await _render(http, url)
                    timings = [await _render(http, url) for _ in range(RENDERS)]
            finally:
                if process.returncode is None:
                    process.terminate()
                    await asyncio.wait_for(process.wait(), 10)
    times = sorted(ms for ms, _ in timings)
    print(f"# renders (ms): {', '.join(f'{ms:.0f}' for ms in times)}; page {timings[0][1] // 1024} KB", flush=True)
    report("stats_dashboard_ms", statistics.median(times), "ms", "<=", 300)


async def main() -> None:
    await asyncio.wait_for(run(), timeout=TIMEOUT)
