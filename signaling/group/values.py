"""The values a :class:`signaling.group.room.GroupRoom` is made of: its members (the shared
:class:`~signaling.participants.Participant` and what a group room adds), and the effects it emits beyond
sending and closing (what the hub asks of the SFU and of the attendance register; the hub carries them out in
order)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from msgspec import Struct

from signaling import protocol as p
from signaling.effects import Close, Send
from signaling.participants import Participant
from signaling.sfu import Feed, Source


class Route(Struct, frozen=True):
    """The whole forwarding table: for each participant in the call, the feeds it should receive."""

    table: Mapping[str, frozenset[Feed]]


class SfuJoin(Struct, frozen=True):
    """``participant`` entered the call: give them a peer connection on the SFU."""

    participant: str


class SfuLeave(Struct, frozen=True):
    """``participant`` left the call: close their peer connection on the SFU."""

    participant: str


class ToSfu(Struct, frozen=True):
    """``participant``'s offer, answer or candidate addressed to the SFU."""

    participant: str
    message: p.Offer | p.Answer | p.Candidate


class MeetingEnded(Struct, frozen=True):
    """A moderator (identity key ``actor``) ended the meeting ``room``: record it and close the SFU room."""

    room: str
    actor: str


class Attendance(Struct, frozen=True):
    """For the register: the person ``key`` entered (``joined``) or left the call of ``room`` at ``at``."""

    room: str
    key: str
    name: str
    event: Literal["joined", "left"]
    at: datetime


Effect = Send | Close | Route | SfuJoin | SfuLeave | ToSfu | MeetingEnded | Attendance


@dataclass(slots=True, eq=False)
class Member(Participant):
    """A participant of a group room; the host is a moderator. ``since``: when they started waiting."""

    entered: int = 0  # order of entering the call
    spoke: int = 0  # when they last spoke (a counter; 0: not since entering)
    screen: bool = False
    hand: bool = False
    published: set[Source] = field(default_factory=set)

    @property
    def moderator(self) -> bool:
        return self.host

    def peer(self) -> p.GroupPeer:
        role: p.GroupRole = "moderator" if self.moderator else "member"
        return p.GroupPeer(self.id, role, self.name, self.audio, self.video, self.screen, self.hand)
