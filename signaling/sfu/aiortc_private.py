"""The only code that touches aiortc's private internals, pinned to the aiortc versions it was tested with.

aiortc hands a remote track only decoded frames and gives an SFU no say over keyframe requests or codecs chosen in
an answer. What is used, and why:

- ``RTCRtpReceiver.receive`` is replaced on the instance by a copy of aiortc's that does not start the decoder
  thread; it sets the private ``_RTCRtpReceiver__codecs``, ``__rtx_ssrc``, ``__rtcp_task`` and ``__started`` as
  aiortc's does, and calls the private ``RTCDtlsTransport._register_rtp_receiver`` and ``RTCRtpReceiver._run_rtcp``.
- ``_RTCRtpReceiver__decoder_thread`` is set to a no-op stand-in (``_handle_rtp_packet`` only queues frames while
  it is truthy; ``__stop_decoder`` joins it) and ``_RTCRtpReceiver__decoder_queue`` to a sink whose ``put`` hands
  the encoded ``JitterFrame`` (already reassembled, its RTP timestamp mapped to start at 0) to a callback: no
  decoder is ever created.
- ``RTCRtpReceiver._handle_rtp_packet`` is wrapped on the instance to read each packet's RFC 6464 audio level
  (``packet.extensions.audio_level``) and to re-arm the sink after an RTCP BYE (which drops the stand-in).
- ``RTCRtpSender._send_keyframe`` (called by its ``_handle_rtcp_packet`` on a PLI or FIR) is wrapped on the
  instance to pass a subscriber's keyframe request on; ``RTCRtpReceiver._send_rtcp_pli`` sends one to a publisher.
- For load generators (the SFU benchmark's clients), ``RTCRtpReceiver._handle_rtp_packet`` can be replaced on the
  instance by a packet counter (:func:`discard_rtp`).
- ``RTCRtpTransceiver._codecs`` is narrowed after a remote offer, because aiortc creates the transceivers of a
  remote offer itself (without codec preferences) and answers with every codec they have in common.
- ``RTCPeerConnection.createOffer`` resets every transceiver's ``_codecs`` and ``_headerExtensions`` to aiortc's
  own payload types and header extension ids. A browser refuses a later offer that changes what the session
  agreed ("RTP extension ID reassignment not supported"), and within one BUNDLE a payload type or id may not mean
  two things. :func:`keep_session_parameters` gives the connection's transceivers a subclass whose ``_codecs``
  and ``_headerExtensions`` setters translate aiortc's defaults into the types and ids the client offered first.

``tests/unit/test_aiortc_private.py`` fails loudly when any of these changes shape.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Coroutine
from typing import cast

import aiortc
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver
from aiortc.codecs import is_rtx
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters, RTCRtpHeaderExtensionParameters, RTCRtpReceiveParameters
from aiortc.rtp import RtpPacket
from aiortc.sdp import SessionDescription

SUPPORTED_AIORTC = (">=1.16", "<1.17")

FrameCallback = Callable[[RTCRtpCodecParameters, JitterFrame], None]
RtpHandler = Callable[
    [RtpPacket, int], Coroutine[object, object, None]
]  # RTCRtpReceiver._handle_rtp_packet(packet, arrival_time_ms)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:2] if part.isdigit())


def check_version(installed: str = aiortc.__version__) -> None:
    """Raise RuntimeError unless ``installed`` is within :data:`SUPPORTED_AIORTC`."""
    low, high = (_version(bound.lstrip("<>=")) for bound in SUPPORTED_AIORTC)
    if not low <= _version(installed) < high:
        raise RuntimeError(
            f"signaling.sfu needs aiortc {','.join(SUPPORTED_AIORTC)} (it uses aiortc internals); "
            f"aiortc {installed} is installed"
        )


check_version()


class _NoDecoderThread:
    """Stands in for the decoder thread: truthy (frames are queued) and joinable."""

    def join(self, timeout: float | None = None) -> None:
        return None


_NO_DECODER_THREAD = _NoDecoderThread()


class _FrameSink:
    """Stands in for the decoder's queue: hands each encoded frame to ``on_frame``; ``None`` (stop) to ``on_end``."""

    def __init__(self, on_frame: FrameCallback, on_end: Callable[[], None]) -> None:
        self.on_frame, self.on_end = on_frame, on_end

    def put(self, item: tuple[RTCRtpCodecParameters, JitterFrame] | None, *args: object) -> None:
        if item is None:
            self.on_end()
        else:
            self.on_frame(*item)


def _get(receiver: RTCRtpReceiver, name: str) -> object:
    value: object = getattr(receiver, f"_RTCRtpReceiver__{name}")
    return value


