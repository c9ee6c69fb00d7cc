"""The embedded SFU: one aiortc ``RTCPeerConnection`` per participant, in this process, forwarding encoded media.

Incoming frames are taken before aiortc's decoder (:mod:`signaling.sfu.aiortc_private`) and handed to each
subscriber's sender as ``av.Packet`` (:mod:`signaling.sfu.forwarding`), so nothing is decoded or encoded. Everything
runs on the event loop; the only threads are aiortc's own (none per stream). Logs carry room ids and counts, never
SDP, candidates or names.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Mapping, Sequence
from typing import Literal, Required, TypedDict, cast

from aiortc import RTCBundlePolicy, RTCConfiguration, RTCIceServer

from signaling.protocol import IceCandidateInit, IceServer
from signaling.sfu import EventHandler, Feed, Sfu, SfuError
from signaling.sfu.forwarding import Publication
from signaling.sfu.peer import Peer

log = logging.getLogger(__name__)


@dataclasses.dataclass
class _Room:
    peers: dict[str, Peer] = dataclasses.field(default_factory=dict)
    table: dict[str, frozenset[Feed]] = dataclasses.field(default_factory=dict)


class _IceServerInit(TypedDict, total=False):
    urls: Required[str | list[str]]
    username: str
    credential: str


def ice_configuration(ice_servers: Sequence[IceServer]) -> RTCConfiguration:
    """An aiortc configuration with exactly these servers (never aiortc's default public STUN server), bundled."""
    servers = []
    for server in ice_servers:
        init = cast(_IceServerInit, server)  # the settings check that each has "urls"; aiortc takes them as they are
        servers.append(
            RTCIceServer(urls=init["urls"], username=init.get("username"), credential=init.get("credential"))
        )
    return RTCConfiguration(iceServers=servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)


class EmbeddedSfu(Sfu):
    """:class:`~signaling.sfu.Sfu` on aiortc. ``ice_servers``: RTCIceServer-like dicts (``urls``, optional
    ``username`` and ``credential``) for the SFU's own candidates; empty: host candidates only."""

    def __init__(self, ice_servers: Sequence[IceServer] = ()) -> None:
        self._ice_servers = tuple(dict(server) for server in ice_servers)
        ice_configuration(self._ice_servers)  # fail now on a malformed server, not at the first join
        self._rooms: dict[str, _Room] = {}

    async def create_room(self, room: str) -> None:
        self._rooms.setdefault(room, _Room())

    async def join(self, room: str, participant: str, events: EventHandler) -> None:
        await self.create_room(room)
        await self.leave(room, participant)
        self._rooms[room].peers[participant] = Peer(participant, ice_configuration(self._ice_servers), events)
        log.info("sfu join room=%s peers=%d", room, len(self._rooms[room].peers))

    async def leave(self, room: str, participant: str) -> None:
        state = self._rooms.get(room)
        peer = state.peers.pop(participant, None) if state else None
        if state is None or peer is None:
            return
        affected = self._subscribers_of(state, peer)
        await peer.close()
        for subscriber in affected:
            await subscriber.receive(self._publications(state, subscriber.participant))
        log.info("sfu leave room=%s peers=%d", room, len(state.peers))

    async def signal(self, room: str, participant: str, kind: Literal["offer", "answer"], sdp: str) -> None:
        peer = self._peer(room, participant)
        if kind == "offer":
            if await peer.take_offer(sdp):
                # A new feed: forward it to whoever the table names (its subscribers' offers go out now).
                await self._apply(self._rooms[room])
        else:
            await peer.take_answer(sdp)

    async def candidate(self, room: str, participant: str, candidate: IceCandidateInit | None) -> None:
        await self._peer(room, participant).add_candidate(candidate)

    async def route(self, room: str, table: Mapping[str, frozenset[Feed]]) -> None:
        state = self._rooms.get(room)
        if state is None:
            return
        state.table = dict(table)
        await self._apply(state)

    async def close_room(self, room: str) -> None:
        state = self._rooms.pop(room, None)
        if state is None:
            return
        peers = list(state.peers.values())
        state.peers.clear()
        await asyncio.gather(*(peer.close() for peer in peers))
        log.info("sfu room closed room=%s peers=%d", room, len(peers))

    async def close(self) -> None:
        for room in list(self._rooms):
            await self.close_room(room)

    def forwarded_frames(self) -> dict[str, int]:
        """Frames handed to the subscribers' senders so far, by kind (``audio``, ``video``), for metrics."""
        counts = {"audio": 0, "video": 0}
        for state in self._rooms.values():
            for peer in state.peers.values():
                for slot in peer.slots:
                    counts[slot.kind] += slot.track.forwarded
        return counts

    # -- helpers ----------------------------------------------------------------------------------------------------

    def _peer(self, room: str, participant: str) -> Peer:
        state = self._rooms.get(room)
        peer = state.peers.get(participant) if state else None
        if peer is None:
            raise SfuError("not in this room")
        return peer

    async def _apply(self, state: _Room) -> None:
        for peer in list(state.peers.values()):
            await peer.receive(self._publications(state, peer.participant))

    @staticmethod
    def _publications(state: _Room, subscriber: str) -> list[Publication]:
        found = []
        for feed in state.table.get(subscriber, frozenset()):
            publisher = state.peers.get(feed.publisher)
            publication = publisher.publications.get(feed.source) if publisher else None
            if publication is not None and feed.publisher != subscriber:
                found.append(publication)
        return found

    @staticmethod
    def _subscribers_of(state: _Room, publisher: Peer) -> list[Peer]:
        feeds = {publication.feed for publication in publisher.publications.values()}
        return [peer for peer in state.peers.values() if any(slot.track.feed in feeds for slot in peer.slots)]
