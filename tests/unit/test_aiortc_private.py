"""aiortc's internals that :mod:`signaling.sfu.aiortc_private` relies on are still there, with the same shape.

These fail loudly when aiortc changes underneath (a new release within the pinned range, or the pin moved): the
methods copied or wrapped are fingerprinted, the private attributes checked, and the hooks exercised on real aiortc
objects.
"""

from __future__ import annotations

import hashlib
import inspect
import re
import threading
from collections.abc import Callable
from typing import Any

import pytest
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender, RTCSessionDescription
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters, RTCRtpReceiveParameters
from aiortc.rtp import RtpPacket
from aiortc.sdp import SessionDescription

from signaling.sfu import aiortc_private as private

# sha256 (first 16 hex digits) of the source of what aiortc_private copies or depends on, in aiortc 1.16.0.
FINGERPRINTS: dict[Callable[..., Any], str] = {
    RTCRtpReceiver.receive: "d6d8d8d7a0bf4e95",  # copied minus the decoder thread
    RTCRtpReceiver._handle_rtp_packet: "4e54983d021a6336",  # queues (codec, frame) while __decoder_thread is truthy
    RTCRtpReceiver.stop: "63734b6894ce67a5",  # joins the decoder thread, awaits the RTCP task
    RTCRtpSender._handle_rtcp_packet: "a4ee4c7355f8de7a",  # calls _send_keyframe on PLI and FIR
}


@pytest.mark.parametrize("method", FINGERPRINTS, ids=lambda m: m.__qualname__)
def test_the_methods_relied_on_are_unchanged(method: Callable[..., Any]) -> None:
    digest = hashlib.sha256(inspect.getsource(method).encode()).hexdigest()[:16]
    assert digest == FINGERPRINTS[method], f"aiortc changed {method.__qualname__}: review aiortc_private.py"


@pytest.mark.parametrize(
    ("installed", "ok"), [("1.16.0", True), ("1.16.9", True), ("1.15.2", False), ("1.17.0", False), ("2.0", False)]
)
def test_the_version_pin(installed: str, ok: bool) -> None:
    if ok:
        private.check_version(installed)
    else:
        with pytest.raises(RuntimeError, match=installed):
            private.check_version(installed)


async def test_the_private_attributes_have_the_expected_shape() -> None:
    pc = RTCPeerConnection()
    try:
        transceiver = pc.addTransceiver("video")
        receiver, sender = transceiver.receiver, transceiver.sender
        for name, kind in [("codecs", dict), ("rtx_ssrc", dict), ("started", bool), ("active_ssrc", dict)]:
            assert isinstance(getattr(receiver, f"_RTCRtpReceiver__{name}"), kind), name
        assert receiver._RTCRtpReceiver__decoder_thread is None  # type: ignore[attr-defined]
        assert receiver._RTCRtpReceiver__rtcp_task is None  # type: ignore[attr-defined]
        assert callable(receiver._RTCRtpReceiver__decoder_queue.put)  # type: ignore[attr-defined]
        assert list(inspect.signature(receiver._handle_rtp_packet).parameters) == ["packet", "arrival_time_ms"]
        assert list(inspect.signature(receiver._send_rtcp_pli).parameters) == ["media_ssrc"]
        assert inspect.iscoroutinefunction(receiver._run_rtcp)
        assert list(inspect.signature(receiver.transport._register_rtp_receiver).parameters) == [
            "receiver",
            "parameters",
        ]
        assert list(inspect.signature(sender._send_keyframe).parameters) == []
        assert isinstance(transceiver._codecs, list)
    finally:
        await pc.close()


async def test_a_captured_receiver_starts_and_stops_without_a_decoder() -> None:
    pc = RTCPeerConnection()
    frames: list[tuple[RTCRtpCodecParameters, JitterFrame]] = []
    ended: list[bool] = []
    try:
        receiver = pc.addTransceiver("video").receiver
        private.capture_encoded_frames(receiver, lambda c, f: frames.append((c, f)), lambda: ended.append(True))
        vp8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)
        await receiver.receive(RTCRtpReceiveParameters(codecs=[vp8]))
        assert private.receiver_started(receiver)
        assert not isinstance(private.decoder_thread(receiver), threading.Thread)
        assert not [t for t in threading.enumerate() if t.name == "video-decoder"]
        receiver._RTCRtpReceiver__decoder_queue.put((vp8, JitterFrame(b"\x00", 0)))  # type: ignore[attr-defined]
        assert frames and frames[0][0] is vp8
        await receiver.stop()
        assert ended == [True]
        with pytest.raises(RuntimeError):
            private.capture_encoded_frames(receiver, lambda c, f: None, lambda: None)
    finally:
        await pc.close()


async def test_keyframe_requests_reach_the_callback_and_aiortc() -> None:
    pc = RTCPeerConnection()
    seen: list[bool] = []
    try:
        sender = pc.addTransceiver("video").sender
        private.on_keyframe_request(sender, lambda: seen.append(True))
        sender._send_keyframe()
        assert seen == [True]
        assert sender._RTCRtpSender__force_keyframe is True  # type: ignore[attr-defined]
    finally:
        await pc.close()


