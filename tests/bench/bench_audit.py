"""``audit_overhead_ratio``: opening a case page (``GET /cases/{id}``, the real handler and template, as the logged-in
operator, through a real server socket) with the audit log written (one row, in the same transaction as the read)
against the same with audit writing disabled in this benchmark only (``server.cases.records.audit_access`` replaced by a
no-op), same run, on PostgreSQL, median of many requests, the two interleaved in rounds so drift hits both alike.
The case has notes (unsealed on each read), risk assessments and an outcome.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from app import create_app
from server import auth, cases, consultations
from server.cases import records
from server.keys import sessionmaker_key, settings_key
from server.models import OutcomeKind, RiskLevel, Role, Staff
from server.settings import Settings
from tests.bench import report
from tests.helpers.factories import PASSWORD
from tests.helpers.services import fresh_postgres_database
from tests.helpers.web import csrf_from

ROUNDS = 15
PER_ROUND = 40
WARMUP = 30
TIMEOUT = 300


async def _no_audit(*_: object) -> None:
    return None


async def _case(app: web.Application) -> tuple[Staff, str]:
    sessionmaker = app[sessionmaker_key]
    operator = await auth.create_staff(
        sessionmaker, email="op@example.org", name="Dott.ssa Rossi", role=Role.OPERATOR, password=PASSWORD
    )
    new = await consultations.create_consultation(
        sessionmaker, app[settings_key], operator=operator, citizen_name="Maria", citizen_email="m@example.org"
    )
    ctx = cases.context(app)
    case = await records.case_of_consultation(ctx, operator, new.consultation.id)
    for n in range(5):
        await records.write_note(ctx, operator, case.id, f"Nota del colloquio numero {n}. " * 20)
    for level in (RiskLevel.LOW, RiskLevel.MEDIUM, RiskLevel.LOW):
        await records.assess_risk(ctx, operator, case.id, level, RiskLevel.NONE)
    await records.record_outcome(ctx, operator, case.id, OutcomeKind.FURTHER_SESSIONS)
    return operator, case.id


async def _login(http: aiohttp.ClientSession, base: str, staff: Staff) -> None:
    async with http.get(f"{base}/login") as page:
        token = csrf_from(await page.text())
    form = {"email": staff.email, "password": PASSWORD, "csrf_token": token, "next": "/console"}
    async with http.post(f"{base}/login", data=form, allow_redirects=False) as response:
        assert response.status == 303, response.status


async def _timed(http: aiohttp.ClientSession, url: str, count: int) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        async with http.get(url) as response:
            assert response.status == 200, response.status
            await response.read()
        times.append(time.perf_counter() - started)
    return times


async def run() -> None:
    async with fresh_postgres_database(require=True) as database_url:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(
                database_url=database_url, data_dir=Path(tmp), log_level="WARNING", mfa_roles=()
            ).validated()
            app = create_app(settings)
            server = TestServer(app)
            await server.start_server()
            try:
                staff, case_id = await _case(app)
                url = str(server.make_url(f"/cases/{case_id}"))
                on: list[float] = []
                off: list[float] = []
                real_audit = records.audit_access
                async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
                    await _login(http, str(server.make_url("")), staff)
                    await _timed(http, url, WARMUP)
                    for _ in range(ROUNDS):
                        on += await _timed(http, url, PER_ROUND)
                        records.audit_access = _no_audit  # type: ignore[assignment]
                        try:
                            off += await _timed(http, url, PER_ROUND)
                        finally:
                            records.audit_access = real_audit
            finally:
                await server.close()
    with_audit, without = statistics.median(on), statistics.median(off)
    print(f"# the case page over HTTP on PostgreSQL: median {with_audit * 1000:.2f} ms with the audit row,")
    print(f"# {without * 1000:.2f} ms without ({len(on)} requests each, {ROUNDS} interleaved rounds)", flush=True)
    report("audit_overhead_ratio", with_audit / without, "x", "<=", 1.2)


async def main() -> None:
    await asyncio.wait_for(run(), timeout=TIMEOUT)
