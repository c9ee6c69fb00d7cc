"""Fuzzing over real sockets: participants of real rooms on a running server receive generated frames, and every
answer is checked against the protocol (:mod:`tests.fuzz.oracle`), then the room itself after each batch.

A driver (:class:`~tests.fuzz.rooms.ConsultationFuzz`, ...) owns its sockets. After each frame it sends two sync
frames whose errors are known (``unsupported_version`` then ``unknown_type``) and reads up to that pair: what came
before is the answer to the frame (a message answers with at most one error). Anything else read on a socket
(relays, room events) is kept in that socket's inbox for the driver to check. Binary frames and frames over 64 KiB
are expected to close the socket (1003, 1009); the driver then reconnects that participant.

:func:`drive` runs hypothesis in a worker thread against the server's event loop (the server keeps running across
examples), without shrinking (a failed example leaves the room as it left it).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Self, cast

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.fuzz.oracle import ERROR_CODES, Verdict
from tests.fuzz.strategies import MAX_FRAME, PEER, ROOM, SELF, Frame
from tests.helpers.sockets import Harness, Peer

SYNC = ('{"v":2,"type":"fuzz-sync"}', '{"v":1,"type":"fuzz-sync"}')
SYNC_ERRORS = (("unsupported_version", None), ("unknown_type", None))
WITHIN = 10.0
CLOSED = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)


class FuzzFailure(AssertionError):
    pass


def short(value: object, limit: int = 600) -> str:
    """A repr fit for a failure message (frames and inboxes can be 100 kB)."""
    shown = repr(value)
    return shown if len(shown) <= limit else f"{shown[:limit]}... ({len(shown)} characters)"


class ErrorLog(logging.Handler):
    """Every ERROR record of the server's loggers while installed (the server never logs one for a bad frame)."""

    LOGGERS = ("signaling", "server", "web", "aiohttp.server", "aiohttp.web", "aiohttp.access")

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def install(self) -> None:
        for name in self.LOGGERS:
            logging.getLogger(name).addHandler(self)

    def remove(self) -> None:
        for name in self.LOGGERS:
            logging.getLogger(name).removeHandler(self)


@dataclass
class Answer:
    """What the server sent a socket in answer to one frame."""

    errors: list[dict[str, Any]] = field(default_factory=list)
    closed: int | None = None

    @property
    def verdict(self) -> Verdict | None:
        """The error as a verdict, or None when the frame got no error."""
        return Verdict(self.errors[0]["code"], self.errors[0]["ref"]) if self.errors else None


