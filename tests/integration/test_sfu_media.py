"""The embedded SFU moving real media: aiortc clients in this process publish generated VP8 video and Opus audio
to :class:`EmbeddedSfu` (driven directly, no socket) and decode what it forwards to them.

Each publisher's video is a flat grey of its own level (with a moving block), so a subscriber can tell whose frame it
decoded from the pixels alone, whatever the SFU says it forwards. Per WEBRTC-TESTING.md aiortc gets the loopback
address (aioice leaves it out) and no ICE servers.
"""

from __future__ import annotations

import asyncio
import fractions
import functools
import threading
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable

import av
import pytest
from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av.video.frame import PictureType

from signaling.sfu import Feed, NegotiationBusy, Publishing, SdpOut, SfuEvent, Speaking, TracksOut
from signaling.sfu import aiortc_private as private
from signaling.sfu.embedded import EmbeddedSfu
from tests.helpers.media import FPS, HEIGHT, WIDTH, Grey, Sine, loopback_ice, publisher_of

__all__ = ["loopback_ice"]  # the autouse fixture: aiortc gets the loopback address

ROOM = "room"


class KeyframesOnRequest(MediaStreamTrack):
    """:class:`Grey` frames encoded here with libvpx, with a keyframe first and then only when asked for (aiortc's
    own encoder also makes one whenever the estimated bitrate moves): any keyframe after the first was asked for."""

    kind = "video"

    def __init__(self, index: int) -> None:
        super().__init__()
        self.source = Grey(index)
        self.encoder = av.CodecContext.create("libvpx", "w")
        self.encoder.width, self.encoder.height, self.encoder.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        self.encoder.time_base, self.encoder.framerate = fractions.Fraction(1, 90000), fractions.Fraction(FPS)
        self.encoder.bit_rate, self.encoder.gop_size = 200_000, 1_000_000
        self.encoder.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
        self.wanted = True
        self.keyframes: list[float] = []  # when each keyframe was made

    def request(self) -> None:
        self.wanted = True

    async def recv(self) -> av.Packet:
        while True:
            frame = await self.source.recv()
            if self.wanted:
                self.wanted = False
                frame.pict_type = PictureType.I
                self.keyframes.append(time.monotonic())
            for packet in self.encoder.encode(frame):
                packet.pts, packet.time_base = frame.pts, fractions.Fraction(1, 90000)
                return packet


