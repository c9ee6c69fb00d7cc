"""A supervision meeting end to end, without a browser: aiortc participants join ``/ws/group`` over real sockets,
publish generated VP8 and Opus through the server's SFU as the protocol says (their offer, the SFU's offers, the
``tracks`` map), and each decodes the video of every other participant. The frames are told apart by their pixels
(:func:`tests.helpers.media.publisher_of`), whatever the server says it forwards.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import av
import pytest
from aiohttp.test_utils import TestClient
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from server.models import Staff
from tests.helpers.factories import supervision_room
from tests.helpers.media import Grey, Sine, loopback_ice, publisher_of
from tests.helpers.sockets import GroupHarness, Peer

__all__ = ["loopback_ice"]  # the autouse fixture: aiortc gets the loopback address

FRAMES = 5  # decoded frames wanted from each other publisher


class Participant:
    """One aiortc client of ``/ws/group``: publishes on its first offer, answers the SFU, decodes what it gets."""

    def __init__(self, peer: Peer, index: int, others: set[int]) -> None:
        self.peer, self.index, self.others = peer, index, others
        self.decoded = asyncio.Event()  # set at each decoded frame
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        self.mids: dict[str, tuple[str, str]] = {}  # mid -> (publisher id, source)
        self.frames: dict[int, int] = defaultdict(int)  # publisher index (by pixels) -> frames decoded
        self.tasks: list[asyncio.Task[None]] = []
        self.pc.on("track", lambda track: self.tasks.append(asyncio.create_task(self._read(track))))

    async def publish(self) -> None:
        self.pc.addTrack(Sine())
        self.pc.addTrack(Grey(self.index))
        await self.pc.setLocalDescription(await self.pc.createOffer())
        await self.peer.send(type="offer", to="sfu", sdp=self.pc.localDescription.sdp)
        self.tasks.append(asyncio.create_task(self._signal()))

    async def _signal(self) -> None:
        while True:
            msg = await self.peer.recv(within=30)
            if msg["type"] == "tracks":
                self.mids = {t["mid"]: (t["from"], t["source"]) for t in msg["tracks"]}
            elif msg["type"] == "answer":
                assert msg["from"] == "sfu"
                await self.pc.setRemoteDescription(RTCSessionDescription(msg["sdp"], "answer"))
            elif msg["type"] == "offer":
                await self.pc.setRemoteDescription(RTCSessionDescription(msg["sdp"], "offer"))
                await self.pc.setLocalDescription(await self.pc.createAnswer())
                await self.peer.send(type="answer", to="sfu", sdp=self.pc.localDescription.sdp)

    async def _read(self, track: MediaStreamTrack) -> None:
        if track.kind != "video":
            with contextlib.suppress(MediaStreamError):
                while True:
                    await track.recv()
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                assert isinstance(frame, av.VideoFrame)
                self.frames[publisher_of(frame)] += 1
                self.decoded.set()

    async def sees(self, publishers: set[int], beyond: dict[int, int] | None = None) -> None:
        """Until FRAMES more frames than ``beyond`` (default none) are decoded from each of ``publishers``."""
        floor = beyond or {}
        while not all(self.frames[i] >= floor.get(i, 0) + FRAMES for i in publishers):
            self.decoded.clear()
            await self.decoded.wait()

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.pc.close()


@dataclass
class Meeting:
    """A one-off room, its three staff (a supervisor and two members) and their aiortc participants."""

    staff: list[Staff]
    room: str
    harness: GroupHarness
    participants: list[Participant] = field(default_factory=list)

    async def everyone_publishes(self) -> None:
        """Join, publish, and wait until each participant decodes the video of every other."""
        everyone = set(range(len(self.staff)))
        for index, person in enumerate(self.staff):
            peer, _welcome = await self.harness.member(person, self.room)
            self.participants.append(Participant(peer, index, everyone - {index}))
        for participant in self.participants:
            await participant.publish()
        await asyncio.gather(*(p.sees(p.others) for p in self.participants))


@pytest.fixture
async def meeting(client: TestClient[Any, Any], loopback_ice: None) -> AsyncIterator[Meeting]:
    supervisor, members, room = await supervision_room(client.app, members=2)
    async with GroupHarness(client) as harness:
        found = Meeting([supervisor, *members], room, harness)
        try:
            yield found  # the suite's per-test timeout bounds a test that waits for frames forever
        finally:
            for participant in found.participants:
                await participant.close()


async def test_three_participants_see_each_other_through_the_sfu(meeting: Meeting) -> None:
    await meeting.everyone_publishes()
    participants = meeting.participants
    for p in participants:
        assert set(p.frames) == p.others  # nobody receives their own video
        ids = {peer.peer.id for peer in participants if peer is not p}
        assert {publisher for publisher, source in p.mids.values() if source == "camera"} == ids


async def test_a_participant_who_drops_comes_back_without_the_others_noticing_more(meeting: Meeting) -> None:
    await meeting.everyone_publishes()
    participants = meeting.participants

    # The third one's network goes: socket and peer connection. The meeting goes on for the other two.
    dropped = participants.pop()
    await dropped.close()
    await dropped.peer.ws.close()
    first, second = participants
    await asyncio.gather(first.sees({1}, dict(first.frames)), second.sees({0}, dict(second.frames)))

    # It reconnects: straight back into the call under the same id, and publishes on a new connection.
    peer, welcome = await meeting.harness.member(meeting.staff[2], meeting.room)
    assert (welcome["state"], welcome["id"]) == ("in_call", dropped.peer.id)
    back = Participant(peer, 2, {0, 1})
    participants.append(back)
    await back.publish()
    await asyncio.gather(back.sees({0, 1}), first.sees({2}, dict(first.frames)), second.sees({2}, dict(second.frames)))
