"""A real call: two aiortc peers signal through ``/ws`` as operator and citizen and each decodes the other's video.

The operator offers (as the protocol says), the citizen answers; aiortc puts its candidates in the SDP, so each
side then sends the end-of-candidates ``candidate: null``. Per WEBRTC-TESTING.md aiortc is given the loopback
address (aioice leaves it out) and no ICE servers.
"""

from __future__ import annotations

import asyncio
import fractions
from typing import Any

import aioice.ice
import av
import pytest
from aiohttp.test_utils import TestClient
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from aiortc.mediastreams import MediaStreamTrack

from tests.helpers.sockets import Harness, Peer

CALL_TIMEOUT = 30.0


class Pattern(VideoStreamTrack):
    """Flat grey frames of a fixed size, so that the receiver can tell whose frames it decodes."""

    def __init__(self, width: int, height: int) -> None:
        super().__init__()
        self.width, self.height = width, height

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame(self.width, self.height, "yuv420p")
        for plane, value in zip(frame.planes, (90, 128, 128), strict=True):
            plane.update(bytes([value]) * plane.buffer_size)
        frame.pts, frame.time_base = pts, fractions.Fraction(time_base)
        return frame


@pytest.fixture
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> None:
    """aioice skips 127.0.0.1 when gathering host candidates; a loopback-only machine then has none."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


def peer_connection(width: int, height: int) -> tuple[RTCPeerConnection, asyncio.Future[MediaStreamTrack]]:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTrack(Pattern(width, height))
    remote: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        if track.kind == "video" and not remote.done():
            remote.set_result(track)

    return pc, remote


async def decoded_sizes(remote: asyncio.Future[MediaStreamTrack], count: int) -> set[tuple[int, int]]:
    """Read ``count`` decoded frames from the remote video track; return the sizes seen."""
    track = await remote
    sizes = set()
    for _ in range(count):
        frame = await track.recv()
        assert isinstance(frame, av.VideoFrame)
        sizes.add((frame.width, frame.height))
    return sizes


async def signal(op: Peer, cit: Peer, op_pc: RTCPeerConnection, cit_pc: RTCPeerConnection) -> None:
    """Offer from the operator, answer from the citizen, end of candidates both ways, all through /ws."""
    await op_pc.setLocalDescription(await op_pc.createOffer())
    await op.send(type="offer", to=cit.id, sdp=op_pc.localDescription.sdp)
    offer = await cit.expect("offer")
    assert offer["from"] == op.id
    await cit_pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
    await cit_pc.setLocalDescription(await cit_pc.createAnswer())
    await cit.send(type="answer", to=op.id, sdp=cit_pc.localDescription.sdp)
    answer = await op.expect("answer")
    assert answer["from"] == cit.id
    await op_pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
    await op.send(type="candidate", to=cit.id, candidate=None)
    await cit.send(type="candidate", to=op.id, candidate=None)
    assert (await cit.expect("candidate"))["candidate"] is None
    assert (await op.expect("candidate"))["candidate"] is None


@pytest.mark.usefixtures("loopback_ice")
async def test_operator_and_citizen_see_each_other(client: TestClient[Any, Any]) -> None:
    op_pc, op_remote = peer_connection(320, 240)
    cit_pc, cit_remote = peer_connection(160, 120)
    try:
        async with Harness(client) as h, asyncio.timeout(CALL_TIMEOUT):
            op, cit, _ = await h.call()
            await signal(op, cit, op_pc, cit_pc)
            op_sees, cit_sees = await asyncio.gather(decoded_sizes(op_remote, 5), decoded_sizes(cit_remote, 5))
            assert op_sees == {(160, 120)}
            assert cit_sees == {(320, 240)}
            assert op_pc.connectionState == cit_pc.connectionState == "connected"
    finally:
        await op_pc.close()
        await cit_pc.close()
