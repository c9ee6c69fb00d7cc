"""Lobby semantics over real sockets: knock, admit, decline, leave, end, reconnect, replace."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from server.keys import sessionmaker_key
from server.models import AuditEvent, Consultation, ConsultationStatus
from tests.helpers.sockets import Harness


async def test_knock_then_admit(client: TestClient[Any, Any]) -> None:
    async with Harness(client) as h:
        staff = await h.staff()
        room, token = await h.consultation(staff, citizen_name="Maria")
        op = await h.connect(await h.operator_browser(staff))
        welcome = await op.join(room)
        assert {k: welcome[k] for k in ("role", "room", "state", "peers", "ice_servers")} == {
            "role": "operator",
            "room": room,
            "state": "in_call",
            "peers": [],
            "ice_servers": [],
        }
        assert (await op.expect("lobby"))["waiting"] == []
        cit = await h.connect(await h.citizen_browser(token))
        knock = await cit.join(room)
        assert (knock["role"], knock["state"], knock["peers"]) == ("citizen", "waiting", [])
        waiting = (await op.expect("lobby"))["waiting"]
        assert [(w["id"], w["name"]) for w in waiting] == [(cit.id, "Maria")]
        datetime.fromisoformat(waiting[0]["since"])
        await op.send(type="admit", id=cit.id)
        admitted = await cit.expect("admitted")
        assert admitted["peers"] == [
            {"id": op.id, "role": "operator", "name": "Dott.ssa Rossi", "audio": True, "video": True}
        ]
        assert (await op.expect("lobby"))["waiting"] == []
        joined = await op.expect("peer_joined")
        assert (joined["id"], joined["role"], joined["name"]) == (cit.id, "citizen", "Maria")


async def test_decline_then_close(client: TestClient[Any, Any]) -> None:
    async with Harness(client) as h:
        op, cit, _room, _token = await h.knock()
        await op.expect("lobby")
        await op.send(type="decline", id=cit.id)
        await cit.expect("declined")
        assert await cit.close_code() == 1000
        assert (await op.expect("lobby"))["waiting"] == []


async def test_citizen_leaving_disappears_from_lobby(client: TestClient[Any, Any]) -> None:
    async with Harness(client) as h:
        op, cit, room, token = await h.knock()
        assert len((await op.expect("lobby"))["waiting"]) == 1
        await cit.send(type="leave")
        assert (await op.expect("lobby"))["waiting"] == []
        await cit.ws.close()
        # closing a socket while waiting also takes the citizen out of the lobby
        again = await h.citizen(token, room)
        assert len((await op.expect("lobby"))["waiting"]) == 1
        await again.ws.close()
        assert (await op.expect("lobby"))["waiting"] == []


async def test_end_tells_waiting_citizen_and_marks_consultation_ended(client: TestClient[Any, Any]) -> None:
    async with Harness(client) as h:
        staff = await h.staff()
        room, token = await h.consultation(staff)
        op = await h.operator(staff, room)
        cit = await h.citizen(token, room)
        await op.expect("lobby")
        await op.send(type="end")
        assert await cit.expect("ended") == {"v": 1, "type": "ended", "reason": "operator_ended"}
        assert await cit.close_code() == 1000
        await op.until("ended")
        assert await op.close_code() == 1000
        async with client.app[sessionmaker_key]() as db:
            consultation = await db.get(Consultation, room)
            assert consultation is not None and consultation.status == ConsultationStatus.ENDED
            audit = await db.scalars(select(AuditEvent).where(AuditEvent.object_id == room))
            assert any(a.action == "end" and a.actor == f"staff:{staff.id}" for a in audit)
        # the room cannot be entered again
        back = await h.connect(await h.operator_browser(staff))
        await back.send(type="join", room=room)
        assert (await back.expect("error"))["code"] == "room_ended"


async def test_citizen_cannot_admit_or_end(client: TestClient[Any, Any]) -> None:
    async with Harness(client) as h:
        op, cit, _ = await h.call()
        for kind in ("end", "admit"):
            await cit.send(type=kind, id=op.id)
            error = await cit.expect("error")
            assert (error["code"], error["ref"]) == ("forbidden", kind)


async def test_reconnect_of_admitted_citizen_goes_straight_back_in_call(client: TestClient[Any, Any]) -> None:
    async with Harness(client) as h:
        op, cit, room = await h.call()
        await cit.ws.close()
        assert (await op.expect("peer_left"))["id"] == cit.id
        back = await h.connect(cit.session)  # the same browser, a new socket
        welcome = await back.join(room)
        assert (welcome["id"], welcome["state"]) == (cit.id, "in_call")
        assert [p["id"] for p in welcome["peers"]] == [op.id]
        assert (await op.expect("peer_joined"))["id"] == cit.id
        await op.send(type="offer", to=cit.id, sdp="v=0")
        assert (await back.expect("offer"))["from"] == op.id


async def test_second_join_replaces_connection_with_4000(client: TestClient[Any, Any]) -> None:
    async with Harness(client) as h:
        staff = await h.staff()
        room, _ = await h.consultation(staff)
        session = await h.operator_browser(staff)
        first = await h.connect(session)
        await first.join(room)
        await first.expect("lobby")
        second = await h.connect(session)
        welcome = await second.join(room)
        assert welcome["id"] == first.id
        assert await first.close_code() == 4000
        await second.expect("lobby")
        await second.send(type="chat", text="alone")  # still served (nobody to hear it)
        await second.send(type="admit", id="nobody")
        assert (await second.expect("error"))["code"] == "no_such_peer"
