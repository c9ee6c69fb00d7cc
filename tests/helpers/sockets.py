"""Signaling sockets as clients see them: browsers with their own cookie jars, and a signaling peer.

A :class:`Harness` wraps the ``client`` fixture's running server. Each operator and citizen gets its own
``aiohttp.ClientSession`` (own cookies), logs in or opens the join link like a browser, and connects to ``/ws``
sending the site's Origin; :class:`GroupHarness` connects staff to ``/ws/group``, :class:`AlertHarness` to
``/ws/alerts``.
"""

from __future__ import annotations

import asyncio
import json
from types import TracebackType
from typing import Any, Self

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from server.keys import settings_key
from server.models import Staff
from signaling.alerts import alert_hub_key
from tests.helpers.factories import PASSWORD, make_consultation, make_staff
from tests.helpers.web import csrf_from

TIMEOUT = 5.0


class Peer:
    """One signaling socket as a client sees it."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, session: aiohttp.ClientSession) -> None:
        self.ws = ws
        self.session = session  # the browser (cookie jar) the socket belongs to
        self.id = ""

    async def send(self, **fields: Any) -> None:
        await self.ws.send_str(json.dumps({"v": 1, **fields}))

    async def recv(self, within: float = TIMEOUT) -> dict[str, Any]:
        msg = await self.ws.receive(timeout=within)
        assert msg.type is aiohttp.WSMsgType.TEXT, f"expected a text frame, got {msg.type} ({self.ws.close_code})"
        data: dict[str, Any] = json.loads(msg.data)
        assert data["v"] == 1
        return data

    async def expect(self, kind: str, within: float = TIMEOUT) -> dict[str, Any]:
        """The next message, which must be of type ``kind``."""
        data = await self.recv(within)
        assert data["type"] == kind, data
        return data

    async def until(self, kind: str, within: float = TIMEOUT) -> dict[str, Any]:
        """Skip messages until one of type ``kind``."""
        while True:
            data = await self.recv(within)
            if data["type"] == kind:
                return data

    async def join(self, room: str) -> dict[str, Any]:
        await self.send(type="join", room=room)
        welcome = await self.expect("welcome")
        self.id = welcome["id"]
        return welcome

    async def close_code(self, within: float = TIMEOUT) -> int | None:
        """Read until the server closes the socket; return the close code it sent."""
        while True:
            msg = await self.ws.receive(timeout=within)
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                return self.ws.close_code
            if msg.type is aiohttp.WSMsgType.ERROR:
                return self.ws.close_code


class Harness:
    """Browsers (cookie jars) and sockets against the ``client`` fixture's server; closes them all on exit."""

    def __init__(self, client: TestClient[Any, Any]) -> None:
        self.client = client
        self.app = client.app
        self.base = self.app[settings_key].base_url
        self.origin = self.base
        self._sessions: list[aiohttp.ClientSession] = []
        self._peers: list[Peer] = []  # keep sockets alive: a garbage-collected client socket closes

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for peer in self._peers:
            await peer.ws.close()
        for session in self._sessions:
            await session.close()

    def browser(self) -> aiohttp.ClientSession:
        session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self._sessions.append(session)
        return session

    async def staff(self, name: str = "Dott.ssa Rossi") -> Staff:
        return await make_staff(self.app, name=name)

    async def consultation(self, operator: Staff, citizen_name: str = "Maria") -> tuple[str, str]:
        """A new consultation of ``operator``: (room id, join token)."""
        new = await make_consultation(self.app, operator, citizen_name=citizen_name)
        return new.consultation.id, new.token

    async def operator_browser(self, staff: Staff) -> aiohttp.ClientSession:
        session = self.browser()
        page = await session.get(f"{self.base}/login")
        form = {"email": staff.email, "password": PASSWORD, "csrf_token": csrf_from(await page.text())}
        response = await session.post(f"{self.base}/login", data=form, allow_redirects=False)
        assert response.status == 303
        return session

    async def citizen_browser(self, token: str) -> aiohttp.ClientSession:
        session = self.browser()
        response = await session.get(f"{self.base}/join/{token}", allow_redirects=False)
        assert response.status == 303
        return session

    async def connect(self, session: aiohttp.ClientSession, origin: str | None = None) -> Peer:
        ws = await session.ws_connect(f"{self.base}/ws", headers={"Origin": origin or self.origin})
        peer = Peer(ws, session)
        self._peers.append(peer)
        return peer

    async def operator(self, staff: Staff, room: str) -> Peer:
        """An operator socket that has joined ``room`` (its welcome and first lobby read)."""
        peer = await self.connect(await self.operator_browser(staff))
        await peer.join(room)
        await peer.expect("lobby")
        return peer

    async def citizen(self, token: str, room: str) -> Peer:
        """A citizen socket that has knocked on ``room`` (its welcome read)."""
        peer = await self.connect(await self.citizen_browser(token))
        await peer.join(room)
        return peer

    async def knock(self) -> tuple[Peer, Peer, str, str]:
        """An operator in a new consultation's room and a citizen who knocked on it: (operator, citizen, room,
        the citizen's join token). The operator's lobby update for the knock is left unread."""
        staff = await self.staff()
        room, token = await self.consultation(staff)
        op = await self.operator(staff, room)
        cit = await self.citizen(token, room)
        return op, cit, room, token

    async def call(self) -> tuple[Peer, Peer, str]:
        """An operator and an admitted citizen in a new consultation's room, all lobby noise read."""
        op, cit, room, _token = await self.knock()
        await op.expect("lobby")
        await op.send(type="admit", id=cit.id)
        await cit.expect("admitted")
        await op.expect("lobby")
        await op.expect("peer_joined")
        return op, cit, room