class Socket:
    """One participant's socket, its inbox of what it received besides answers, and how to open it again."""

    def __init__(self, name: str, peer: Peer, reopen: Callable[[], Awaitable[Peer]]) -> None:
        self.name, self.peer, self._reopen = name, peer, reopen
        self.inbox: list[dict[str, Any]] = []

    @property
    def id(self) -> str:
        return self.peer.id

    async def reopen(self) -> None:
        old_id = self.peer.id
        self.peer = await self._reopen()
        self.peer.id = self.peer.id or old_id

    async def _next(self) -> dict[str, Any] | int | None:
        """The next message, or the close code when the socket closed."""
        msg = await self.peer.ws.receive(timeout=WITHIN)
        if msg.type in CLOSED:
            return self.peer.ws.close_code
        if msg.type is not aiohttp.WSMsgType.TEXT:
            raise FuzzFailure(f"{self.name}: a {msg.type} frame from the server")
        data: dict[str, Any] = json.loads(msg.data)
        return data

    async def until(self, wanted: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        """Read (keeping everything else in the inbox) until a message ``wanted`` accepts."""
        while True:
            data = await self._next()
            if not isinstance(data, dict):
                raise FuzzFailure(f"{self.name}: closed ({data}) while waiting for {what}")
            if wanted(data):
                return data
            self.inbox.append(data)

    async def exchange(self, data: str | bytes) -> Answer:
        """Send one frame and read the server's answer to it (see the module's docstring)."""
        ws = self.peer.ws
        if isinstance(data, bytes) or len(data.encode()) > MAX_FRAME:
            await (ws.send_bytes(data) if isinstance(data, bytes) else ws.send_str(data))
            return await self._read_to_close()
        for text in (data, *SYNC):
            await ws.send_str(text)
        answer, seen = Answer(), []
        while True:
            got = await self._next()
            if not isinstance(got, dict):
                answer.closed = got
                return answer
            if got.get("type") != "error":
                self.inbox.append(got)
                continue
            seen.append(got)
            if [(e["code"], e["ref"]) for e in seen[-2:]] == list(SYNC_ERRORS):
                answer.errors = seen[:-2]
                return answer

    async def sync(self) -> None:
        """Read everything sent so far into the inbox."""
        answer = await self.exchange(SYNC[0])
        if answer.closed is not None or [(e["code"], e["ref"]) for e in answer.errors] != [SYNC_ERRORS[0]]:
            raise FuzzFailure(f"{self.name}: the sync frame got {short(answer)}")

    async def read_to_close(self) -> int | None:
        """Read (into the inbox) until the server closes the socket; its close code."""
        return (await self._read_to_close()).closed

    async def _read_to_close(self) -> Answer:
        answer = Answer()
        while True:
            got = await self._next()
            if not isinstance(got, dict):
                answer.closed = got
                return answer
            if got.get("type") == "error":
                answer.errors.append(got)
            else:
                self.inbox.append(got)


class Fuzz:
    """A driver: participants of one room on ``app``'s server. Subclasses set them up and judge the answers."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.harness = Harness(cast(TestClient[Any, Any], SimpleNamespace(app=app)))
        self.sockets: list[Socket] = []
        self.messages = 0
        self.server_errors = 0
        self.log = ErrorLog()
        self.current: list[tuple[int, Frame]] = []

    async def __aenter__(self) -> Self:
        self.log.install()
        await self.setup()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.log.remove()
        await self.harness.__aexit__(None, None, None)

    async def setup(self) -> None:
        raise NotImplementedError

    async def frame(self, sender: Socket, frame: Frame) -> None:
        raise NotImplementedError

    async def check_room(self) -> None:
        raise NotImplementedError

    def substitute(self, sender: Socket, text: str, peer: Socket, room: str) -> str:
        return text.replace(PEER, peer.id).replace(SELF, sender.id).replace(ROOM, room)

    async def batch(self, frames: list[tuple[int, Frame]]) -> None:
        """Each frame from its sender, then the room checked; any server error fails the batch."""
        self.current = frames
        for who, frame in frames:
            self.messages += 1
            await self.frame(self.sockets[who % len(self.sockets)], frame)
            self.fail_on_server_errors(frame)
        await self.check_room()
        self.fail_on_server_errors(None)

    def judge(
        self, sender: Socket, frame: str, answer: Answer, allowed: set[Verdict | None], *, any_error: bool = False
    ) -> None:
        """One error at most, and one the protocol allows (``any_error``: any documented one); no close."""
        if any(e["code"] == "server_error" for e in answer.errors):  # one incident: the reply and its log record
            self.server_errors += 1
            raise FuzzFailure(f"{sender.name} sent {short(frame)}: got server_error\n{self.logged()}")
        verdict = answer.verdict
        fine = verdict in allowed or (any_error and verdict is not None and verdict.code in ERROR_CODES)
        if len(answer.errors) > 1 or not fine or answer.closed is not None:
            raise FuzzFailure(f"{sender.name} sent {short(frame)}: got {short(answer)}, the protocol allows {allowed}")

    def logged(self) -> str:
        """The ERROR records logged so far, with their tracebacks (then forgotten)."""
        text = logging.Formatter().formatException
        records = [f"{r.name}: {r.getMessage()}\n{text(r.exc_info) if r.exc_info else ''}" for r in self.log.records]
        self.log.records.clear()
        return "\n".join(r[-3000:] for r in records)

    def fail_on_server_errors(self, frame: Frame | None) -> None:
        """Errors logged without a ``server_error`` reply (each counts as one server error)."""
        if self.log.records:
            self.server_errors += len(self.log.records)
            raise FuzzFailure(f"the server logged errors after {frame}:\n{self.logged()}")


def batches(frames: st.SearchStrategy[Frame], senders: int, size: int = 40) -> st.SearchStrategy[Any]:
    return st.lists(st.tuples(st.integers(0, senders - 1), frames), min_size=size // 2, max_size=size)


async def drive(fuzz: Fuzz, strategy: st.SearchStrategy[Any], examples: int, *, derandomize: bool = True) -> None:
    """Run ``examples`` hypothesis examples of ``strategy`` (batches) through ``fuzz.batch`` on this loop."""
    loop = asyncio.get_running_loop()

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=derandomize,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def run(batch: list[tuple[int, Frame]]) -> None:
        asyncio.run_coroutine_threadsafe(fuzz.batch(batch), loop).result(timeout=300)

    await asyncio.to_thread(run)
