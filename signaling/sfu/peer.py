"""One participant's server-side peer connection: what it publishes and the transceivers it receives feeds on.

Negotiation (see ``docs/supervision.md``, "Who offers"): the client's offers are answered; the SFU offers when the
participant needs more receiving transceivers than it has; when both offer at once the SFU wins and the client's
offer is refused with :class:`NegotiationBusy`. Every step runs under one lock, so a route change never interleaves
with an offer or answer being applied.

What a client publishes is told by the order of its sending m-lines: its first audio m-line is ``audio``, its first
video m-line ``camera`` and its second video m-line ``screen``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterable

from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpCodecCapability,
    RTCRtpSender,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.sdp import MediaDescription, SessionDescription, candidate_from_sdp

from signaling.protocol import IceCandidateInit
from signaling.sfu import (
    CandidateOut,
    EventHandler,
    Feed,
    NegotiationBusy,
    Publishing,
    SdpOut,
    SfuError,
    Source,
    Speaking,
    TracksOut,
)
from signaling.sfu import aiortc_private as private
from signaling.sfu.forwarding import ForwardedTrack, Publication

MIME_TYPES = {"audio": "audio/opus", "video": "video/vp8"}
SPEAKING_INTERVAL = 0.25  # seconds between two Speaking reports of one participant
SENDING = ("sendonly", "sendrecv")


@dataclasses.dataclass
class Slot:
    """One receiving transceiver of the participant (None until the SFU offers it) and the track it sends."""

    kind: str
    track: ForwardedTrack
    transceiver: RTCRtpTransceiver | None = None

    @property
    def mid(self) -> str | None:
        return self.transceiver.mid if self.transceiver else None


class Peer:
    """A participant's ``RTCPeerConnection`` on the SFU, its publications and its receiving slots."""

    def __init__(
        self,
        participant: str,
        configuration: RTCConfiguration,
        events: EventHandler,
    ) -> None:
        self.participant = participant
        self.pc = RTCPeerConnection(configuration)
        self.publications: dict[Source, Publication] = {}
        self.slots: list[Slot] = []
        self._events = events
        self._published: dict[RTCRtpTransceiver, Source] = {}
        self._lock = asyncio.Lock()
        self._told: tuple[tuple[str, Feed], ...] | None = None
        self._loudest = 127
        self._spoke_at = 0.0
        self._session = private.SessionParameters()  # the types and ids the client offered first

    # -- the client's SDP and candidates ----------------------------------------------------------------------------

    async def take_offer(self, sdp: str) -> bool:
        """Answer the client's offer (or refuse it: :class:`NegotiationBusy`); True if it publishes a new feed."""
        check_offer(sdp)
        async with self._lock:
            if self.pc.signalingState == "have-local-offer":
                self._events(NegotiationBusy(self.participant))
                return False
            try:
                await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            except Exception as exc:
                raise SfuError(f"unusable offer: {type(exc).__name__}") from exc
            changed = self._take_publications()
            await self.pc.setLocalDescription(await self.pc.createAnswer())
            self._events(SdpOut(self.participant, "answer", self.pc.localDescription.sdp))
            self._events(CandidateOut(self.participant, None))
            await self._offer_if_wanted()
        return changed

    async def take_answer(self, sdp: str) -> None:
        async with self._lock:
            if self.pc.signalingState != "have-local-offer":
                raise SfuError("no offer of the SFU awaits an answer")
            try:
                await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
            except Exception as exc:
                raise SfuError(f"unusable answer: {type(exc).__name__}") from exc
            await self._offer_if_wanted()

    async def add_candidate(self, candidate: IceCandidateInit | None) -> None:
        if candidate is None or not candidate.get("candidate"):
            return  # aiortc's candidates are all in the SDP; end of candidates needs nothing
        try:
            ice = candidate_from_sdp(str(candidate["candidate"]).removeprefix("candidate:"))
            ice.sdpMid = candidate.get("sdpMid")
            ice.sdpMLineIndex = candidate.get("sdpMLineIndex")
            await self.pc.addIceCandidate(ice)
        except (AssertionError, ValueError, KeyError, IndexError, TypeError) as exc:  # aiortc asserts its field count
            raise SfuError("malformed candidate") from exc

    # -- what the participant publishes -----------------------------------------------------------------------------

    def _take_publications(self) -> bool:
        """After a client offer: start capturing the new sending transceivers; stop those no longer sending."""
        changed = False
        counts = {"audio": 0, "video": 0}
        for transceiver, media in self._client_media():
            source = self._published.get(transceiver) or source_of(media.kind, counts[media.kind])
            counts[media.kind] += 1
            if source is None:
                continue
            sending = media.direction in SENDING
            if transceiver not in self._published and sending:
                self._publish(transceiver, source)
                changed = True
            elif source in self.publications and not sending:
                self.publications[source].on_end()
        return changed

    def _client_media(self) -> Iterable[tuple[RTCRtpTransceiver, MediaDescription]]:
        """The client's m-lines (with the transceiver aiortc made for each), in order; the SFU's slots left out."""
        ours = {slot.transceiver for slot in self.slots}
        description = SessionDescription.parse(self.pc.remoteDescription.sdp)
        by_mid = {t.mid: t for t in self.pc.getTransceivers()}
        for media in description.media:
            transceiver = by_mid.get(media.rtp.muxId)
            if media.kind in MIME_TYPES and transceiver is not None and transceiver not in ours:
                yield transceiver, media

    def _publish(self, transceiver: RTCRtpTransceiver, source: Source) -> None:
        kind = transceiver.kind
        if not private.narrow_codecs(transceiver, MIME_TYPES[kind]):
            raise SfuError(f"the offer has no {MIME_TYPES[kind]} to publish")
        transceiver.setCodecPreferences(forwarded_codecs(kind))
        publication = Publication(Feed(self.participant, source), transceiver.receiver, self._publishing)
        private.capture_encoded_frames(
            transceiver.receiver,
            publication.on_frame,
            publication.on_end,
            self._audio_level if kind == "audio" else None,
        )
        self._published[transceiver] = source
        self.publications[source] = publication

    def _publishing(self, publication: Publication, on: bool) -> None:
        self._events(Publishing(self.participant, publication.feed.source, on))

    def _audio_level(self, level: int) -> None:
        self._loudest = min(self._loudest, level)
        now = time.monotonic()
        if now - self._spoke_at >= SPEAKING_INTERVAL:
            self._events(Speaking(self.participant, self._loudest))
            self._loudest, self._spoke_at = 127, now

    # -- what the participant receives ------------------------------------------------------------------------------

    async def receive(self, publications: Iterable[Publication]) -> None:
        """Make the slots carry exactly ``publications``: a feed keeps its slot, new feeds take free slots, and
        transceivers are added (and offered) only when the free ones run out."""
        async with self._lock:
            wanted = {p.feed: p for p in publications}
            for slot in self.slots:
                if slot.track.feed is not None and slot.track.feed not in wanted:
                    slot.track.attach(None)
            carried = {slot.track.feed for slot in self.slots}
            for feed, publication in wanted.items():
                if feed not in carried:
                    self._free_slot(publication.kind).attach(publication)
            self._tell_tracks()
            await self._offer_if_wanted()

    def _free_slot(self, kind: str) -> ForwardedTrack:
        for slot in self.slots:
            if slot.kind == kind and slot.track.publication is None:
                return slot.track
        slot = Slot(kind, ForwardedTrack(kind))
        self.slots.append(slot)
        return slot.track

    def _tell_tracks(self) -> None:
        """Send :class:`TracksOut` if what the negotiated transceivers carry changed since last told."""
        tracks = tuple((slot.mid, slot.track.feed) for slot in self.slots if slot.mid and slot.track.feed is not None)
        if tracks != self._told:
            self._told = tracks
            self._events(TracksOut(self.participant, tracks))

    async def _offer_if_wanted(self) -> None:
        """Offer the slots that have no transceiver yet, if the client has offered once and nothing is pending."""
        new = [slot for slot in self.slots if slot.transceiver is None]
        if not new or self.pc.signalingState != "stable" or self.pc.remoteDescription is None:
            return
        for slot in new:
            # Added just before the offer, so that no client offer can take them for its own m-lines.
            slot.transceiver = self.pc.addTransceiver(slot.track, direction="sendonly")
            slot.transceiver.setCodecPreferences(forwarded_codecs(slot.kind))
            private.on_keyframe_request(slot.transceiver.sender, slot.track.keyframe_wanted)
        private.keep_session_parameters(self.pc, self._session)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        self._tell_tracks()
        self._events(SdpOut(self.participant, "offer", self.pc.localDescription.sdp))
        self._events(CandidateOut(self.participant, None))

    async def close(self) -> None:
        async with self._lock:
            for slot in self.slots:
                slot.track.stop()
            for publication in self.publications.values():
                await publication.close()
            await self.pc.close()


def source_of(kind: str, index: int) -> Source | None:
    """The source a client's ``index``-th sending m-line of ``kind`` publishes (None: one too many)."""
    sources: dict[str, tuple[Source, ...]] = {"audio": ("audio",), "video": ("camera", "screen")}
    return sources[kind][index] if index < len(sources[kind]) else None


def check_offer(sdp: str) -> None:
    """Refuse an offer that does not parse, or whose sending m-lines lack the codec the SFU forwards."""
    try:
        description = SessionDescription.parse(sdp)
    except Exception as exc:
        raise SfuError("malformed offer") from exc
    for media in description.media:
        if media.kind not in MIME_TYPES or media.direction not in SENDING:
            continue
        if not any(codec.mimeType.lower() == MIME_TYPES[media.kind] for codec in media.rtp.codecs):
            raise SfuError(f"the offer has no {MIME_TYPES[media.kind]} to publish")


def forwarded_codecs(kind: str) -> list[RTCRtpCodecCapability]:
    """VP8 or Opus (and RTX), the codecs the SFU forwards, as codec preferences."""
    wanted = (MIME_TYPES[kind], f"{kind}/rtx")
    return [codec for codec in RTCRtpSender.getCapabilities(kind).codecs if codec.mimeType.lower() in wanted]
