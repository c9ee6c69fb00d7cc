"""Generated media for aiortc participants (in-process SFU tests and the group room over sockets): each publisher's
video is a flat grey of its own level with a white block moving along the top rows, so a subscriber tells whose frame
it decoded from the pixels alone (:func:`publisher_of`); the audio is a 440 Hz tone. Per WEBRTC-TESTING.md aiortc
gets the loopback address (aioice leaves it out): a module that imports :func:`loopback_ice` uses that autouse
fixture.
"""

from __future__ import annotations

import asyncio
import fractions
import math
import time

import aioice.ice
import av
import pytest
from aiortc import AudioStreamTrack, VideoStreamTrack
from av.video.frame import PictureType

WIDTH, HEIGHT, FPS = 160, 120, 15
STEP = 30  # grey levels between publishers: 16, 46, 76, ...


@pytest.fixture(autouse=True)
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


def level_of(index: int) -> int:
    return 16 + STEP * index


class Grey(VideoStreamTrack):
    """Frames of a publisher's own grey level, with a white block moving along the top rows."""

    def __init__(self, index: int) -> None:
        super().__init__()
        self.level, self.n, self.started = level_of(index), 0, time.monotonic()

    async def recv(self) -> av.VideoFrame:
        self.n += 1
        await asyncio.sleep(max(0.0, self.started + self.n / FPS - time.monotonic()))
        frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
        luma = bytearray([self.level]) * (WIDTH * HEIGHT)
        x = (self.n * 4) % (WIDTH - 16)
        for row in range(16):
            luma[row * WIDTH + x : row * WIDTH + x + 16] = b"\xeb" * 16
        frame.planes[0].update(bytes(luma))
        for plane in frame.planes[1:]:
            plane.update(b"\x80" * plane.buffer_size)
        frame.pts, frame.time_base = self.n * 6000, fractions.Fraction(1, 90000)
        frame.pict_type = PictureType.NONE  # the encoder must choose (WEBRTC-TESTING.md)
        return frame


class Sine(AudioStreamTrack):
    """A 440 Hz tone, 20 ms frames of 48 kHz mono."""

    def __init__(self) -> None:
        super().__init__()
        self.n, self.started = 0, time.monotonic()
        samples = [int(8000 * math.sin(2 * math.pi * 440 * i / 48000)) for i in range(960)]
        self.payload = b"".join(s.to_bytes(2, "little", signed=True) for s in samples)

    async def recv(self) -> av.AudioFrame:
        self.n += 1
        await asyncio.sleep(max(0.0, self.started + self.n * 0.02 - time.monotonic()))
        frame = av.AudioFrame(format="s16", layout="mono", samples=960)
        frame.planes[0].update(self.payload)
        frame.pts, frame.sample_rate, frame.time_base = self.n * 960, 48000, fractions.Fraction(1, 48000)
        return frame


def publisher_of(frame: av.VideoFrame) -> int:
    """Whose frame this is: the grey level below the moving block, to the nearest publisher's level."""
    plane = frame.planes[0]
    row = bytes(plane)[(HEIGHT - 10) * plane.line_size : (HEIGHT - 10) * plane.line_size + WIDTH]
    return round((sum(row) / len(row) - 16) / STEP)
