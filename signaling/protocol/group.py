"""The messages only group supervision rooms use (socket ``/ws/group``, ``docs/supervision.md``).

Group rooms also use the messages both room kinds share (:mod:`signaling.protocol.messages`): ``join``,
``leave``, ``admit``, ``end``, ``media`` and ``chat`` from clients; ``offer``, ``answer`` and ``candidate``
addressed ``to: "sfu"``; and ``lobby``, ``peer_left``, ``media``, ``chat``, ``ended`` and ``error`` from the server.
They are declared as :mod:`signaling.protocol.messages` says. Where a group message has the same ``type`` as a 1:1
one but other fields (``welcome``, ``admitted``, ``peer_joined``, an ``offer`` from the SFU) it is a struct of its
own here: server messages are only encoded, so two structs may share a ``type``. Import them through
:mod:`signaling.protocol`, which re-exports every message.
"""

from __future__ import annotations

from typing import ClassVar, Final, Literal

from msgspec import Struct, field

from signaling.protocol.messages import (
    GROUP,
    ClientMessageBase,
    IceCandidateInit,
    IceServer,
    Id,
    Message,
    ServerMessageBase,
    State,
)

GroupRole = Literal["moderator", "member"]
FeedSource = Literal["audio", "camera", "screen"]  # the SFU's Source (signaling.sfu), spelled out for the wire
ModeratorAction = Literal["mute", "stop_video"]
SFU: Final = "sfu"  # the SFU's name as a peer: offers, answers and candidates go to it and come from it

# -- client -> server ------------------------------------------------------------------------------------------


class Screen(ClientMessageBase, frozen=True):
    """I started or stopped sharing my screen (the track itself follows in an offer)."""

    type: ClassVar[Literal["screen"]] = "screen"
    sockets = (GROUP,)
    on: bool


class Hand(ClientMessageBase, frozen=True):
    type: ClassVar[Literal["hand"]] = "hand"
    sockets = (GROUP,)
    raised: bool


class Mute(ClientMessageBase, frozen=True):
    """Moderator: stop forwarding participant ``id``'s audio until they unmute themselves."""

    type: ClassVar[Literal["mute"]] = "mute"
    sockets = (GROUP,)
    id: Id


class StopVideo(ClientMessageBase, frozen=True):
    """Moderator: stop forwarding participant ``id``'s camera until they turn it on again."""

    type: ClassVar[Literal["stop_video"]] = "stop_video"
    sockets = (GROUP,)
    id: Id


class Remove(ClientMessageBase, frozen=True):
    """Moderator: disconnect participant ``id``."""

    type: ClassVar[Literal["remove"]] = "remove"
    sockets = (GROUP,)
    id: Id


class Lock(ClientMessageBase, frozen=True):
    """Moderator: lock (newcomers wait to be admitted) or unlock (everyone waiting comes in) the room."""

    type: ClassVar[Literal["lock"]] = "lock"
    sockets = (GROUP,)
    locked: bool


Moderation = Mute | StopVideo | Remove
GroupClientMessage = Screen | Hand | Mute | StopVideo | Remove | Lock

# -- server -> client ------------------------------------------------------------------------------------------


class GroupPeer(Struct, frozen=True):
    """Someone in a group call, as shown to the others."""

    id: str
    role: GroupRole
    name: str
    audio: bool = True
    video: bool = True
    screen: bool = False
    hand: bool = False


class GroupWelcome(ServerMessageBase, frozen=True):
    """The answer to ``join`` in a group room (``peers`` is empty while waiting)."""

    type: ClassVar[Literal["welcome"]] = "welcome"
    sockets = (GROUP,)
    id: str
    role: GroupRole
    room: str
    state: State
    peers: tuple[GroupPeer, ...]
    locked: bool
    ice_servers: tuple[IceServer, ...] = ()


class GroupAdmitted(ServerMessageBase, frozen=True):
    """To someone let in from the waiting list: now in the call."""

    type: ClassVar[Literal["admitted"]] = "admitted"
    sockets = (GROUP,)
    peers: tuple[GroupPeer, ...]


class GroupPeerJoined(ServerMessageBase, frozen=True):
    """Someone entered the call: the 1:1 ``peer_joined`` fields plus the state a ``welcome`` shows of a peer."""

    type: ClassVar[Literal["peer_joined"]] = "peer_joined"
    sockets = (GROUP,)
    id: str
    role: GroupRole
    name: str
    audio: bool = True
    video: bool = True
    screen: bool = False
    hand: bool = False


class ScreenState(ServerMessageBase, frozen=True):
    type: ClassVar[Literal["screen"]] = "screen"
    sockets = (GROUP,)
    sender: str = field(name="from")
    on: bool


class HandState(ServerMessageBase, frozen=True):
    type: ClassVar[Literal["hand"]] = "hand"
    sockets = (GROUP,)
    sender: str = field(name="from")
    raised: bool


class Speakers(ServerMessageBase, frozen=True):
    """``active``: the active speakers, most recent first; ``paused``: those whose camera is on but is not
    forwarded to you (last N), in the order they would come back."""

    type: ClassVar[Literal["speakers"]] = "speakers"
    sockets = (GROUP,)
    active: tuple[str, ...]
    paused: tuple[str, ...]


class Track(Struct, frozen=True):
    """Your receiving transceiver ``mid`` carries ``sender``'s feed of ``source``."""

    mid: str
    sender: str = field(name="from")
    source: FeedSource


class Tracks(ServerMessageBase, frozen=True):
    type: ClassVar[Literal["tracks"]] = "tracks"
    sockets = (GROUP,)
    tracks: tuple[Track, ...]


class Moderated(ServerMessageBase, frozen=True):
    """A moderator (``by``, a participant id) muted you or stopped your camera."""

    type: ClassVar[Literal["moderated"]] = "moderated"
    sockets = (GROUP,)
    action: ModeratorAction
    by: str


class Locked(ServerMessageBase, frozen=True):
    type: ClassVar[Literal["locked"]] = "locked"
    sockets = (GROUP,)
    locked: bool


class Removed(ServerMessageBase, frozen=True):
    type: ClassVar[Literal["removed"]] = "removed"
    sockets = (GROUP,)


class SfuSdp(Message, frozen=True, kw_only=True):
    """The SFU's ``offer``, or its ``answer`` to the client's offer: ``{"v":1,"type":..,"from":"sfu","sdp":..}``.

    Not tagged, since its ``type`` is one of two values: ``kind`` is written as ``type``.
    """

    sockets = (GROUP,)
    v: Literal[1] = 1
    kind: Literal["offer", "answer"] = field(name="type")
    sender: Literal["sfu"] = field(name="from", default=SFU)
    sdp: str


class SfuCandidate(ServerMessageBase, frozen=True, kw_only=True):
    """An ICE candidate of the SFU (an ``RTCIceCandidateInit`` object; None: end of candidates)."""

    type: ClassVar[Literal["candidate"]] = "candidate"
    sockets = (GROUP,)
    sender: Literal["sfu"] = field(name="from", default=SFU)
    candidate: IceCandidateInit | None


GroupServerMessage = (
    GroupWelcome | GroupAdmitted | GroupPeerJoined | ScreenState | HandState | Speakers | Tracks | Moderated | Locked
    | Removed | SfuSdp | SfuCandidate
)  # fmt: skip
