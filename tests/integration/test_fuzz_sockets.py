"""Generated and mutated frames over real sockets to participants of real rooms, on every signaling endpoint: the
server answers each with what ``docs/signaling.md`` says, never with ``server_error``, never logs an error, and the
room still works after each batch (a relayed message arrives, a fresh join sees everyone). The drivers are in
:mod:`tests.fuzz.rooms`; ``make fuzz`` runs the same with 100,000 messages.

Bounded here (derandomized, no example database): about 1,500 messages per database.
"""

from __future__ import annotations

import pytest

from signaling import protocol as p
from tests.fuzz.oracle import Verdict
from tests.fuzz.rooms import AlertsFuzz, ConsultationFuzz, GroupFuzz
from tests.fuzz.sockets import batches, drive
from tests.fuzz.strategies import MAX_FRAME, frames, oversize
from tests.helpers.sockets import Harness
from tests.helpers.web import MakeClient

# The fuzz sends as fast as it reads its answers: far above the per-socket rate limit, which has its own tests.
FAST = 100_000


async def test_the_consultation_socket_answers_every_frame_as_documented(make_client: MakeClient) -> None:
    client = await make_client(ws_messages_per_second=FAST)
    async with ConsultationFuzz(client.app) as fuzz:
        await drive(fuzz, batches(frames(), senders=2), examples=40)
    assert fuzz.messages > 500 and fuzz.server_errors == 0


async def test_the_group_socket_answers_every_frame_as_documented(make_client: MakeClient) -> None:
    client = await make_client(ws_messages_per_second=FAST)
    async with GroupFuzz(client.app) as fuzz:
        await drive(fuzz, batches(frames(), senders=3), examples=25)
    assert fuzz.messages > 300 and fuzz.server_errors == 0


@pytest.mark.parametrize("types", [p.GROUP_TYPES, p.ONE_TO_ONE_TYPES], ids=["group", "one_to_one"])
async def test_the_alerts_socket_refuses_every_frame_as_documented(
    make_client: MakeClient, types: frozenset[str]
) -> None:
    client = await make_client(ws_messages_per_second=FAST)
    async with AlertsFuzz(client.app) as fuzz:
        await drive(fuzz, batches(frames(types), senders=1), examples=8)
    assert fuzz.messages > 50 and fuzz.server_errors == 0


async def test_a_frame_of_exactly_64_kib_is_read(make_client: MakeClient) -> None:
    client = await make_client()
    async with Harness(client) as h:
        _op, cit, _ = await h.call()
        frame = oversize(MAX_FRAME).data
        assert isinstance(frame, str) and len(frame.encode()) == MAX_FRAME
        await cit.ws.send_str(frame)
        # Read and parsed (a chat that long is refused by the protocol), not closed with 1009.
        error = await cit.expect("error")
        assert error["code"] == "invalid_message" and not cit.ws.closed


async def test_a_malformed_candidate_for_the_sfu_gets_invalid_message(make_client: MakeClient) -> None:
    client = await make_client()
    async with GroupFuzz(client.app) as fuzz:
        answer = await fuzz.one.exchange('{"v": 1, "type": "candidate", "to": "sfu", "candidate": {"candidate": "x"}}')
        fuzz.log.records.clear()
        assert (answer.verdict, answer.closed) == (Verdict("invalid_message", "candidate"), None)
