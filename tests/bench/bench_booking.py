"""Booking throughput against PostgreSQL: successful bookings per second through the API (``POST
/api/v1/bookings``, 8 concurrent clients, distinct free slots of a service with many operators), divided by plain
INSERTs per second of the same booking rows through the same driver (asyncpg via SQLAlchemy, 8 concurrent
transactions) in the same run.

The server runs in its own process, as in production, so that the clients' work is not counted as the server's;
its per-address rate limit is off (all clients share one address). The API figure includes everything a booking
does: validation against the free slots, the consultation, the audit event and the queued emails.

Both sides are warmed up alike before they are timed: WARMUP bookings through the API (the new server process
opens its pool and compiles its statements then), and the plain INSERTs of those same rows through the bench's
engine; neither warm-up is counted, so neither side is charged for starting cold. The INSERT side is over in a
second or two, a window in which a shared machine's hiccups swing the rate by half: it is timed INSERT_PASSES
times (the rows deleted in between) and its median pass counts."""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import create_app
from cli import tune_gc
from scheduling.availability import free_slots_for
from server.db import create_engine, make_sessionmaker
from server.models import Booking, Consultation, OutboxMessage, Role, Service, Staff, utcnow
from server.settings import Settings
from tests.bench import report
from tests.helpers.ports import free_port, wait_ready
from tests.helpers.services import fresh_postgres_database
from web.api.ratelimit import limiter_key

CLIENTS = 8
OPERATORS = 40
BOOKINGS = 600
PER_SLOT = 4  # bookings of each slot (different operators): rarely more than one client on a slot at a time
WARMUP = 2 * CLIENTS  # untimed bookings (and INSERTs of their rows) before each side is timed
INSERT_PASSES = 3  # the INSERT side lasts a second or two: timed three times, the median pass counts
WARMUP_NAME = "Prova"
TIMEOUT = 55.0
Job = Callable[[], Awaitable[bool]]


def serve(database_url: str, port: int, data_dir: str) -> None:
    """The server process: the real app, tuned as ``run.py serve`` tunes it, without the per-address rate limit."""
    tune_gc()
    settings = Settings(
        database_url=database_url, port=port, data_dir=Path(data_dir), log_level="WARNING", mfa_roles=()
    )
    app = create_app(settings)
    app[limiter_key].limits = {}
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


async def _setup(sessionmaker: async_sessionmaker[AsyncSession]) -> list[str]:
    """A service with many operators; the start times to book (each slot PER_SLOT times), spread over the days."""
    service = Service(slug="bench", name="Bench", min_notice_minutes=0, horizon_days=60)
    async with sessionmaker.begin() as db:
        db.add(service)
        db.add_all(
            Staff(email=f"op{i}@bench.test", name=f"Op {i}", role=Role.OPERATOR, password_hash="x")
            for i in range(OPERATORS)
        )
    slots = await free_slots_for(sessionmaker, service, utcnow())
    wanted = WARMUP + BOOKINGS
    starts = [s.starts_at.isoformat() for s in slots[: -(-wanted // PER_SLOT)]]
    return [start for _ in range(PER_SLOT) for start in starts][:wanted]


async def _concurrently(jobs: Iterable[Job]) -> tuple[int, float]:
    """Run the jobs on CLIENTS workers; (successes, seconds)."""
    queue: asyncio.Queue[Job] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    done = 0

    async def worker() -> None:
        nonlocal done
        while not queue.empty():
            job = queue.get_nowait()
            ok = await job()
            done += ok

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CLIENTS)))
    return done, time.perf_counter() - started


