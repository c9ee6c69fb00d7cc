"""The socket caps over real sockets: per citizen pass or staff member (every endpoint together), per client
address and in total, refused with 429 and a JSON reason before upgrading; a place freed is a place to take."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from server.models import Role
from signaling.caps import sockets_key
from tests.helpers.factories import make_staff
from tests.helpers.sockets import Harness, Peer, open_socket, refusal

Client = TestClient[Any, Any]
WITHIN = 10.0


async def until(condition: Callable[[], bool], within: float = WITHIN) -> None:
    """Wait (polling the server's state) until ``condition`` holds."""
    for _ in range(int(within / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition did not come true")


async def test_one_citizen_pass_cannot_hold_more_sockets_than_its_cap(make_client: Any) -> None:
    client: Client = await make_client(ws_max_per_identity=3)
    async with Harness(client) as h:
        _, token = await h.consultation(await h.staff())
        citizen = await h.citizen_browser(token)
        peers = [await open_socket(h, citizen) for _ in range(3)]
        assert await refusal(h, citizen) == (429, {"error": "too_many_sockets", "limit": "identity"})
        await peers[0].ws.close()
        await until(lambda: client.app[sockets_key].total == 2)
        again = await open_socket(h, citizen)  # a place freed is a place to take
        assert not again.ws.closed


async def test_staff_member_cap_counts_every_endpoint_and_every_session(make_client: Any) -> None:
    client: Client = await make_client(ws_max_per_identity=3)
    supervisor = await make_staff(client.app, role=Role.SUPERVISOR)
    async with Harness(client) as h:
        browser = await h.operator_browser(supervisor)
        for path in ("/ws", "/ws/group", "/ws/alerts"):
            await open_socket(h, browser, path)
        for path in ("/ws", "/ws/group", "/ws/alerts"):
            assert await refusal(h, browser, path) == (429, {"error": "too_many_sockets", "limit": "identity"})
        # Logging in again (another session of the same person) does not give more places.
        other_device = await h.operator_browser(supervisor)
        assert await refusal(h, other_device) == (429, {"error": "too_many_sockets", "limit": "identity"})
        # Someone else is not affected.
        assert not (await open_socket(h, await h.operator_browser(await h.staff("Dott. Bianchi")))).ws.closed


async def test_one_client_address_cannot_hold_more_sockets_than_its_cap(make_client: Any) -> None:
    client: Client = await make_client(ws_max_per_identity=10, ws_max_per_address=3)
    async with Harness(client) as h:
        operator = await h.staff()
        for n in range(3):  # three different citizens, all from 127.0.0.1
            _, token = await h.consultation(operator, citizen_name=f"Cittadino {n}")
            await open_socket(h, await h.citizen_browser(token))
        _, token = await h.consultation(operator, citizen_name="Ultimo")
        assert await refusal(h, await h.citizen_browser(token)) == (
            429,
            {"error": "too_many_sockets", "limit": "address"},
        )
        assert await refusal(h, await h.operator_browser(operator), "/ws/group") == (
            429,
            {"error": "too_many_sockets", "limit": "address"},
        )


async def test_the_process_cannot_hold_more_sockets_than_its_total_cap(make_client: Any) -> None:
    client: Client = await make_client(ws_max_per_identity=10, ws_max_per_address=10, ws_max_total=2)
    async with Harness(client) as h:
        first = await open_socket(h, await h.operator_browser(await h.staff("Uno")))
        await open_socket(h, await h.operator_browser(await h.staff("Due")))
        late = await h.operator_browser(await h.staff("Tre"))
        assert await refusal(h, late) == (429, {"error": "too_many_sockets", "limit": "total"})
        await first.ws.close()
        await until(lambda: client.app[sockets_key].total == 1)
        assert not (await open_socket(h, late)).ws.closed


async def test_refused_handshakes_are_not_counted(make_client: Any) -> None:
    """A refusal (the caps, a foreign Origin, no cookie, a citizen on a staff endpoint) takes no place."""
    client: Client = await make_client(ws_max_per_identity=1)
    async with Harness(client) as h:
        _, token = await h.consultation(await h.staff())
        citizen = await h.citizen_browser(token)
        await open_socket(h, citizen)
        for _ in range(3):
            assert (await refusal(h, citizen))[0] == 429
        assert (await refusal(h, citizen, "/ws/group"))[0] == 403
        assert (await refusal(h, h.browser()))[0] == 401
        assert client.app[sockets_key].total == 1


async def test_behind_a_trusted_proxy_the_address_cap_counts_the_forwarded_client(make_client: Any) -> None:
    client: Client = await make_client(trusted_proxies=("127.0.0.0/8",), ws_max_per_identity=10, ws_max_per_address=1)
    async with Harness(client) as h:
        operator = await h.staff()
        browser = await h.operator_browser(operator)
        headers = {"Origin": h.origin}
        for forwarded in ("198.51.100.1", "198.51.100.2"):  # two clients behind the same proxy
            ws = await browser.ws_connect(f"{h.base}/ws", headers={**headers, "X-Forwarded-For": forwarded})
            h._peers.append(Peer(ws, browser))
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await browser.ws_connect(f"{h.base}/ws", headers={**headers, "X-Forwarded-For": "198.51.100.1"})
        assert info.value.status == 429
