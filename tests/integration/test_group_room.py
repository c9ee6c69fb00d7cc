"""``/ws/group`` over real sockets: staff only, moderation enforced by the server, the register, the end.

Media through the SFU is in :mod:`tests.integration.test_group_media`; here nobody offers, so the SFU only holds an
idle peer connection per participant.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from server import supervision
from server.keys import sessionmaker_key
from signaling.group.hub import group_hub_key
from tests.helpers.factories import make_staff, supervision_room
from tests.helpers.sockets import GroupHarness

Client = TestClient[Any, Any]


async def test_only_invited_staff_open_the_socket_and_join(client: Client) -> None:
    supervisor, (member, _), room = await supervision_room(client.app)
    outsider = await make_staff(client.app)
    async with GroupHarness(client) as h:
        # A citizen cookie is refused at the handshake, before any room is named.
        operator = await h.staff()
        _, token = await h.consultation(operator)
        citizen = await h.citizen_browser(token)
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await citizen.ws_connect(f"{h.base}/ws/group", headers={"Origin": h.origin})
        assert refused.value.status == 403
        with pytest.raises(aiohttp.WSServerHandshakeError) as anonymous:
            await h.browser().ws_connect(f"{h.base}/ws/group", headers={"Origin": h.origin})
        assert anonymous.value.status == 401

        stranger = await h.connect(await h.operator_browser(outsider))
        await stranger.send(type="join", room=room)
        assert (await stranger.expect("error"))["code"] == "forbidden"
        await stranger.send(type="join", room="nope")
        assert (await stranger.expect("error"))["code"] == "room_not_found"

        _, welcome = await h.member(supervisor, room)
        assert (welcome["role"], welcome["state"], welcome["peers"], welcome["locked"]) == (
            "moderator",
            "in_call",
            [],
            False,
        )
        peer, welcome = await h.member(member, room)
        assert (welcome["role"], welcome["state"]) == ("member", "in_call")
        assert [p["name"] for p in welcome["peers"]] == ["Supervisore"]
        await peer.send(type="chat", text="ciao")  # a known group message is fine
        await peer.send(type="renegotiate", to="sfu")  # a consultation's message is not
        assert (await peer.until("error"))["code"] == "unknown_type"


async def test_moderation_is_enforced_by_the_server(client: Client) -> None:
    supervisor, (first, second), room = await supervision_room(client.app)
    async with GroupHarness(client) as h, asyncio.timeout(30):
        mod, _ = await h.member(supervisor, room)
        one, _ = await h.member(first, room)
        two, _ = await h.member(second, room)

        await one.send(type="mute", id=two.id)  # not a moderator: refused, nothing changes
        assert (await one.until("error"))["code"] == "forbidden"

        await mod.send(type="mute", id=two.id)
        assert (await two.until("moderated")) == {"v": 1, "type": "moderated", "action": "mute", "by": mod.id}
        muted = await one.until("media")
        assert (muted["from"], muted["audio"], muted["video"]) == (two.id, False, True)
        group_room = client.app[group_hub_key].room(room)  # the server's state, which the forwarding table follows
        assert group_room is not None
        muted_member = group_room.participant(group_room.connection_of(two.id) or "")
        assert muted_member is not None and muted_member.audio is False

        await mod.send(type="lock", locked=True)
        assert (await one.until("locked"))["locked"] is True
        await mod.send(type="remove", id=two.id)
        await two.until("removed")
        assert await two.close_code() == 4003
        assert (await one.until("peer_left"))["id"] == two.id

        again, welcome = await h.member(second, room)  # removed while locked: waits
        assert welcome["state"] == "waiting"
        while not (lobby := await mod.until("lobby"))["waiting"]:
            pass  # the lobby also went out (empty) when the room was locked
        assert [w["id"] for w in lobby["waiting"]] == [again.id]
        await mod.send(type="admit", id=again.id)
        admitted = await again.until("admitted")
        assert {p["id"] for p in admitted["peers"]} == {mod.id, one.id}

        await mod.send(type="end")
        for peer in (mod, one, again):
            assert (await peer.until("ended"))["reason"] == "moderator_ended"
            assert await peer.close_code() == 1000

        late = await h.connect(await h.operator_browser(first))
        await late.send(type="join", room=room)
        assert (await late.expect("error"))["code"] == "room_ended"

    maker = client.app[sessionmaker_key]
    async with asyncio.timeout(5):  # the register is written in the background, in order
        while any(s.left_at is None for s in await supervision.register(maker, room)):  # noqa: ASYNC110
            await asyncio.sleep(0.05)  # another task writes it: the database is what can be watched
    stays = await supervision.register(maker, room)
    names = [(s.name, s.left_at is not None) for s in stays]
    assert names == [
        ("Supervisore", True),
        ("Membro 0", True),
        ("Membro 1", True),  # removed
        ("Membro 1", True),  # admitted again, then the end
    ]