def _set(receiver: RTCRtpReceiver, name: str, value: object) -> None:
    setattr(receiver, f"_RTCRtpReceiver__{name}", value)


def receiver_started(receiver: RTCRtpReceiver) -> bool:
    return bool(_get(receiver, "started"))


def decoder_thread(receiver: RTCRtpReceiver) -> object:
    """The receiver's decoder thread (a ``threading.Thread`` when aiortc decodes), for tests."""
    return _get(receiver, "decoder_thread")


def capture_encoded_frames(
    receiver: RTCRtpReceiver,
    on_frame: FrameCallback,
    on_end: Callable[[], None],
    on_audio_level: Callable[[int], None] | None = None,
) -> None:
    """Make ``receiver`` hand its reassembled encoded frames to ``on_frame`` instead of decoding them.

    Must be called before the receiver starts (after ``setRemoteDescription`` created it, before the local answer
    or the remote answer lets aiortc start it). ``on_end`` is called when aiortc stops the receiver's stream (RTCP
    BYE, disconnect, stop); capture resumes by itself if packets arrive again. ``on_audio_level`` gets the RFC 6464
    level (0 loudest, 127 silence) of each packet that carries one.
    """
    if receiver_started(receiver):
        raise RuntimeError("the receiver has already started")
    _set(receiver, "decoder_queue", _FrameSink(on_frame, on_end))
    # Functions set on the instance, which mypy checks against the methods' signatures (with self).
    receiver.receive = _receive_without_decoder(receiver)  # type: ignore[method-assign, assignment]
    receiver._handle_rtp_packet = _wrap_rtp_handler(receiver, on_audio_level)  # type: ignore[method-assign, assignment]


def _receive_without_decoder(
    receiver: RTCRtpReceiver,
) -> Callable[[RTCRtpReceiveParameters], Coroutine[object, object, None]]:
    async def receive(parameters: RTCRtpReceiveParameters) -> None:
        # aiortc 1.16's RTCRtpReceiver.receive, minus the decoder thread.
        if receiver_started(receiver):
            return
        codecs = cast("dict[int | None, RTCRtpCodecParameters]", _get(receiver, "codecs"))
        rtx_ssrc = cast("dict[int, int]", _get(receiver, "rtx_ssrc"))
        for codec in parameters.codecs:
            codecs[codec.payloadType] = codec
        for encoding in parameters.encodings:
            if encoding.rtx:
                rtx_ssrc[encoding.rtx.ssrc] = encoding.ssrc
        _set(receiver, "decoder_thread", _NO_DECODER_THREAD)
        receiver.transport._register_rtp_receiver(receiver, parameters)
        _set(receiver, "rtcp_task", asyncio.ensure_future(receiver._run_rtcp()))
        _set(receiver, "started", True)

    return receive


def _wrap_rtp_handler(receiver: RTCRtpReceiver, on_audio_level: Callable[[int], None] | None) -> RtpHandler:
    original = receiver._handle_rtp_packet

    async def handle(packet: RtpPacket, arrival_time_ms: int) -> None:
        if _get(receiver, "decoder_thread") is None:
            _set(receiver, "decoder_thread", _NO_DECODER_THREAD)  # re-armed after an RTCP BYE
        level = packet.extensions.audio_level
        if on_audio_level is not None and level is not None:
            on_audio_level(int(level[1]))
        await original(packet, arrival_time_ms)

    return handle


def discard_rtp(receiver: RTCRtpReceiver, on_packet: Callable[[int], None]) -> None:
    """For load generators: ``receiver`` only counts its packets (``on_packet(payload size)``): no jitter buffer, no
    NACK, no RTCP feedback, no decoder. Call before it starts, as :func:`capture_encoded_frames`."""
    capture_encoded_frames(receiver, lambda codec, frame: None, lambda: None)

    async def handle(packet: RtpPacket, arrival_time_ms: int) -> None:
        on_packet(len(packet.payload))

    receiver._handle_rtp_packet = handle  # type: ignore[method-assign]


def on_keyframe_request(sender: RTCRtpSender, callback: Callable[[], None]) -> None:
    """Call ``callback`` whenever a PLI or FIR for ``sender``'s stream arrives (aiortc's own handling goes on)."""
    original = sender._send_keyframe

    def send_keyframe() -> None:
        callback()
        original()

    sender._send_keyframe = send_keyframe  # type: ignore[method-assign]


async def send_pli(receiver: RTCRtpReceiver) -> None:
    """Ask the remote sender of ``receiver``'s stream for a keyframe (a PLI to each SSRC seen lately)."""
    for source in receiver.getSynchronizationSources():
        await receiver._send_rtcp_pli(source.source)