class Client:
    """An aiortc participant: publishes on its first offer, answers the SFU's offers, decodes what it receives."""

    def __init__(self, sfu: EmbeddedSfu, name: str, index: int) -> None:
        self.sfu, self.name, self.index = sfu, name, index
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        self.events: asyncio.Queue[SfuEvent] = asyncio.Queue()
        self.seen: list[SfuEvent] = []
        self.mids: dict[str, Feed] = {}
        self.frames: dict[int, list[float]] = defaultdict(list)  # publisher index -> decode times
        self.by_mid: dict[str, list[int]] = defaultdict(list)  # mid -> publisher index of each decoded frame
        self.audio: dict[str, int] = defaultdict(int)  # mid -> audio frames decoded
        self.answer_offers = True
        self.video_sender: RTCRtpSender | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.pc.on("track", self._on_track)

    async def join(self, publish: bool = True, video: MediaStreamTrack | None = None) -> None:
        await self.sfu.join(ROOM, self.name, self.events.put_nowait)
        self.tasks.append(asyncio.create_task(self._work()))
        if publish:
            self.pc.addTrack(Sine())
            self.video_sender = self.pc.addTrack(video or Grey(self.index))
        await self.pc.setLocalDescription(await self.pc.createOffer())
        await self.sfu.signal(ROOM, self.name, "offer", self.pc.localDescription.sdp)

    async def _work(self) -> None:
        while True:
            event = await self.events.get()
            self.seen.append(event)
            if isinstance(event, TracksOut):
                self.mids = dict(event.tracks)
            elif isinstance(event, SdpOut) and event.kind == "answer":
                await self.pc.setRemoteDescription(RTCSessionDescription(event.sdp, "answer"))
            elif isinstance(event, SdpOut) and self.answer_offers:
                await self.answer(event.sdp)

    async def answer(self, sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await self.sfu.signal(ROOM, self.name, "answer", self.pc.localDescription.sdp)

    def _on_track(self, track: MediaStreamTrack) -> None:
        mid = next(t.mid for t in self.pc.getTransceivers() if t.receiver.track is track)
        assert mid is not None
        self.tasks.append(asyncio.create_task(self._read(mid, track)))

    async def _read(self, mid: str, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                if isinstance(frame, av.VideoFrame):
                    who = publisher_of(frame)
                    self.frames[who].append(time.monotonic())
                    self.by_mid[mid].append(who)
                else:
                    self.audio[mid] += 1
        except MediaStreamError:
            pass

    def decoded(self, publishers: set[int], count: int) -> bool:
        """At least ``count`` frames decoded from each of ``publishers``."""
        return all(len(self.frames[i]) >= count for i in publishers)

    def heard(self, feeds: int, count: int) -> bool:
        """At least ``count`` audio frames decoded on each of ``feeds`` transceivers."""
        return len(self.audio) == feeds and min(self.audio.values()) >= count

    def offers(self) -> int:
        return sum(1 for e in self.seen if isinstance(e, SdpOut) and e.kind == "offer")

    def mid_of(self, feed: Feed) -> str:
        return next(mid for mid, carried in self.mids.items() if carried == feed)

    async def close(self) -> None:
        await self.pc.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def note_time(times: list[float]) -> None:
    times.append(time.monotonic())


def full_table(clients: Iterable[Client]) -> dict[str, frozenset[Feed]]:
    """Everyone receives everyone else's audio and camera."""
    names = [c.name for c in clients]
    return {
        name: frozenset(Feed(other, source) for other in names if other != name for source in ("audio", "camera"))
        for name in names
    }


async def until(condition: Callable[[], bool], what: str, within: float = 8.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@pytest.fixture
async def sfu() -> AsyncIterator[EmbeddedSfu]:
    sfu = EmbeddedSfu(ice_servers=[])
    await sfu.create_room(ROOM)
    yield sfu
    await sfu.close()


@pytest.fixture
async def room(sfu: EmbeddedSfu) -> AsyncIterator[list[Client]]:
    """Clients made by the test, closed at the end."""
    clients: list[Client] = []
    yield clients
    for client in clients:
        await client.close()


async def start(
    sfu: EmbeddedSfu, room: list[Client], count: int, video: Callable[[int], MediaStreamTrack] | None = None
) -> list[Client]:
    new = [Client(sfu, f"p{len(room) + i}", len(room) + i) for i in range(count)]
    room.extend(new)
    for client in new:
        await client.join(video=video(client.index) if video else None)
    await sfu.route(ROOM, full_table(room))
    return new


def sfu_receivers(sfu: EmbeddedSfu) -> list[RTCRtpReceiver]:
    peers = sfu._rooms[ROOM].peers.values()
    return [p.receiver for peer in peers for p in peer.publications.values()]


async def test_six_participants_receive_everyone_without_decoding_on_the_sfu(
    sfu: EmbeddedSfu, room: list[Client]
) -> None:
    clients = await start(sfu, room, 6)
    for client in clients:
        others = {c.index for c in clients} - {client.index}
        await until(functools.partial(client.decoded, others, 3), what=f"{client.name}'s frames")
        await until(functools.partial(client.heard, 5, 10), what=f"{client.name}'s audio")
        assert set(client.frames) == others  # nobody gets their own feed back, nor a wrong one
        for mid, who in client.by_mid.items():
            assert set(who) == {int(client.mids[mid].publisher[1:])}  # each mid carries what TracksOut says
    # The SFU never decodes: its receivers have no decoder thread, and the only decoder threads are the clients'.
    receivers = sfu_receivers(sfu)
    assert len(receivers) == 12
    assert all(private.receiver_started(r) for r in receivers)
    assert not any(isinstance(private.decoder_thread(r), threading.Thread) for r in receivers)
    decoders = [t for t in threading.enumerate() if t.name.endswith("-decoder")]
    client_receivers = [t for c in clients for t in c.pc.getTransceivers() if t.currentDirection == "recvonly"]
    assert len(decoders) == len(client_receivers) == 6 * 10
    # What the room hears about: each feed starting, and audio levels.
    for client in clients:
        assert Publishing(client.name, "camera", True) in _all_events(clients, client.name)
        assert any(isinstance(e, Speaking) and e.level < 127 for e in _all_events(clients, client.name))


def _all_events(clients: list[Client], about: str) -> list[SfuEvent]:
    return [e for c in clients for e in c.seen if isinstance(e, (Publishing, Speaking)) and e.participant == about]


async def test_a_late_joiner_gets_each_feed_from_a_keyframe_asked_for_at_once(
    sfu: EmbeddedSfu, room: list[Client], caplog: pytest.LogCaptureFixture
) -> None:
    tracks: dict[int, KeyframesOnRequest] = {}
    early = await start(sfu, room, 3, video=lambda index: tracks.setdefault(index, KeyframesOnRequest(index)))
    requests: dict[int, list[float]] = defaultdict(list)
    for client in early:
        assert client.video_sender is not None
        private.on_keyframe_request(client.video_sender, functools.partial(note_time, requests[client.index]))
        private.on_keyframe_request(client.video_sender, tracks[client.index].request)
    for client in early:
        await until(functools.partial(client.decoded, {c.index for c in early} - {client.index}, 1), what="frames")
    joined = time.monotonic()
    (late,) = await start(sfu, room, 1)
    await until(lambda: len(late.frames) == 3, what="the late joiner's frames")
    # Order, not speed (timings belong in tests/bench): the clock readings only say what happened before what.
    for client in early:
        asked = [t for t in requests[client.index] if t >= joined]
        made = [t for t in tracks[client.index].keyframes if t >= joined]
        first = late.frames[client.index][0]
        assert asked and asked[0] <= first  # the SFU asked each publisher on the newcomer's behalf, before it saw any
        assert made and asked[0] <= made[0]  # only then did a keyframe exist to start from
        assert made[0] <= first  # and the newcomer's first frame came after it: nothing it decoded predates the PLI
    # Nothing before a keyframe reached the newcomer: its decoder never failed.
    assert not [r for r in caplog.records if "failed to decode" in r.getMessage()]


async def test_route_changes_reuse_the_transceivers(sfu: EmbeddedSfu, room: list[Client]) -> None:
    *_, p2 = await start(sfu, room, 3)
    await until(lambda: len(p2.frames) == 2, what="p2's frames")
    table = full_table(room)
    offers = p2.offers()
    cam0, cam1 = Feed("p0", "camera"), Feed("p1", "camera")
    mid0 = p2.mid_of(cam0)

    # Take p0's camera away from p2, then give it back: its frames stop, then start again on the same transceiver.
    await sfu.route(ROOM, {**table, "p2": table["p2"] - {cam0}})
    await until(lambda: cam0 not in p2.mids.values(), what="p2's tracks without p0")
    await asyncio.sleep(0.3)
    stopped = len(p2.frames[0])
    await asyncio.sleep(0.5)
    assert len(p2.frames[0]) == stopped
    await sfu.route(ROOM, table)
    await until(lambda: len(p2.frames[0]) > stopped + 3, what="p0's frames again")

    # Last N = 1: p2 sees p0 only, then p1 only, on one transceiver.
    await sfu.route(ROOM, {**table, "p2": table["p2"] - {cam1}})
    await until(lambda: cam1 not in p2.mids.values(), what="p2's tracks without p1")
    await sfu.route(ROOM, {**table, "p2": table["p2"] - {cam0}})
    await until(lambda: cam0 not in p2.mids.values(), what="p2's tracks without p0")
    swapped_mid = p2.mid_of(cam1)
    before = len(p2.by_mid[swapped_mid])
    await until(lambda: len(p2.by_mid[swapped_mid]) > before + 3, what="p1's frames on the swapped transceiver")
    assert p2.by_mid[swapped_mid][-1] == 1
    assert {mid0, swapped_mid} <= set(p2.by_mid)
    assert p2.offers() == offers  # no renegotiation for any of it


async def test_a_client_offer_crossing_the_sfu_offer_is_refused(sfu: EmbeddedSfu, room: list[Client]) -> None:
    p0, p1 = Client(sfu, "p0", 0), Client(sfu, "p1", 1)
    room.extend([p0, p1])
    p1.answer_offers = False
    await p0.join()
    await p1.join()
    await sfu.route(ROOM, full_table(room))
    await until(lambda: p1.offers() == 1, what="the SFU's offer to p1")
    other = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    other.addTrack(Grey(1))
    await other.setLocalDescription(await other.createOffer())
    await sfu.signal(ROOM, "p1", "offer", other.localDescription.sdp)
    await other.close()
    await until(lambda: NegotiationBusy("p1") in p1.seen, what="negotiation_busy")
    offer = next(e for e in p1.seen if isinstance(e, SdpOut) and e.kind == "offer")
    await p1.answer(offer.sdp)
    await until(lambda: len(p1.frames[0]) >= 3, what="p0's frames at p1")


async def test_leaving_and_closing_leave_nothing_running(sfu: EmbeddedSfu, room: list[Client]) -> None:
    p0, *_ = await start(sfu, room, 3)
    await until(lambda: len(p0.frames) == 2, what="p0's frames")
    await sfu.leave(ROOM, "p1")
    await until(lambda: Feed("p1", "camera") not in p0.mids.values(), what="p0's tracks without p1")
    await sfu.leave(ROOM, "p1")  # idempotent
    for client in room:
        await client.close()
    room.clear()
    await sfu.close()
    await asyncio.sleep(0.3)  # aiortc's own connect and close tasks finish
    pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert pending == []
    assert [t.name for t in threading.enumerate() if t.name.endswith("-decoder")] == []
