"""The selective forwarding unit behind group rooms, as an interface (see ``docs/supervision.md``).

The room's policy (:mod:`signaling.group.room`) decides who receives what and hands the SFU a forwarding table
(:meth:`Sfu.route`); the SFU moves the media and reports what it sees (a participant's feed starting or stopping,
audio levels) and what it must say to a client (its SDP, ICE candidates, which transceiver carries whose feed) as
:data:`SfuEvent` values, through the callback given to :meth:`Sfu.join`. The embedded implementation is
:class:`signaling.sfu.embedded.EmbeddedSfu` (aiortc, in this process); an external SFU such as Janus VideoRoom can
implement the same interface without the pages or the room logic changing.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from typing import Literal, NamedTuple

from signaling.protocol import IceCandidateInit

Source = Literal["audio", "camera", "screen"]


class Feed(NamedTuple):
    """One participant's stream of one source."""

    publisher: str
    source: Source


# -- what the SFU reports ----------------------------------------------------------------------------------------


class SdpOut(NamedTuple):
    """An SDP for the client ``participant``: the SFU's ``offer``, or its ``answer`` to the client's offer."""

    participant: str
    kind: Literal["offer", "answer"]
    sdp: str


class CandidateOut(NamedTuple):
    """An ICE candidate of the SFU for ``participant`` (an ``RTCIceCandidateInit`` dict; None: end of candidates)."""

    participant: str
    candidate: IceCandidateInit | None


class TracksOut(NamedTuple):
    """Which of ``participant``'s receiving transceivers (by ``mid``) carries which feed; a mid absent from the list
    carries nothing at the moment."""

    participant: str
    tracks: tuple[tuple[str, Feed], ...]


class NegotiationBusy(NamedTuple):
    """The client's offer crossed an offer of the SFU and was refused: the client should answer the SFU's offer,
    then offer again."""

    participant: str


class Publishing(NamedTuple):
    """``participant``'s feed of ``source`` started (``on``) or stopped arriving at the SFU."""

    participant: str
    source: Source
    on: bool


class Speaking(NamedTuple):
    """``participant``'s audio level over the last moment: ``level`` in -dBov (0 loudest, 127 silence), as in
    RFC 6464. Reported at most a few times a second per participant."""

    participant: str
    level: int


SfuEvent = SdpOut | CandidateOut | TracksOut | NegotiationBusy | Publishing | Speaking
EventHandler = Callable[[SfuEvent], None]


class SfuError(Exception):
    """A client's SDP or candidate the SFU cannot use (malformed, or offering no codec it forwards)."""


class Sfu(abc.ABC):
    """Rooms of participants, each with one peer connection to the SFU that publishes and subscribes."""

    @abc.abstractmethod
    async def create_room(self, room: str) -> None:
        """Make ``room`` ready (idempotent)."""

    @abc.abstractmethod
    async def join(self, room: str, participant: str, events: EventHandler) -> None:
        """Add ``participant``; what the SFU has to tell about them or to them goes to ``events`` (which must not
        block). Joining again replaces the earlier peer connection (a reconnecting client)."""

    @abc.abstractmethod
    async def leave(self, room: str, participant: str) -> None:
        """Close ``participant``'s peer connection; their feeds stop for everyone (idempotent)."""

    @abc.abstractmethod
    async def signal(self, room: str, participant: str, kind: Literal["offer", "answer"], sdp: str) -> None:
        """The client's offer (answered by an :class:`SdpOut` answer, or :class:`NegotiationBusy`) or its answer to
        the SFU's offer. Raises :class:`SfuError` for an SDP the SFU cannot use."""

    @abc.abstractmethod
    async def candidate(self, room: str, participant: str, candidate: IceCandidateInit | None) -> None:
        """An ICE candidate of the client (None: end of candidates). Raises :class:`SfuError` if malformed."""

    @abc.abstractmethod
    async def route(self, room: str, table: Mapping[str, frozenset[Feed]]) -> None:
        """Forward exactly these feeds: for each subscriber, the feeds it receives (a subscriber or feed missing
        from the table receives or is forwarded nothing). Starting a video feed for a subscriber asks its
        publisher for a keyframe; the subscriber gets nothing of that feed before one."""

    @abc.abstractmethod
    async def close_room(self, room: str) -> None:
        """Close every peer connection of ``room`` (idempotent)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Close every room (at shutdown)."""