def narrow_codecs(transceiver: RTCRtpTransceiver, mime_type: str) -> bool:
    """Keep only the negotiated ``mime_type`` codecs (and their RTX) of ``transceiver``; call between the remote
    offer and the local answer. False when none is left."""
    codecs = transceiver._codecs
    kept = [codec for codec in codecs if codec.mimeType.lower() == mime_type.lower()]
    types = {codec.payloadType for codec in kept}
    kept += [codec for codec in codecs if is_rtx(codec) and codec.parameters.get("apt") in types]
    transceiver._codecs = kept
    return bool(types)


# -- payload types and header extension ids that stay what the session agreed ------------------------------------


@dataclasses.dataclass
class SessionParameters:
    """The payload types and header extension ids a connection's client used first (its first offer decides)."""

    types: dict[tuple[str, int], int] = dataclasses.field(default_factory=dict)  # (mime, clock rate) -> type
    rtx: dict[int, int] = dataclasses.field(default_factory=dict)  # type of a codec -> type of its RTX
    ids: dict[str, int] = dataclasses.field(default_factory=dict)  # header extension URI -> id

    def learn(self, sdp: str) -> None:
        """Take what a remote description of the session says and was not known yet."""
        for media in SessionDescription.parse(sdp).media:
            for codec in media.rtp.codecs:
                if is_rtx(codec):
                    apt = codec.parameters.get("apt")
                    if isinstance(apt, int) and codec.payloadType is not None:
                        self.rtx.setdefault(apt, codec.payloadType)
                elif codec.payloadType is not None:
                    self.types.setdefault((codec.mimeType.lower(), codec.clockRate), codec.payloadType)
            for extension in media.rtp.headerExtensions:
                self.ids.setdefault(extension.uri, extension.id)

    def codecs(self, codecs: list[RTCRtpCodecParameters]) -> list[RTCRtpCodecParameters]:
        """``codecs`` with the session's payload types. Those the session has no type for are left out (so none
        can take a type that means something else in the session), unless that leaves none."""
        out, renamed = [], {}
        for codec in codecs:
            payload_type = self.types.get((codec.mimeType.lower(), codec.clockRate))
            if not is_rtx(codec) and payload_type is not None:
                renamed[codec.payloadType] = payload_type
                out.append(dataclasses.replace(codec, payloadType=payload_type))
        if not out:
            return codecs
        for codec in codecs:
            apt = renamed.get(codec.parameters.get("apt")) if is_rtx(codec) else None  # type: ignore[arg-type]
            if apt is not None and apt in self.rtx:
                parameters = {**codec.parameters, "apt": apt}
                out.append(dataclasses.replace(codec, payloadType=self.rtx[apt], parameters=parameters))
        return out

    def extensions(self, extensions: list[RTCRtpHeaderExtensionParameters]) -> list[RTCRtpHeaderExtensionParameters]:
        """``extensions`` with the session's ids (a URI new to the session gets an id it does not use)."""
        used = set(self.ids.values())
        out = []
        for extension in extensions:
            if extension.uri not in self.ids:
                self.ids[extension.uri] = next(i for i in range(1, 15) if i not in used)
                used.add(self.ids[extension.uri])
            out.append(dataclasses.replace(extension, id=self.ids[extension.uri]))
        return out


class _SessionTransceiver(RTCRtpTransceiver):
    """A transceiver whose codecs and header extensions are always given the session's types and ids."""

    @property
    def _codecs(self) -> list[RTCRtpCodecParameters]:
        codecs: list[RTCRtpCodecParameters] = self.__dict__["_codecs"]
        return codecs

    @_codecs.setter
    def _codecs(self, value: list[RTCRtpCodecParameters]) -> None:
        self.__dict__["_codecs"] = self.__dict__["_session"].codecs(value)

    @property
    def _headerExtensions(self) -> list[RTCRtpHeaderExtensionParameters]:
        extensions: list[RTCRtpHeaderExtensionParameters] = self.__dict__["_headerExtensions"]
        return extensions

    @_headerExtensions.setter
    def _headerExtensions(self, value: list[RTCRtpHeaderExtensionParameters]) -> None:
        self.__dict__["_headerExtensions"] = self.__dict__["_session"].extensions(value)


def keep_session_parameters(pc: RTCPeerConnection, session: SessionParameters) -> None:
    """Before ``pc`` offers: learn the remote description's types and ids, and make every transceiver offer them."""
    if pc.remoteDescription is not None:
        session.learn(pc.remoteDescription.sdp)
    for transceiver in pc.getTransceivers():
        if type(transceiver) is RTCRtpTransceiver:
            transceiver.__dict__["_session"] = session
            transceiver.__class__ = _SessionTransceiver
