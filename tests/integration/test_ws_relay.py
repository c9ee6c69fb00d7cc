"""Relay between the two people in a call (with ``from`` set by the server), and shutdown with 1001."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

from aiohttp.test_utils import TestClient

from signaling.consultation.hub import hub_key
from tests.helpers.sockets import Harness

CANDIDATE = {"candidate": "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host", "sdpMid": "0", "sdpMLineIndex": 0}


async def test_offer_answer_candidates_renegotiate(client: TestClient[Any, Any]) -> None:
    async with Harness(client) as h:
        op, cit, _ = await h.call()
        await op.send(type="offer", to=cit.id, sdp="v=0 offer")
        assert await cit.expect("offer") == {"v": 1, "type": "offer", "from": op.id, "to": cit.id, "sdp": "v=0 offer"}
        await cit.send(type="answer", to=op.id, sdp="v=0 answer", later="passed on")
        assert await op.expect("answer") == {
            "v": 1,
            "type": "answer",
            "from": cit.id,
            "to": op.id,
            "sdp": "v=0 answer",
            "later": "passed on",
        }
        await cit.send(type="candidate", to=op.id, candidate=CANDIDATE)
        relayed = await op.expect("candidate")
        assert (relayed["from"], relayed["candidate"]) == (cit.id, CANDIDATE)
        await op.send(type="candidate", to=cit.id, candidate=None)
        relayed = await cit.expect("candidate")
        assert (relayed["from"], relayed["candidate"]) == (op.id, None)
        await cit.send(type="renegotiate", to=op.id)
        assert (await op.expect("renegotiate"))["from"] == cit.id


async def test_from_cannot_be_spoofed(client: TestClient[Any, Any]) -> None:
    async with Harness(client) as h:
        op, cit, _ = await h.call()
        await cit.send(type="offer", to=op.id, sdp="v=0", **{"from": op.id})
        relayed = await op.expect("offer")
        assert relayed["from"] == cit.id


async def test_media_and_chat(client: TestClient[Any, Any]) -> None:
    async with Harness(client) as h:
        op, cit, _ = await h.call()
        await cit.send(type="media", audio=False, video=True)
        assert await op.expect("media") == {"v": 1, "type": "media", "from": cit.id, "audio": False, "video": True}
        await op.send(type="chat", text="Buongiorno, mi sente?")
        chat = await cit.expect("chat")
        assert (chat["from"], chat["name"], chat["text"]) == (op.id, "Dott.ssa Rossi", "Buongiorno, mi sente?")
        assert datetime.fromisoformat(chat["at"]).tzinfo is not None
        await cit.send(type="chat", text="sì")
        assert (await op.expect("chat"))["name"] == "Maria"


async def test_relay_errors(client: TestClient[Any, Any]) -> None:
    async with Harness(client) as h:
        op, _, _ = await h.call()
        await op.send(type="offer", to="nobody", sdp="v=0")
        error = await op.expect("error")
        assert (error["code"], error["ref"]) == ("no_such_peer", "offer")
        await op.send(type="offer", to=op.id, sdp="v=0")
        assert (await op.expect("error"))["code"] == "no_such_peer"


async def test_waiting_citizen_cannot_relay(client: TestClient[Any, Any]) -> None:
    async with Harness(client) as h:
        op, cit, _room, _token = await h.knock()
        await op.expect("lobby")
        await cit.send(type="offer", to=op.id, sdp="v=0")
        await cit.send(type="chat", text="hello?")
        assert [(await cit.expect("error"))["code"] for _ in range(2)] == ["forbidden", "forbidden"]
        await op.send(type="offer", to=cit.id, sdp="v=0")  # nor can anyone reach a waiting citizen
        assert (await op.expect("error"))["code"] == "no_such_peer"


async def test_rooms_are_isolated(client: TestClient[Any, Any]) -> None:
    async with Harness(client) as h:
        op1, cit1, _ = await h.call()
        op2, cit2, _ = await h.call()
        await op2.send(type="offer", to=cit1.id, sdp="v=0")  # an id from another room
        assert (await op2.expect("error"))["code"] == "no_such_peer"
        await cit1.send(type="chat", text="one")
        await cit2.send(type="chat", text="two")
        assert (await op1.expect("chat"))["text"] == "one"
        assert (await op2.expect("chat"))["text"] == "two"


async def test_shutdown_closes_sockets_with_1001(client: TestClient[Any, Any]) -> None:
    async with Harness(client) as h:
        op, cit, _ = await h.call()
        waiting_op = await h.connect(await h.operator_browser(await h.staff()))  # connected, not in a room
        hub = client.app[hub_key]
        assert hub.connection_count == 3
        started = time.monotonic()
        closing = asyncio.create_task(client.close())
        codes = [await op.close_code(), await cit.close_code(), await waiting_op.close_code()]
        await asyncio.wait_for(closing, 10)
        assert codes == [1001, 1001, 1001]
        assert time.monotonic() - started < 5
        assert hub.connection_count == 0
