"""Frames on ``/ws``: size limit (1009), binary (1003), invalid messages answered with errors, rate limit (1008)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.helpers.sockets import Harness, Peer


async def test_frame_over_64k_closes_that_socket_with_1009_only(client: TestClient[Any, Any]) -> None:
    async with Harness(client) as h:
        op, cit, _ = await h.call()
        await cit.ws.send_str(json.dumps({"v": 1, "type": "chat", "text": "x" * (64 * 1024)}))
        assert await cit.close_code() == 1009
        assert (await op.expect("peer_left"))["id"] == cit.id
        # the operator's socket keeps working
        await op.send(type="media", audio=True, video=False)
        await op.send(type="chat", text="")
        assert (await op.expect("error"))["code"] == "invalid_message"


async def test_frame_just_under_the_limit_is_read(client: TestClient[Any, Any]) -> None:
    async with Harness(client) as h:
        op, cit, _ = await h.call()
        padding = "x" * (60 * 1024)
        await op.ws.send_str(json.dumps({"v": 1, "type": "offer", "to": cit.id, "sdp": "v=0", "pad": padding}))
        assert (await cit.expect("offer"))["sdp"] == "v=0"


async def test_binary_frame_closes_1003(client: TestClient[Any, Any]) -> None:
    async with Harness(client) as h:
        op, cit, _ = await h.call()
        await cit.ws.send_bytes(b'{"v": 1, "type": "leave"}')
        assert await cit.close_code() == 1003
        assert (await op.expect("peer_left"))["id"] == cit.id


@pytest.mark.parametrize(
    ("text", "code", "ref"),
    [
        ("{not json", "invalid_json", None),
        ("[]", "invalid_message", None),
        ('{"v": 1}', "invalid_message", None),
        ('{"v": 7, "type": "chat", "text": "x"}', "unsupported_version", "chat"),
        ('{"v": 1, "type": "teleport"}', "unknown_type", None),
        ('{"v": 1, "type": "join", "room": 12}', "invalid_message", "join"),
        ('{"v": 1, "type": "media", "audio": "yes", "video": true}', "invalid_message", "media"),
        ('{"v": 1, "type": "offer", "to": "x"}', "invalid_message", "offer"),
    ],
)
async def test_invalid_messages_get_an_error_and_the_socket_keeps_serving(
    client: TestClient[Any, Any], text: str, code: str, ref: str | None
) -> None:
    async with Harness(client) as h:
        op, cit, _ = await h.call()
        await cit.ws.send_str(text)
        error = await cit.expect("error")
        assert (error["code"], error["ref"]) == (code, ref)
        assert isinstance(error["message"], str) and error["message"]
        await cit.send(type="chat", text="still here")
        assert (await op.expect("chat"))["text"] == "still here"


async def flood(peer: Peer, count: int) -> None:
    for _ in range(count):
        try:
            await peer.send(type="media", audio=True, video=True)
        except ConnectionError:
            return  # the server closed the socket


async def drain(peer: Peer, quiet: float = 0.5) -> list[dict[str, Any]]:
    """Every message until none comes for ``quiet`` seconds."""
    got: list[dict[str, Any]] = []
    while True:
        try:
            got.append(await peer.recv(within=quiet))
        except TimeoutError:
            return got


async def test_rate_limit_answers_rate_limited(make_client: Any) -> None:
    client = await make_client(ws_messages_per_second=2)  # bursts of 4
    async with Harness(client) as h:
        op, cit, _ = await h.call()
        await flood(cit, 30)
        errors = await drain(cit)
        relayed = await drain(op)
        assert {m["code"] for m in errors} == {"rate_limited"}
        assert {m["type"] for m in relayed} == {"media"}
        assert len(errors) + len(relayed) == 30
        assert 3 <= len(relayed) <= 12, len(relayed)
        assert not cit.ws.closed
        # the bucket refills: a message later goes through
        await cit.send(type="chat", text="calmer now")
        assert (await op.expect("chat"))["text"] == "calmer now"


async def test_sustained_flood_is_closed_1008(make_client: Any) -> None:
    client = await make_client(ws_messages_per_second=2)  # bursts of 4, closed after 40 refusals in a row
    async with Harness(client) as h:
        op, cit, _ = await h.call()
        await flood(cit, 150)
        assert await cit.close_code() == 1008
        assert (await op.until("peer_left"))["id"] == cit.id
