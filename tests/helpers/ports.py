"""A free port on 127.0.0.1, and waiting for a server on one; nothing heavier than aiohttp, so that the benchmarks'
bare server processes can use them without loading the app."""

from __future__ import annotations

import asyncio
import socket

import aiohttp


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_ready(http: aiohttp.ClientSession, url: str, process: asyncio.subprocess.Process) -> None:
    """Wait until the server ``process`` started answers ``/healthz`` at ``url`` (its origin)."""
    for _ in range(200):
        if process.returncode is not None:
            raise RuntimeError("the server process exited")
        try:
            async with http.get(f"{url}/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.05)
    raise RuntimeError("the server did not start")