async def _through_api(http: aiohttp.ClientSession, url: str, starts: list[str]) -> tuple[int, float, Counter[int]]:
    statuses: Counter[int] = Counter()

    def job(n: int, start: str) -> Job:
        async def post() -> bool:
            body = {
                "service": "bench",
                "starts_at": start,
                "citizen_name": f"{WARMUP_NAME if n < WARMUP else 'Persona'} {n}",
                "citizen_email": f"persona{n}@example.org",
                "privacy_accepted": True,
            }
            async with http.post(f"{url}/api/v1/bookings", json=body) as response:
                await response.read()
                statuses[response.status] += 1
                return response.status == 201

        return post

    jobs = [job(n, start) for n, start in enumerate(starts)]
    await _concurrently(jobs[:WARMUP])
    statuses.clear()
    done, seconds = await _concurrently(jobs[WARMUP:])
    return done, seconds, statuses


async def _plain_inserts(sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[int, float]:
    """Take the rows the API wrote, clear the tables, and INSERT the same booking rows again, one per transaction."""
    async with sessionmaker() as db:
        rows = [
            {c.key: getattr(b, c.key) for c in Booking.__table__.columns}
            for b in (await db.scalars(select(Booking))).all()
        ]
    async with sessionmaker.begin() as db:
        for model in (OutboxMessage, Booking, Consultation):  # the audit log is append-only; it keeps its rows
            await db.execute(delete(model))
    for row in rows:
        row["consultation_id"] = None
    warmup = [row for row in rows if row["citizen_name"].startswith(WARMUP_NAME)]
    timed = [row for row in rows if not row["citizen_name"].startswith(WARMUP_NAME)]

    def job(row: dict[str, Any]) -> Job:
        async def write() -> bool:
            async with sessionmaker.begin() as db:
                await db.execute(insert(Booking).values(**row))
            return True

        return write

    await _concurrently(job(row) for row in warmup)
    rates: list[tuple[float, int, float]] = []
    for _ in range(INSERT_PASSES):
        async with sessionmaker.begin() as db:
            await db.execute(delete(Booking).where(Booking.citizen_name.not_like(f"{WARMUP_NAME}%")))
        inserted, seconds = await _concurrently(job(row) for row in timed)
        rates.append((inserted / seconds, inserted, seconds))
    _, inserted, seconds = sorted(rates)[len(rates) // 2]  # the median pass
    return inserted, seconds


async def _measure(database_url: str, data_dir: str) -> tuple[int, float, Counter[int], int, float]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    code = "import sys; from tests.bench.bench_booking import serve; serve(sys.argv[1], int(sys.argv[2]), sys.argv[3])"
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", code, database_url, str(port), data_dir)
    engine = create_engine(Settings(database_url=database_url))
    try:
        connector = aiohttp.TCPConnector(limit=CLIENTS)
        async with aiohttp.ClientSession(connector=connector) as http:
            await wait_ready(http, url, process)  # the server has migrated the database
            sessionmaker = make_sessionmaker(engine)
            starts = await _setup(sessionmaker)
            booked, api_seconds, statuses = await _through_api(http, url, starts)
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)
        inserted, insert_seconds = await _plain_inserts(sessionmaker)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await engine.dispose()
    return booked, api_seconds, statuses, inserted, insert_seconds


async def run() -> None:
    async with fresh_postgres_database(require=True) as database_url:
        with tempfile.TemporaryDirectory() as tmp:
            booked, api_seconds, statuses, inserted, insert_seconds = await _measure(database_url, tmp)
    api_rate, insert_rate = booked / api_seconds, inserted / insert_seconds
    print(f"# {booked} bookings through the API in {api_seconds:.2f} s: {api_rate:.0f}/s (statuses {dict(statuses)})")
    print(f"# {inserted} plain INSERTs of the same rows in {insert_seconds:.2f} s: {insert_rate:.0f}/s")
    print(f"# {CLIENTS} concurrent clients, {OPERATORS} operators, server in its own process", flush=True)
    report("booking_throughput_ratio", api_rate / insert_rate, "x", ">=", 0.3)


async def main() -> None:
    await asyncio.wait_for(run(), timeout=TIMEOUT)
