"""Revocation over real sockets: a revoked citizen pass or staff session no longer joins, and its open sockets are
closed (4001; 4000 for the device whose seat another device took) by the sweeper, whichever path revoked it."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import delete, update

from server import consultations
from server.keys import sessionmaker_key
from server.models import Role, Staff, StaffSession
from tests.helpers.factories import make_staff
from tests.helpers.sockets import Harness, Peer, open_socket, refusal
from tests.helpers.web import csrf_from

Client = TestClient[Any, Any]
WITHIN = 10.0  # the sweep runs every half second; this is only how long a test is willing to wait
STAFF_PATHS = ("/ws", "/ws/group", "/ws/alerts")


async def still_open(peer: Peer) -> None:
    """The socket still answers (an unknown message gets an error reply)."""
    await peer.send(type="nonsense")
    assert (await peer.until("error", within=WITHIN))["code"] == "unknown_type"


async def test_new_link_closes_the_old_pass_sockets_and_refuses_its_call_page(client: Client) -> None:
    async with Harness(client) as h:
        staff = await h.staff()
        room, token = await h.consultation(staff)
        operator = await h.operator(staff, room)
        citizen = await h.citizen(token, room)
        assert (await citizen.session.get(f"{h.base}/call")).status == 200
        await consultations.reissue_token(client.app[sessionmaker_key], staff, room)
        assert await citizen.close_code(within=WITHIN) == 4001
        assert (await citizen.session.get(f"{h.base}/call")).status == 410
        assert (await refusal(h, citizen.session))[0] == 401
        await still_open(operator)  # the operator's socket is not the citizen's


async def test_second_device_takes_the_seat_and_the_first_socket_is_closed(client: Client) -> None:
    async with Harness(client) as h:
        staff = await h.staff()
        room, token = await h.consultation(staff)
        operator = await h.operator(staff, room)
        first = await h.citizen(token, room)
        second = await h.citizen(token, room)  # the same link opened on another phone
        assert await first.close_code(within=WITHIN) == 4000
        assert (await refusal(h, first.session))[0] == 401
        await operator.until("lobby")
        await still_open(second)


async def test_ending_the_session_closes_the_citizen_socket(client: Client) -> None:
    async with Harness(client) as h:
        room, token = await h.consultation(await h.staff())
        citizen = await h.citizen(token, room)  # knocking; no operator in the room to end it there
        await consultations.end_consultation(client.app[sessionmaker_key], room, actor="test")
        assert await citizen.close_code(within=WITHIN) == 4001


async def test_ending_the_call_in_the_room_still_says_ended_and_closes_1000(client: Client) -> None:
    """The room's own end goes first: ``ended`` and 1000, not the sweeper's 4001."""
    async with Harness(client) as h:
        operator, citizen, _ = await h.call()
        await operator.send(type="end")
        assert (await citizen.until("ended"))["reason"] == "operator_ended"
        assert await citizen.close_code(within=WITHIN) == 1000
        assert await operator.close_code(within=WITHIN) == 1000


async def staff_sockets(h: Harness, browser: aiohttp.ClientSession) -> list[Peer]:
    return [await open_socket(h, browser, path) for path in STAFF_PATHS]


async def test_logout_closes_the_staff_members_sockets_with_4001(client: Client) -> None:
    supervisor = await make_staff(client.app, role=Role.SUPERVISOR)
    async with Harness(client) as h:
        browser = await h.operator_browser(supervisor)
        peers = await staff_sockets(h, browser)
        elsewhere = await open_socket(h, await h.operator_browser(supervisor))  # another device, its own session
        console = await browser.get(f"{h.base}/console")
        logout = await browser.post(
            f"{h.base}/logout", data={"csrf_token": csrf_from(await console.text())}, allow_redirects=False
        )
        assert logout.status == 303
        for peer in peers:
            assert await peer.close_code(within=WITHIN) == 4001
        for path in STAFF_PATHS:
            assert (await refusal(h, browser, path))[0] == 401
        await still_open(elsewhere)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(update(Staff).values(role=Role.OPERATOR), id="role_changed"),
        pytest.param(update(Staff).values(active=False), id="disabled"),
    ],
)
async def test_a_changed_account_loses_its_sockets_with_4001(client: Client, change: Any) -> None:
    """A role change (the session row stays) or a disabled account, written straight to the database."""
    supervisor = await make_staff(client.app, role=Role.SUPERVISOR)
    bystander = await make_staff(client.app, role=Role.SUPERVISOR, name="Altra")
    async with Harness(client) as h:
        peers = await staff_sockets(h, await h.operator_browser(supervisor))
        unaffected = await open_socket(h, await h.operator_browser(bystander))
        async with client.app[sessionmaker_key].begin() as db:
            await db.execute(change.where(Staff.id == supervisor.id))
        for peer in peers:
            assert await peer.close_code(within=WITHIN) == 4001
        await still_open(unaffected)


async def test_deleting_a_members_sessions_closes_their_sockets_with_4001(client: Client) -> None:
    """What a password change does: every session of the member is deleted."""
    operator = await make_staff(client.app)
    async with Harness(client) as h:
        peers = [await open_socket(h, await h.operator_browser(operator)) for _ in range(2)]
        async with client.app[sessionmaker_key].begin() as db:
            await db.execute(delete(StaffSession).where(StaffSession.staff_id == operator.id))
        for peer in peers:
            assert await peer.close_code(within=WITHIN) == 4001
