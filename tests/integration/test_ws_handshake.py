"""The ``/ws`` handshake: Origin and identity are checked before the upgrade; who may enter which room."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from server.consultations import end_consultation
from server.keys import sessionmaker_key
from tests.helpers.sockets import Harness


async def refused(session: aiohttp.ClientSession, url: str, origin: str | None) -> tuple[int, Any]:
    headers = {"Origin": origin} if origin else {}
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await session.ws_connect(url, headers=headers)
    response = await session.get(url, headers={**headers, "Upgrade": "websocket", "Connection": "Upgrade"})
    return info.value.status, await response.json()


async def test_unauthenticated_upgrade_is_refused_401(client: TestClient[Any, Any]) -> None:
    async with Harness(client) as h:
        status, body = await refused(h.browser(), f"{h.base}/ws", h.origin)
        assert (status, body) == (401, {"error": "not_authenticated"})


@pytest.mark.parametrize("origin", [None, "http://evil.example", "http://127.0.0.1:1"])
async def test_wrong_origin_is_refused_403_even_with_a_valid_cookie(
    client: TestClient[Any, Any], origin: str | None
) -> None:
    async with Harness(client) as h:
        staff = await h.staff()
        session = await h.operator_browser(staff)
        status, body = await refused(session, f"{h.base}/ws", origin)
        assert (status, body) == (403, {"error": "origin_not_allowed"})
        peer = await h.connect(session)  # the same cookie with the right Origin gets in
        assert not peer.ws.closed


async def test_allowed_origins_setting(make_client: Any) -> None:
    client = await make_client(allowed_origins=("https://app.example",))
    async with Harness(client) as h:
        session = await h.operator_browser(await h.staff())
        peer = await h.connect(session, origin="https://app.example")
        await peer.send(type="join", room="nope")
        assert (await peer.expect("error"))["code"] == "room_not_found"


async def test_citizen_cannot_join_another_consultation(client: TestClient[Any, Any]) -> None:
    async with Harness(client) as h:
        staff = await h.staff()
        _, token = await h.consultation(staff)
        other_room, _ = await h.consultation(staff, citizen_name="Bruno")
        peer = await h.connect(await h.citizen_browser(token))
        await peer.send(type="join", room=other_room)
        assert await peer.expect("error") == {
            "v": 1,
            "type": "error",
            "code": "forbidden",
            "message": "you may not enter this room",
            "ref": "join",
        }


async def test_another_operator_cannot_join(client: TestClient[Any, Any]) -> None:
    async with Harness(client) as h:
        room, _ = await h.consultation(await h.staff())
        intruder = await h.connect(await h.operator_browser(await h.staff("Dott. Bianchi")))
        await intruder.send(type="join", room=room)
        assert (await intruder.expect("error"))["code"] == "forbidden"


async def test_unknown_room(client: TestClient[Any, Any]) -> None:
    async with Harness(client) as h:
        peer = await h.connect(await h.operator_browser(await h.staff()))
        await peer.send(type="join", room="0" * 24)
        assert (await peer.expect("error"))["code"] == "room_not_found"
        # the socket still works
        room, _ = await h.consultation(await h.staff())
        await peer.send(type="join", room=room)
        assert (await peer.expect("error"))["code"] == "forbidden"


async def test_ended_room_refuses_joins(client: TestClient[Any, Any]) -> None:
    async with Harness(client) as h:
        staff = await h.staff()
        room, _ = await h.consultation(staff)
        await end_consultation(client.app[sessionmaker_key], room, actor="test")
        peer = await h.connect(await h.operator_browser(staff))
        await peer.send(type="join", room=room)
        assert (await peer.expect("error"))["code"] == "room_ended"


async def test_citizen_with_ended_consultation_is_refused_at_handshake(client: TestClient[Any, Any]) -> None:
    async with Harness(client) as h:
        room, token = await h.consultation(await h.staff())
        session = await h.citizen_browser(token)
        await end_consultation(client.app[sessionmaker_key], room, actor="test")
        status, body = await refused(session, f"{h.base}/ws", h.origin)
        assert (status, body) == (401, {"error": "not_authenticated"})


async def test_messages_before_join(client: TestClient[Any, Any]) -> None:
    async with Harness(client) as h:
        peer = await h.connect(await h.operator_browser(await h.staff()))
        await peer.send(type="chat", text="hello")
        assert await peer.expect("error") == {
            "v": 1,
            "type": "error",
            "code": "not_in_room",
            "message": "join a room first",
            "ref": "chat",
        }
