"""The embedded SFU's cost and late-join time, with real VP8 and Opus from aiortc clients.

The media server runs in its own process (``serve``), so that only its CPU is counted; this process runs every
client and talks to it over the child's stdin/stdout, one JSON object a line. The server is either ``EmbeddedSfu``
(``sfu``) or, as the baseline, aiortc's ``MediaRelay`` (``relay``: each feed decoded once, then re-encoded for each
viewer, as an aiortc server without an SFU would do it).

- ``sfu_streams_per_core``: rooms of 4, 8 and 12 where everyone publishes a 640x480 VP8 camera (about 600 kbps at
  20 fps, pre-encoded once so that the clients stay cheap) and Opus audio, and receives everyone else's; forwarded
  streams divided by the server's CPU share (its ``process_time`` over the wall time). The clients count what
  arrives without decoding it, and the delivered share is printed beside each figure.
- ``sfu_vs_reencode_ratio``: the relay's CPU per forwarded stream over the SFU's, rooms of 4, same clients.
- ``sfu_late_join_first_frame_ms``: in an 8-person room whose publishers encode live (so that a keyframe request is
  honoured), from a newcomer's join to its first decoded frame of every publisher (the slowest of the seven); the
  median of a few joins.
"""

from __future__ import annotations

import asyncio
import cProfile
import fractions
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import aioice.ice
import av
from aiortc import (
    AudioStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av.video.frame import PictureType

from signaling.sfu import Feed, SdpOut, SfuEvent, TracksOut
from signaling.sfu import aiortc_private as private
from signaling.sfu.embedded import EmbeddedSfu
from tests.bench import report

SIZES = (4, 8, 12)
WIDTH, HEIGHT, FPS, BITRATE = 640, 480, 20, 600_000
CLIP_FRAMES = 40  # the pre-encoded clip: a keyframe, then 39 frames panning over noise
WARMUP, MEASURE = 2.5, 5.0
LATE_JOINS = 3
CONFIG = RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
TIMEOUT = 85.0


def loopback_only() -> None:
    """aioice leaves 127.0.0.1 out of its host candidates; keep everything on loopback (WEBRTC-TESTING.md)."""
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]


# -- the server process --------------------------------------------------------------------------------------------


class RelayServer:
    """The baseline: what an aiortc server without an SFU does (decode each feed once, encode it per viewer)."""

    def __init__(self, emit: Callable[[dict[str, Any]], None]) -> None:
        self.emit, self.relay = emit, MediaRelay()
        self.counts = {"audio": 0, "video": 0}  # frames handed to the viewers' senders (each one re-encoded)
        self.pcs: dict[str, RTCPeerConnection] = {}
        self.tracks: dict[str, list[MediaStreamTrack]] = {}

    async def join(self, who: str) -> None:
        self.pcs[who], self.tracks[who] = RTCPeerConnection(CONFIG), []
        self.pcs[who].on("track", self.tracks[who].append)

    async def signal(self, who: str, kind: str, sdp: str) -> None:
        pc = self.pcs[who]
        await pc.setRemoteDescription(RTCSessionDescription(sdp, kind))
        if kind == "offer":
            await pc.setLocalDescription(await pc.createAnswer())
            self.emit({"op": "sdp", "id": who, "kind": "answer", "sdp": pc.localDescription.sdp})

    async def route(self, table: dict[str, list[list[str]]]) -> None:
        for who, pc in self.pcs.items():
            for publisher in sorted({feed[0] for feed in table.get(who, [])}):
                for track in self.tracks[publisher]:
                    pc.addTransceiver(Counted(self.relay.subscribe(track), self.counts), direction="sendonly")
            await pc.setLocalDescription(await pc.createOffer())
            self.emit({"op": "sdp", "id": who, "kind": "offer", "sdp": pc.localDescription.sdp})

    async def close(self) -> None:
        for pc in self.pcs.values():
            await pc.close()


