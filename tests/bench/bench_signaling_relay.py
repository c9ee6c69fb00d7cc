"""Relay throughput of ``/ws`` compared with a bare aiohttp WebSocket relay, same client load, same machine.

Each server runs in its own process (so that the client load does not share its core); this process drives
``PAIRS`` pairs of sockets. In the Ascolto run each pair is an operator and an admitted citizen in their own
consultation room, relaying ``candidate`` messages to each other through the full path (rate limit, parse,
room policy, bus, serialise, per-socket writer). The bare relay is a minimal aiohttp app that forwards each text
frame to the other socket of its pair. Every socket keeps at most ``WINDOW`` messages in flight.

Figures: messages relayed per second for both, their ratio (target >= 0.7), and the server's CPU time per
message for both (measured in the server process), which does not depend on whether the client was the bottleneck.
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import multiprocessing
import os
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from tests.bench import report
from tests.helpers.ports import free_port

PAIRS = 8
WINDOW = 32
WARMUP = 0.5
MEASURE = 4.0
ROUNDS = 2
CANDIDATE = {
    "candidate": "candidate:842163049 1 udp 1677729535 192.0.2.10 50123 typ srflx raddr 10.0.0.5 rport 50123 "
    "generation 0 ufrag sK1k network-cost 999",
    "sdpMid": "0",
    "sdpMLineIndex": 0,
    "usernameFragment": "sK1k",
}


# -- the servers (run in a child process) ----------------------------------------------------------------------


def bare_app() -> web.Application:
    """Pairs sockets by ``?pair=N`` and forwards every text frame to the other one."""
    waiting: dict[str, web.WebSocketResponse] = {}
    partner: dict[web.WebSocketResponse, web.WebSocketResponse] = {}

    async def relay(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=20, max_msg_size=64 * 1024)
        await ws.prepare(request)
        pair = request.query["pair"]
        if pair in waiting:
            other = waiting.pop(pair)
            partner[ws], partner[other] = other, ws
        else:
            waiting[pair] = ws
        async for msg in ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                await partner[ws].send_str(msg.data)
        return ws

    app = web.Application()
    app.router.add_get("/ws", relay)
    return app


def ascolto_app(port: int, data_dir: Path) -> web.Application:
    from app import create_app
    from server.settings import Settings

    settings = Settings(
        host="127.0.0.1",
        port=port,
        data_dir=data_dir,
        public_url=f"http://127.0.0.1:{port}",
        log_json=False,
        log_level="WARNING",
        ws_messages_per_second=10**9,  # measure the relay, not the limiter's refusals
        mfa_roles=(),  # staff log in with a password
    ).validated()
    return create_app(settings)


async def make_rooms(app: web.Application) -> list[dict[str, str]]:
    from tests.helpers.factories import make_consultation, make_staff

    staff = await make_staff(app)
    rooms = []
    for n in range(PAIRS):
        new = await make_consultation(app, staff, citizen_name=f"Citizen {n}")
        rooms.append({"room": new.consultation.id, "token": new.token, "email": staff.email})
    return rooms


async def serve(kind: str, port: int, data_dir: str, pipe: Pipe) -> None:
    app = bare_app() if kind == "bare" else ascolto_app(port, Path(data_dir))
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    rooms = await make_rooms(app) if kind == "ascolto" else []
    pipe.send(rooms)
    loop = asyncio.get_running_loop()
    while await loop.run_in_executor(None, pipe.recv) != "stop":
        pipe.send(time.process_time())  # "cpu": the server's CPU seconds so far
    await runner.cleanup()


def server_process(kind: str, port: int, data_dir: str, pipe: Pipe) -> None:
    """The child process. With ASCOLTO_BENCH_PROFILE=DIR it writes a cProfile of each server to DIR/KIND.prof."""
    profile_dir = os.environ.get("ASCOLTO_BENCH_PROFILE")
    if not profile_dir:
        asyncio.run(serve(kind, port, data_dir, pipe))
        return
    with cProfile.Profile() as profile:
        asyncio.run(serve(kind, port, data_dir, pipe))
    profile.dump_stats(Path(profile_dir) / f"{kind}.prof")


# -- the client load -------------------------------------------------------------------------------------------


@dataclass
class Pair:
    a: aiohttp.ClientWebSocketResponse
    b: aiohttp.ClientWebSocketResponse
    a_to_b: str  # the text frame a sends
    b_to_a: str


async def drive(sender: aiohttp.ClientWebSocketResponse, text: str, credit: asyncio.Semaphore) -> None:
    while True:
        await credit.acquire()
        await sender.send_str(text)


async def count(receiver: aiohttp.ClientWebSocketResponse, credit: asyncio.Semaphore, counter: list[int]) -> None:
    async for msg in receiver:
        if msg.type is aiohttp.WSMsgType.TEXT:
            counter[0] += 1
            credit.release()


async def measure(pairs: list[Pair], pipe: Pipe) -> tuple[float, float]:
    """Relay for WARMUP + MEASURE seconds; return (messages per second, server CPU seconds per message)."""
    counter = [0]
    tasks = []
    for pair in pairs:
        for sender, receiver, text in ((pair.a, pair.b, pair.a_to_b), (pair.b, pair.a, pair.b_to_a)):
            credit = asyncio.Semaphore(WINDOW)
            tasks += [
                asyncio.create_task(drive(sender, text, credit)),
                asyncio.create_task(count(receiver, credit, counter)),
            ]
    await asyncio.sleep(WARMUP)
    start_count, start_time, start_cpu = counter[0], time.perf_counter(), server_cpu(pipe)
    await asyncio.sleep(MEASURE)
    relayed, elapsed, cpu = counter[0] - start_count, time.perf_counter() - start_time, server_cpu(pipe) - start_cpu
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return relayed / elapsed, cpu / max(relayed, 1)


def server_cpu(pipe: Pipe) -> float:
    pipe.send("cpu")
    value: float = pipe.recv()
    return value


async def bare_pairs(session: aiohttp.ClientSession, base: str) -> list[Pair]:
    frame = json.dumps({"v": 1, "type": "candidate", "to": "abcdefgh", "candidate": CANDIDATE})
    pairs = []
    for n in range(PAIRS):
        a = await session.ws_connect(f"{base}/ws?pair={n}")
        b = await session.ws_connect(f"{base}/ws?pair={n}")
        pairs.append(Pair(a, b, frame, frame))
    return pairs


async def login(base: str, email: str) -> aiohttp.ClientSession:
    from tests.helpers.factories import PASSWORD
    from tests.helpers.web import csrf_from

    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    page = await session.get(f"{base}/login")
    form = {"email": email, "password": PASSWORD, "csrf_token": csrf_from(await page.text())}
    assert (await session.post(f"{base}/login", data=form, allow_redirects=False)).status == 303
    return session


async def recv(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((await ws.receive(timeout=5)).data)
    assert data["type"] == kind, data
    return data


async def admitted_pair(base: str, operator: aiohttp.ClientSession, room: dict[str, str]) -> tuple[Pair, Any]:
    citizen = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    assert (await citizen.get(f"{base}/join/{room['token']}", allow_redirects=False)).status == 303
    headers = {"Origin": base}
    op = await operator.ws_connect(f"{base}/ws", headers=headers)
    cit = await citizen.ws_connect(f"{base}/ws", headers=headers)
    await op.send_json({"v": 1, "type": "join", "room": room["room"]})
    op_id = (await recv(op, "welcome"))["id"]
    await recv(op, "lobby")
    await cit.send_json({"v": 1, "type": "join", "room": room["room"]})
    cit_id = (await recv(cit, "welcome"))["id"]
    await recv(op, "lobby")
    await op.send_json({"v": 1, "type": "admit", "id": cit_id})
    await recv(cit, "admitted")
    await recv(op, "lobby")
    await recv(op, "peer_joined")
    to_cit = json.dumps({"v": 1, "type": "candidate", "to": cit_id, "candidate": CANDIDATE})
    to_op = json.dumps({"v": 1, "type": "candidate", "to": op_id, "candidate": CANDIDATE})
    return Pair(op, cit, to_cit, to_op), citizen


@asynccontextmanager
async def server(kind: str) -> AsyncIterator[tuple[str, list[dict[str, str]], Pipe]]:
    port = free_port()
    parent, child = multiprocessing.get_context("spawn").Pipe()
    with tempfile.TemporaryDirectory(prefix="ascolto-bench-") as data_dir:
        process = multiprocessing.get_context("spawn").Process(
            target=server_process, args=(kind, port, data_dir, child), daemon=True
        )
        process.start()
        try:
            loop = asyncio.get_running_loop()
            rooms = await asyncio.wait_for(loop.run_in_executor(None, parent.recv), 30)
            yield f"http://127.0.0.1:{port}", rooms, parent
        finally:
            parent.send("stop")
            await loop.run_in_executor(None, process.join, 10)
            if process.is_alive():
                process.kill()


async def run_bare() -> tuple[float, float]:
    async with server("bare") as (base, _, pipe), aiohttp.ClientSession() as session:
        pairs = await bare_pairs(session, base)
        result = await measure(pairs, pipe)
        for pair in pairs:
            await pair.a.close()
            await pair.b.close()
        return result


async def run_ascolto() -> tuple[float, float]:
    async with server("ascolto") as (base, rooms, pipe):
        operator = await login(base, rooms[0]["email"])
        pairs, citizens = [], []
        for room in rooms:
            pair, citizen = await admitted_pair(base, operator, room)
            pairs.append(pair)
            citizens.append(citizen)
        first = pairs[0]
        await first.a.send_str(first.a_to_b)
        relayed = await recv(first.b, "candidate")
        assert relayed["candidate"] == CANDIDATE and "from" in relayed
        result = await measure(pairs, pipe)
        for pair in pairs:
            await pair.a.close()
            await pair.b.close()
        for session in (operator, *citizens):
            await session.close()
        return result


async def main() -> None:
    """Two interleaved rounds of each (other work on the machine makes single runs noisy); the best of each."""
    bare: list[tuple[float, float]] = []
    ours: list[tuple[float, float]] = []
    for _ in range(ROUNDS):
        bare.append(await run_bare())
        ours.append(await run_ascolto())
    bare_rate, ours_rate = max(r for r, _ in bare), max(r for r, _ in ours)
    bare_cpu, ours_cpu = min(c for _, c in bare), min(c for _, c in ours)
    # The raw figures behind the ratios have no target of their own: printed for reading, not as BENCH lines.
    print(f"# relay rate: /ws {ours_rate:.0f} msg/s, bare aiohttp {bare_rate:.0f} msg/s")
    print(f"# server CPU per message: /ws {ours_cpu * 1e6:.2f} us, bare aiohttp {bare_cpu * 1e6:.2f} us")
    report("signaling_relay_cpu_ratio", bare_cpu / ours_cpu, "x", ">=", 0.7)
    report("signaling_relay_ratio", ours_rate / bare_rate, "x", ">=", 0.7)