class GroupHarness(Harness):
    """Staff browsers on ``/ws/group``."""

    async def connect(self, session: aiohttp.ClientSession, origin: str | None = None) -> Peer:
        ws = await session.ws_connect(f"{self.base}/ws/group", headers={"Origin": origin or self.origin})
        peer = Peer(ws, session)
        self._peers.append(peer)
        return peer

    async def member(self, staff: Staff, room: str) -> tuple[Peer, dict[str, Any]]:
        peer = await self.connect(await self.operator_browser(staff))
        return peer, await peer.join(room)


class AlertHarness(Harness):
    """Staff browsers on ``/ws/alerts``."""

    async def connect(self, session: aiohttp.ClientSession, origin: str | None = None) -> Peer:
        ws = await session.ws_connect(f"{self.base}/ws/alerts", headers={"Origin": origin or self.origin})
        peer = Peer(ws, session)
        self._peers.append(peer)
        return peer

    async def refused(self, session: aiohttp.ClientSession, origin: str | None = None) -> int:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refusal:
            await session.ws_connect(f"{self.base}/ws/alerts", headers={"Origin": origin or self.origin})
        return refusal.value.status


async def until_listening(client: TestClient[Any, Any], count: int) -> None:
    """Wait until the alert hub has ``count`` listeners."""
    for _ in range(100):
        if client.app[alert_hub_key].listeners >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the sockets did not register")


async def open_socket(h: Harness, session: aiohttp.ClientSession, path: str = "/ws") -> Peer:
    """A socket on ``path`` (any of the three endpoints) that the harness closes on exit."""
    ws = await session.ws_connect(f"{h.base}{path}", headers={"Origin": h.origin})
    peer = Peer(ws, session)
    h._peers.append(peer)
    return peer


async def refusal(h: Harness, session: aiohttp.ClientSession, path: str = "/ws") -> tuple[int, Any]:
    """The status of a refused handshake and its JSON body (read by a plain GET with the upgrade headers)."""
    headers = {"Origin": h.origin}
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await session.ws_connect(f"{h.base}{path}", headers=headers)
    upgrade = {**headers, "Upgrade": "websocket", "Connection": "Upgrade"}
    response = await session.get(f"{h.base}{path}", headers=upgrade)
    return info.value.status, await response.json()