class Counted(MediaStreamTrack):
    """A relayed track that counts the frames its sender takes."""

    def __init__(self, source: MediaStreamTrack, counts: dict[str, int]) -> None:
        super().__init__()
        self.kind, self.source, self.counts = source.kind, source, counts

    async def recv(self) -> av.frame.Frame | av.Packet:
        frame = await self.source.recv()
        self.counts[self.kind] += 1
        return frame


async def _serve(mode: str) -> None:
    loopback_only()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def emit(message: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    def on_event(who: str) -> Callable[[SfuEvent], None]:
        def handle(event: SfuEvent) -> None:
            if isinstance(event, SdpOut):
                emit({"op": "sdp", "id": who, "kind": event.kind, "sdp": event.sdp})
            elif isinstance(event, TracksOut):
                emit({"op": "tracks", "id": who, "tracks": [[mid, *feed] for mid, feed in event.tracks]})

        return handle

    sfu, relay = EmbeddedSfu(ice_servers=[]), RelayServer(emit)
    while line := await reader.readline():
        msg = json.loads(line)
        op = msg["op"]
        if op == "cpu":
            frames = relay.counts if mode == "relay" else sfu.forwarded_frames()
            emit({"op": "cpu", "cpu": time.process_time(), "wall": time.monotonic(), "frames": frames})
        elif mode == "relay" and op in ("join", "signal", "route"):
            await getattr(relay, op)(*msg["args"])
        elif op == "join":
            await sfu.join("bench", msg["args"][0], on_event(msg["args"][0]))
        elif op == "leave":
            await sfu.leave("bench", msg["args"][0])
        elif op == "signal":
            await sfu.signal("bench", *msg["args"])
        elif op == "route":
            table = {who: frozenset(Feed(p, s) for p, s in feeds) for who, feeds in msg["args"][0].items()}
            await sfu.route("bench", table)
    await sfu.close()
    await relay.close()


def serve(mode: str) -> None:
    """The server process; with BENCH_SFU_PROFILE=FILE it writes a cProfile of itself to FILE."""
    profile = os.environ.get("BENCH_SFU_PROFILE")
    if not profile:
        asyncio.run(_serve(mode))
        return
    with cProfile.Profile() as profiler:
        asyncio.run(_serve(mode))
    profiler.dump_stats(profile)


class Server:
    """The server process, seen from the clients."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.handlers: dict[str, Callable[[dict[str, Any]], None]] = {}
        self.replies: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.reading = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, mode: str) -> Server:
        code = "import sys; from tests.bench.bench_sfu import serve; serve(sys.argv[1])"
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            code,
            mode,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=1 << 24,
        )
        return cls(process)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            msg = json.loads(line)
            if msg["op"] == "cpu":
                self.replies.put_nowait(msg)
            else:
                self.handlers[msg["id"]](msg)

    def send(self, op: str, *args: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps({"op": op, "args": args}) + "\n").encode())

    async def cpu(self) -> tuple[float, float, float]:
        """The server's CPU seconds, wall clock, and streams forwarded so far (frames over each kind's rate)."""
        self.send("cpu")
        reply = await self.replies.get()
        return reply["cpu"], reply["wall"], reply["frames"]["video"] / FPS + reply["frames"]["audio"] / 50

    async def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        self.reading.cancel()
        await asyncio.gather(self.reading, return_exceptions=True)


# -- the clients -------------------------------------------------------------------------------------------------


def encode_clip() -> tuple[list[bytes], list[bytes]]:
    """CLIP_FRAMES of VP8 (a keyframe, then a pan over noise) and one second of Opus (a tone), encoded once."""
    vp8 = av.CodecContext.create("libvpx", "w")
    vp8.width, vp8.height, vp8.pix_fmt, vp8.bit_rate = WIDTH, HEIGHT, "yuv420p", BITRATE
    vp8.time_base, vp8.gop_size = fractions.Fraction(1, FPS), 3000
    vp8.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    rng = random.Random(7)
    noise = bytes(rng.randrange(40, 200) for _ in range(WIDTH * 2 * HEIGHT))
    video: list[bytes] = []
    for n in range(CLIP_FRAMES + 8):
        frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
        frame.planes[0].update(b"".join(noise[r * 2 * WIDTH + n * 4 :][:WIDTH] for r in range(HEIGHT)))
        for plane in frame.planes[1:]:
            plane.update(b"\x80" * plane.buffer_size)
        frame.pts, frame.pict_type = n, PictureType.NONE
        video += [bytes(p) for p in vp8.encode(frame)]
    opus = av.CodecContext.create("libopus", "w")
    opus.sample_rate, opus.layout, opus.format, opus.bit_rate = 48000, "stereo", "s16", 32000
    tone = b"".join(int(6000 * ((i // 55) % 2 * 2 - 1)).to_bytes(2, "little", signed=True) * 2 for i in range(960))
    audio: list[bytes] = []
    for n in range(60):
        sound = av.AudioFrame(format="s16", layout="stereo", samples=960)
        sound.planes[0].update(tone)
        sound.pts, sound.sample_rate = n * 960, 48000
        audio += [bytes(p) for p in opus.encode(sound)]
    return video[:CLIP_FRAMES], audio[:50]


class Clip(MediaStreamTrack):
    """Pre-encoded frames, looped in real time, as ``av.Packet`` (aiortc's sender only packetizes them)."""

    def __init__(self, kind: str, frames: list[bytes]) -> None:
        super().__init__()
        self.kind, self.frames, self.n = kind, frames, 0
        self.rate, self.step = (FPS, 90000 // FPS) if kind == "video" else (50, 960)
        self.time_base = fractions.Fraction(1, 90000 if kind == "video" else 48000)
        self.started = time.monotonic()

    async def recv(self) -> av.Packet:
        if self.readyState != "live":
            raise MediaStreamError
        await asyncio.sleep(max(0.0, self.started + self.n / self.rate - time.monotonic()))
        packet = av.Packet(self.frames[self.n % len(self.frames)])
        packet.pts, packet.time_base = self.n * self.step, self.time_base
        self.n += 1
        return packet


class Live(VideoStreamTrack):
    """Live-encoded 320x240 frames (a keyframe request is honoured), for the late-join figure."""

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame(320, 240, "yuv420p")
        for plane, value in zip(frame.planes, (60 + pts % 120, 128, 128), strict=True):
            plane.update(bytes([value]) * plane.buffer_size)
        frame.pts, frame.time_base, frame.pict_type = pts, time_base, PictureType.NONE
        return frame


class Client:
    def __init__(self, server: Server, who: str, decode: bool = False) -> None:
        self.server, self.who, self.decode = server, who, decode
        self.pc = RTCPeerConnection(CONFIG)
        self.received = 0
        self.first: dict[str, float] = {}  # mid -> first frame (decoded, when decode)
        self.tasks: list[asyncio.Task[None]] = []
        self.pc.on("track", self._on_track)
        server.handlers[who] = lambda msg: self.tasks.append(asyncio.create_task(self._handle(msg)))

    async def join(self, tracks: list[MediaStreamTrack]) -> None:
        self.server.send("join", self.who)
        for track in tracks:
            self.pc.addTransceiver(track, direction="sendonly")
        if not tracks:
            self.pc.addTransceiver("audio", direction="recvonly")
        await self.pc.setLocalDescription(await self.pc.createOffer())
        self.server.send("signal", self.who, "offer", self.pc.localDescription.sdp)

    async def _handle(self, msg: dict[str, Any]) -> None:
        if msg["op"] != "sdp":
            return
        await self.pc.setRemoteDescription(RTCSessionDescription(msg["sdp"], msg["kind"]))
        if msg["kind"] == "offer":
            await self.pc.setLocalDescription(await self.pc.createAnswer())
            self.server.send("signal", self.who, "answer", self.pc.localDescription.sdp)

    def _on_track(self, track: MediaStreamTrack) -> None:
        transceiver = next(t for t in self.pc.getTransceivers() if t.receiver.track is track)
        mid = str(transceiver.mid)
        if self.decode:
            if track.kind == "video":
                self.tasks.append(asyncio.create_task(self._read(mid, track)))
            else:
                private.capture_encoded_frames(transceiver.receiver, lambda c, f: None, lambda: None)
            return

        def count(size: int) -> None:
            self.received += 1
            self.first.setdefault(mid, time.monotonic())

        private.discard_rtp(transceiver.receiver, count)

    async def _read(self, mid: str, track: MediaStreamTrack) -> None:
        try:
            await track.recv()
            self.first[mid] = time.monotonic()
            while True:
                await track.recv()
        except MediaStreamError:
            pass

    async def close(self) -> None:
        await self.pc.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def full_table(names: list[str]) -> dict[str, list[list[str]]]:
    return {n: [[o, s] for o in names if o != n for s in ("audio", "camera")] for n in names}


async def wait_until(condition: Callable[[], bool], what: str, within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


# -- the figures -----------------------------------------------------------------------------------------------------


async def cpu_per_stream(mode: str, size: int, clip: tuple[list[bytes], list[bytes]]) -> float:
    """Run a room of ``size`` on a fresh server; the server's CPU share per forwarded stream (print the details)."""
    server = await Server.start(mode)
    names = [f"p{i}" for i in range(size)]
    clients = [Client(server, name) for name in names]
    try:
        for client in clients:
            await client.join([Clip("audio", clip[1]), Clip("video", clip[0])])
        await asyncio.sleep(0.5)  # the answers are in: the server knows every publication
        server.send("route", full_table(names))
        streams = size * (size - 1) * 2
        await wait_until(lambda: all(len(c.first) == 2 * (size - 1) for c in clients), f"{mode} {size} flowing")
        await asyncio.sleep(WARMUP)
        cpu0, wall0, done0 = await server.cpu()
        await asyncio.sleep(MEASURE)
        cpu1, wall1, done1 = await server.cpu()
    finally:
        for client in clients:
            await client.close()
        await server.stop()
    share, forwarded = (cpu1 - cpu0) / (wall1 - wall0), (done1 - done0) / (wall1 - wall0)
    print(
        f"{mode:5} room of {size:2}: {streams:3} streams, {forwarded / streams:4.0%} of their frames forwarded, "
        f"server CPU {share:6.1%} of a core: {forwarded / share:4.0f} streams per core",
        flush=True,
    )
    return share / forwarded


async def late_join_ms() -> float:
    """The median over LATE_JOINS newcomers to an 8-person room of the time to the last publisher's first frame."""
    server = await Server.start("sfu")
    names = [f"p{i}" for i in range(7)]
    clients = [Client(server, name) for name in names]
    times: list[float] = []
    try:
        for client in clients:
            await client.join([AudioStreamTrack(), Live()])
        await asyncio.sleep(0.5)
        server.send("route", full_table(names))
        await wait_until(lambda: all(len(c.first) == 12 for c in clients), "the 7 flowing")
        for n in range(LATE_JOINS):
            late = Client(server, f"late{n}", decode=True)
            started = time.monotonic()
            await late.join([AudioStreamTrack(), Live()])
            server.send("route", full_table([*names, late.who]))
            await wait_until(lambda late=late: len(late.first) == 7, "the newcomer's frames", within=10)  # type: ignore[misc]
            times.append((max(late.first.values()) - started) * 1000)
            print(f"late joiner {n + 1}: last first frame after {times[-1]:.0f} ms", flush=True)
            server.send("leave", late.who)
            await late.close()
            server.send("route", full_table(names))
    finally:
        for client in clients:
            await client.close()
        await server.stop()
    return statistics.median(times)


async def run() -> None:
    loopback_only()
    clip = encode_clip()
    per_stream = {size: await cpu_per_stream("sfu", size, clip) for size in SIZES}
    relay = await cpu_per_stream("relay", 4, clip)
    for size in SIZES:
        report(f"sfu_streams_per_core_{size}", 1 / per_stream[size], "streams", ">=", 150)
    report("sfu_streams_per_core", 1 / max(per_stream.values()), "streams", ">=", 150)
    report("sfu_vs_reencode_ratio", relay / per_stream[4], "x", ">=", 15)
    report("sfu_late_join_first_frame_ms", await late_join_ms(), "ms", "<=", 500)


async def main() -> None:
    await asyncio.wait_for(run(), timeout=TIMEOUT)
