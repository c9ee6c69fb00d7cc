"""Forwarding encoded frames: from one publisher's receiver (a :class:`Publication`) to its subscribers'
senders (a :class:`ForwardedTrack` each), without decoding.

A subscriber's transceiver keeps one :class:`ForwardedTrack` for its whole life; which feed it carries is switched in
place (:meth:`ForwardedTrack.attach`). That is what ``sender.replaceTrack`` would do, minus its hazard in aiortc
1.16: the sender keeps waiting on the old track's ``recv()`` (forever, if that feed stopped), and a track that ends
ends the sender. Switching in place also keeps the leg's RTP timestamps continuous across feeds.
"""

from __future__ import annotations

import asyncio
import collections
import fractions
import time
from collections.abc import Callable

import av
from aiortc import RTCRtpReceiver
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from av.stream import Stream

from signaling.sfu import Feed
from signaling.sfu import aiortc_private as private

VIDEO_QUEUE = 8  # frames a lagging subscriber may fall behind before it skips to the next keyframe
AUDIO_QUEUE = 10
CLOCK_RATES = {"audio": 48000, "video": 90000}
KEYFRAME_INTERVAL = 0.1  # at most one PLI per publication in this many seconds (requests in between are merged)


def is_vp8_keyframe(data: bytes) -> bool:
    """A VP8 frame is a keyframe when bit 0 of its first byte (the inverse key frame flag) is 0 (RFC 6386 9.1)."""
    return bool(data) and not data[0] & 1


class ForwardedTrack(MediaStreamTrack):
    """What one subscriber's sender sends: ``av.Packet`` s of the feed currently attached, in a small queue."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.publication: Publication | None = None
        self._clock_rate = CLOCK_RATES[kind]
        self._time_base = fractions.Fraction(1, self._clock_rate)
        self._queue: collections.deque[av.Packet[Stream]] = collections.deque()
        self._limit = VIDEO_QUEUE if kind == "video" else AUDIO_QUEUE
        self._ready = asyncio.Event()
        self._need_keyframe = kind == "video"
        self._offset: int | None = None  # added to the feed's timestamps (None: fix it at the next frame)
        self._last: tuple[int, float] | None = None  # the last timestamp sent, and when
        self._reading = False  # the sender has started reading
        self.forwarded = 0  # frames handed to the sender

    @property
    def feed(self) -> Feed | None:
        return self.publication.feed if self.publication else None

    def attach(self, publication: Publication | None) -> None:
        """Carry ``publication`` from now on (None: nothing). A video feed starts at its next keyframe, asked for."""
        if publication is self.publication:
            return
        if self.publication is not None:
            self.publication.subscribers.discard(self)
        self.publication = publication
        self._queue.clear()
        self._offset = None
        self._need_keyframe = self.kind == "video"
        if publication is not None:
            publication.subscribers.add(self)
            publication.request_keyframe()

    def keyframe_wanted(self) -> None:
        """The subscriber asked for a keyframe (PLI or FIR): pass the request to the publisher."""
        if self.publication is not None:
            self.publication.request_keyframe()

    def push(self, frame: JitterFrame, keyframe: bool) -> None:
        if self.readyState != "live":
            return
        if self._need_keyframe:
            if not keyframe:
                return
            self._need_keyframe = False
        if len(self._queue) >= self._limit:
            self._drop()
            if self._need_keyframe:
                return
        self._queue.append(self._packet(frame))
        self._ready.set()

    def _drop(self) -> None:
        """The subscriber lags: audio loses its oldest frame; video waits for a keyframe (asked for)."""
        if self.kind == "audio":
            self._queue.popleft()
            return
        self._queue.clear()
        self._need_keyframe = True
        if self.publication is not None:
            self.publication.request_keyframe()

    def _packet(self, frame: JitterFrame) -> av.Packet[Stream]:
        now = time.monotonic()
        if self._offset is None:
            # A new feed on this leg: continue from the last timestamp sent, by the time elapsed since.
            start = 0
            if self._last is not None:
                start = self._last[0] + max(1, round((now - self._last[1]) * self._clock_rate))
            self._offset = start - frame.timestamp
        timestamp = frame.timestamp + self._offset
        self._last = (timestamp, now)
        packet = av.Packet(frame.data)
        packet.pts = timestamp
        packet.time_base = self._time_base
        return packet

    async def recv(self) -> av.Packet[Stream]:
        if not self._reading:
            # The leg is up: the keyframe asked for at attach time may have been dropped while it was set up.
            self._reading = True
            if self._need_keyframe:
                self.keyframe_wanted()
        while not self._queue:
            if self.readyState != "live":
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()
        self.forwarded += 1
        return self._queue.popleft()

    def stop(self) -> None:
        self.attach(None)
        super().stop()
        self._ready.set()


class Publication:
    """One feed arriving at the SFU: its receiver's encoded frames, fanned out to the subscribers' tracks."""

    def __init__(self, feed: Feed, receiver: RTCRtpReceiver, on_state: Callable[[Publication, bool], None]) -> None:
        self.feed = feed
        self.kind = "audio" if feed.source == "audio" else "video"
        self.receiver = receiver
        self.subscribers: set[ForwardedTrack] = set()
        self.arriving = False
        self._on_state = on_state
        self._mime = "audio/opus" if self.kind == "audio" else "video/vp8"
        self._keyframe_wanted = asyncio.Event()
        self._keyframes: asyncio.Task[None] | None = None
        if self.kind == "video":
            self._keyframes = asyncio.get_running_loop().create_task(self._send_keyframe_requests())

    def on_frame(self, codec: RTCRtpCodecParameters, frame: JitterFrame) -> None:
        if codec.mimeType.lower() != self._mime:
            return
        if not self.arriving:
            self.arriving = True
            self._on_state(self, True)
        keyframe = self.kind == "audio" or is_vp8_keyframe(frame.data)
        for track in tuple(self.subscribers):
            track.push(frame, keyframe)

    def on_end(self) -> None:
        if self.arriving:
            self.arriving = False
            self._on_state(self, False)

    def request_keyframe(self) -> None:
        if self._keyframes is not None:
            self._keyframe_wanted.set()

    async def _send_keyframe_requests(self) -> None:
        while True:
            await self._keyframe_wanted.wait()
            self._keyframe_wanted.clear()
            await private.send_pli(self.receiver)
            await asyncio.sleep(KEYFRAME_INTERVAL)

    async def close(self) -> None:
        """Stop: the subscribers' tracks carry nothing from now on."""
        for track in tuple(self.subscribers):
            track.attach(None)
        self.on_end()
        if self._keyframes is not None:
            self._keyframes.cancel()
            await asyncio.gather(self._keyframes, return_exceptions=True)
            self._keyframes = None