async def test_narrow_codecs_keeps_one_codec_and_its_rtx() -> None:
    offerer, answerer = RTCPeerConnection(), RTCPeerConnection()
    try:
        offerer.addTransceiver("video", direction="sendonly")
        await offerer.setLocalDescription(await offerer.createOffer())
        await answerer.setRemoteDescription(RTCSessionDescription(offerer.localDescription.sdp, "offer"))
        (transceiver,) = answerer.getTransceivers()
        assert {c.mimeType for c in transceiver._codecs} > {"video/VP8", "video/rtx"}
        assert private.narrow_codecs(transceiver, "video/vp8")
        kept = transceiver._codecs
        assert [c.mimeType for c in kept] == ["video/VP8", "video/rtx"]
        assert kept[1].parameters["apt"] == kept[0].payloadType
        assert not private.narrow_codecs(transceiver, "video/av1")
    finally:
        await offerer.close()
        await answerer.close()


async def test_a_discarding_receiver_only_counts() -> None:
    pc = RTCPeerConnection()
    sizes: list[int] = []
    try:
        receiver = pc.addTransceiver("video").receiver
        private.discard_rtp(receiver, sizes.append)
        packet = RtpPacket(payload_type=96, sequence_number=1, timestamp=0, payload=b"\x10\x00\x01")
        await receiver._handle_rtp_packet(packet, arrival_time_ms=0)
        assert sizes == [3]
        assert receiver._RTCRtpReceiver__remote_streams == {}  # type: ignore[attr-defined]
    finally:
        await pc.close()


def _as_a_browser_would(sdp: str) -> str:
    """An aiortc offer (Opus 96, VP8 97 + RTX 98; mid 1, audio level 2, abs-send-time 3) with the payload types and
    header extension ids Chrome uses (Opus 111, VP8 96 + RTX 97; audio level 1, abs-send-time 2, mid 4)."""
    # Opus first (96 means Opus only until VP8 is renumbered), then VP8 97 -> 96 and its RTX 98 -> 97.
    text = re.sub(r"(?m)^(m=audio \S+ \S+ )96\b", r"\g<1>111", sdp)
    text = re.sub(r"(?m)^(a=(?:rtpmap|fmtp|rtcp-fb)):96\b", r"\1:111", text)
    text = re.sub(r"(?m)^(m=video \S+ \S+ )97 98\b", r"\g<1>96 97", text)
    text = re.sub(r"(?m)^(a=(?:rtpmap|fmtp|rtcp-fb)):97\b", r"\1:96", text)
    text = re.sub(r"(?m)^(a=(?:rtpmap|fmtp|rtcp-fb)):98\b", r"\1:97", text).replace("apt=97", "apt=96")
    ids = {"sdes:mid": 4, "ssrc-audio-level": 1, "abs-send-time": 2}
    return re.sub(
        r"a=extmap:\d+ (\S+)", lambda m: f"a=extmap:{next(v for k, v in ids.items() if k in m[1])} {m[1]}", text
    )


async def test_later_offers_keep_the_types_and_ids_the_client_offered() -> None:
    client, sfu = RTCPeerConnection(), RTCPeerConnection()
    session = private.SessionParameters()
    try:
        client.addTransceiver("audio", direction="sendrecv")
        video = client.addTransceiver("video", direction="sendrecv")
        video.setCodecPreferences(  # VP8 only, as the SFU offers it
            [c for c in RTCRtpSender.getCapabilities("video").codecs if "VP8" in c.mimeType or "rtx" in c.mimeType]
        )
        await client.setLocalDescription(await client.createOffer())
        offer = _as_a_browser_would(client.localDescription.sdp)
        assert "a=rtpmap:111 opus" in offer and "a=rtpmap:96 VP8" in offer and "a=extmap:4 " in offer
        await sfu.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        await sfu.setLocalDescription(await sfu.createAnswer())
        sfu.addTransceiver("video", direction="sendonly")
        sfu.addTransceiver("audio", direction="sendonly")

        private.keep_session_parameters(sfu, session)
        later = SessionDescription.parse((await sfu.createOffer()).sdp)

        assert len(later.media) == 4
        for media in later.media:
            ids = {
                extension.uri.rsplit(":", 1)[-1].rsplit("/", 1)[-1]: extension.id
                for extension in media.rtp.headerExtensions
            }
            assert ids["mid"] == 4
            assert ids.get("ssrc-audio-level", 1) == 1 and ids.get("abs-send-time", 2) == 2
            types = {codec.mimeType: codec.payloadType for codec in media.rtp.codecs}
            assert types.get("audio/opus", 111) == 111 and types.get("video/VP8", 96) == 96
            assert types.get("video/rtx", 97) == 97
            assert 8 not in types.values() or media.kind == "audio"
    finally:
        await client.close()
        await sfu.close()
