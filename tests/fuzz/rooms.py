"""The fuzz drivers of the three endpoints, each over participants of a real room (:mod:`tests.fuzz.sockets`).

- :class:`ConsultationFuzz` (``/ws``): an operator and an admitted citizen. Every answer is predicted exactly from
  the protocol and the room's state, and what the other person receives (relays, media, chat) is checked too.
- :class:`GroupFuzz` (``/ws/group``): a moderator and two members; answers to valid messages are checked against
  what the protocol allows for that message and sender (the SFU's side of a negotiation is not predicted).
- :class:`AlertsFuzz` (``/ws/alerts``): a supervisor; every text frame is refused with ``unknown_type``.

A valid ``end`` is never sent by whoever could end the room (it goes from someone who may not), and a ``leave``
or a close is undone at once, so the room lives through the whole run.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from server import supervision
from server.cases import alerts
from server.keys import sessionmaker_key
from server.models import Role, utcnow
from signaling import protocol as p
from signaling.group.hub import group_hub_key
from tests.fuzz.oracle import Expected, Verdict, expected
from tests.fuzz.sockets import Answer, Fuzz, FuzzFailure, Socket, short
from tests.fuzz.strategies import MAX_FRAME, Frame
from tests.helpers.factories import make_staff
from tests.helpers.sockets import GroupHarness, Peer

CONTENT = frozenset({"offer", "answer", "candidate", "renegotiate", "media", "chat"})


def closing_code(data: str | bytes) -> int | None:
    """The close a frame must get: 1003 for binary, 1009 over 64 KiB, else None."""
    if isinstance(data, bytes):
        return 1003
    return 1009 if len(data.encode()) > MAX_FRAME else None


def loads(text: str) -> dict[str, Any]:
    data = json.loads(text)
    assert isinstance(data, dict)
    return data


def valid_kinds(exp: Expected) -> set[str]:
    return {v.ref for v in exp.verdicts if v.valid and v.ref is not None}


class ConsultationFuzz(Fuzz):
    async def setup(self) -> None:
        op, cit, self.room = await self.harness.call()
        self.op = Socket("operator", op, lambda: self._reopen(op))
        self.cit = Socket("citizen", cit, lambda: self._reopen(cit))
        self.sockets = [self.op, self.cit]
        self.wanted: dict[str, list[dict[str, Any]]] = {"operator": [], "citizen": []}
        self.strict = True

    async def _reopen(self, old: Peer) -> Peer:
        peer = await self.harness.connect(old.session)
        await peer.send(type="join", room=self.room)
        return peer

    def other(self, sender: Socket) -> Socket:
        return self.cit if sender is self.op else self.op

    async def frame(self, sender: Socket, frame: Frame) -> None:
        data = frame.data
        exp = expected(data) if isinstance(data, str) else None
        if exp is not None and "end" in valid_kinds(exp):
            sender = self.cit  # the operator would end the consultation for good
        other = self.other(sender)
        if isinstance(data, str):
            data = self.substitute(sender, data, other, self.room)
            exp = expected(data)
        answer = await sender.exchange(data)
        if (code := closing_code(data)) is not None:
            if answer.closed != code or answer.errors:
                raise FuzzFailure(f"{sender.name} sent {frame.how}: wanted close {code}, got {short(answer)}")
            await self.rejoin(sender, reopen=True)
            return
        assert isinstance(data, str) and exp is not None
        allowed = {self.answer_to(sender, v, data) for v in exp.verdicts}
        self.judge(sender, data, answer, allowed, any_error=exp.any_error)
        if answer.errors:
            return
        if exp.any_error:
            self.strict = False  # which reading of a duplicated key the server took is not predicted
        kinds = valid_kinds(exp)
        if kinds & CONTENT and not exp.any_error:
            self.wanted[other.name].append(self.delivered(sender, loads(data)))
        if "leave" in kinds:
            await self.rejoin(sender, reopen=False)

    def answer_to(self, sender: Socket, verdict: Verdict, text: str) -> Verdict | None:
        """What a message with this verdict gets from the room, sent by ``sender`` while both are in the call."""
        kind = verdict.ref
        if not verdict.valid or kind is None:
            return verdict
        if kind == "join":
            return Verdict("invalid_message", "join")
        if kind not in p.ONE_TO_ONE_TYPES:
            return Verdict("unknown_type", kind)
        if kind in ("admit", "decline", "end"):
            return Verdict("no_such_peer" if sender is self.op else "forbidden", kind)
        if kind in ("offer", "answer", "candidate", "renegotiate"):
            return None if loads(text).get("to") == self.other(sender).id else Verdict("no_such_peer", kind)
        return None  # leave, media, chat

    def delivered(self, sender: Socket, sent: dict[str, Any]) -> dict[str, Any]:
        """What the other person receives (chat without its time)."""
        if sent["type"] == "media":
            return {"v": 1, "type": "media", "from": sender.id, "audio": sent["audio"], "video": sent["video"]}
        if sent["type"] == "chat":
            name = "Dott.ssa Rossi" if sender is self.op else "Maria"
            return {"v": 1, "type": "chat", "from": sender.id, "name": name, "text": sent["text"]}
        return {**{k: v for k, v in sent.items() if k != "from"}, "from": sender.id}

    async def rejoin(self, who: Socket, *, reopen: bool) -> None:
        """Back into the call after a close (``reopen``: on a new socket) or a ``leave``."""
        if reopen:
            await who.reopen()
        else:
            await who.peer.send(type="join", room=self.room)
        got = await who.until(lambda m: m["type"] in ("welcome", "error"), "welcome")
        if got["type"] == "error":  # a duplicated key the server did not read as leave: still in the call
            if (got["code"], got["ref"]) != ("invalid_message", "join"):
                raise FuzzFailure(f"{who.name} could not join again: {short(got)}")
            return
        who.peer.id = got["id"]
        if got["state"] == "waiting":  # a citizen who left knocks anew
            await self.op.until(lambda m: m["type"] == "lobby" and bool(m["waiting"]), "the knock")
            await self.op.peer.send(type="admit", id=who.id)
            await who.until(lambda m: m["type"] == "admitted", "admitted")
        await self.other(who).until(lambda m: m["type"] == "peer_joined" and m["id"] == who.id, "peer_joined")

    async def check_room(self) -> None:
        for sock in self.sockets:
            await sock.sync()
            got = [{k: v for k, v in m.items() if k != "at"} for m in sock.inbox if m["type"] in CONTENT]
            if self.strict and got != self.wanted[sock.name]:
                raise FuzzFailure(f"{sock.name} received {short(got)}, wanted {short(self.wanted[sock.name])}")
            sock.inbox.clear()
            self.wanted[sock.name] = []
        self.strict = True
        # A relayed message still arrives, both ways.
        for sender, receiver in ((self.op, self.cit), (self.cit, self.op)):
            await sender.peer.send(type="chat", text=f"check {self.messages}")
            await receiver.until(lambda m: m["type"] == "chat" and m["text"] == f"check {self.messages}", "chat")
        # A fresh join: the citizen's socket drops and a new one comes straight back into the call.
        await self.cit.peer.ws.close()
        await self.op.until(lambda m: m["type"] == "peer_left" and m["id"] == self.cit.id, "peer_left")
        await self.cit.reopen()
        welcome = await self.cit.until(lambda m: m["type"] == "welcome", "welcome")
        if (welcome["state"], [peer["id"] for peer in welcome["peers"]]) != ("in_call", [self.op.id]):
            raise FuzzFailure(f"the citizen came back to {short(welcome)}")
        await self.op.until(lambda m: m["type"] == "peer_joined" and m["id"] == self.cit.id, "peer_joined")
        for sock in self.sockets:
            await sock.sync()
            sock.inbox.clear()


class GroupFuzz(Fuzz):
    async def setup(self) -> None:
        self.harness = GroupHarness(self.harness.client)
        supervisor = await make_staff(self.app, role=Role.SUPERVISOR, name="Supervisore")
        invited = [await make_staff(self.app, name=f"Membro {n}") for n in range(3)]
        room = await supervision.create_room(
            self.app[sessionmaker_key], supervisor, title="F", starts_at=utcnow(), invitees=[s.id for s in invited]
        )
        self.room = room.id
        self.sockets = [(await self._member("moderator", supervisor))[0]]
        self.sockets += [(await self._member(f"member {n}", staff))[0] for n, staff in enumerate(invited[:2])]
        self.mod, self.one, self.two = self.sockets
        self.spare = await self.harness.operator_browser(invited[2])  # logged in once: a login costs a hash

    async def _member(self, name: str, who: Any) -> tuple[Socket, dict[str, Any]]:
        """A socket of staff member ``who`` (or of that logged-in browser) that has joined the room."""
        session = who if isinstance(who, aiohttp.ClientSession) else await self.harness.operator_browser(who)

        async def reopen() -> Peer:
            peer = await self.harness.connect(session)
            await peer.send(type="join", room=self.room)
            return peer

        sock = Socket(name, await reopen(), reopen)
        welcome = await sock.until(lambda m: m["type"] == "welcome", "welcome")
        sock.peer.id = welcome["id"]
        return sock, welcome

    async def frame(self, sender: Socket, frame: Frame) -> None:
        data = frame.data
        if isinstance(data, str) and "end" in valid_kinds(expected(data)):
            sender = self.one  # the moderator would end the meeting for good
        peer = self.two if sender is self.one else self.one
        if isinstance(data, str):
            data = self.substitute(sender, data, peer, self.room)
        answer = await sender.exchange(data)
        if (code := closing_code(data)) is not None:
            if answer.closed != code:
                raise FuzzFailure(f"{sender.name} sent {frame.how}: wanted close {code}, got {short(answer)}")
            await self.rejoin(sender, reopen=True)
            return
        assert isinstance(data, str)
        exp = expected(data)
        allowed = {a for v in exp.verdicts for a in self.answers_to(sender, v, data)}
        self.judge(sender, data, answer, allowed, any_error=exp.any_error)
        kinds = valid_kinds(exp)
        if answer.errors:
            return
        if "remove" in kinds and sender is self.mod:
            target = next((s for s in (self.one, self.two) if s.id == loads(data).get("id")), None)
            if target is not None:
                await self.rejoin(target, reopen=True, closed=4003)
        if "leave" in kinds:
            await self.rejoin(sender, reopen=False)

    def answers_to(self, sender: Socket, verdict: Verdict, text: str) -> set[Verdict | None]:
        kind = verdict.ref
        if not verdict.valid or kind is None:
            return {verdict}
        if kind not in p.GROUP_TYPES:
            return {Verdict("unknown_type", kind), Verdict("invalid_message", kind)}
        if kind == "join":
            return {Verdict("invalid_message", "join")}
        data = loads(text)
        if kind in ("offer", "answer", "candidate"):
            if data.get("to") != p.SFU:
                return {Verdict("no_such_peer", kind)}
            return {None, Verdict("invalid_message", kind), Verdict("negotiation_busy", "offer")}
        if kind in ("mute", "stop_video", "remove", "admit", "lock", "end"):
            if sender is not self.mod:
                return {Verdict("forbidden", kind)}
            if kind in ("mute", "stop_video", "remove"):
                members = (self.one.id, self.two.id)
                if data.get("id") in members:
                    return {None}
                return {Verdict("no_such_peer", kind), Verdict("forbidden", kind)}
            return {Verdict("no_such_peer", kind)} if kind == "admit" else {None}
        return {None}  # leave, media, screen, hand, chat

    async def unlock(self) -> None:
        answer = await self.mod.exchange(json.dumps({"v": 1, "type": "lock", "locked": False}))
        if answer.errors or answer.closed is not None:
            raise FuzzFailure(f"unlocking got {short(answer)}")

    async def rejoin(self, who: Socket, *, reopen: bool, closed: int | None = None) -> None:
        if closed is not None and (code := await who.read_to_close()) != closed:
            raise FuzzFailure(f"{who.name} was closed with {code}, wanted {closed}")
        if who is not self.mod:
            await self.unlock()
        if reopen:
            await who.reopen()
        else:
            await who.peer.send(type="join", room=self.room)
        got = await who.until(lambda m: m["type"] in ("welcome", "error"), "welcome")
        if got["type"] == "error" and (got["code"], got["ref"]) != ("invalid_message", "join"):
            raise FuzzFailure(f"{who.name} could not join again: {short(got)}")
        if got["type"] == "welcome":
            who.peer.id = got["id"]
            if got["state"] != "in_call":
                raise FuzzFailure(f"{who.name} came back to {short(got)}")

    async def check_room(self) -> None:
        await self.unlock()
        for sock in self.sockets:
            await sock.sync()
        text = f"check {self.messages}"
        await self.one.peer.send(type="chat", text=text)
        for sock in (self.mod, self.two):
            await sock.until(lambda m: m["type"] == "chat" and m["text"] == text, "the chat")
        # A fresh join sees everyone in the call, and everyone sees it come and go.
        fresh, welcome = await self._member("fresh", self.spare)
        seen = (welcome["state"], {peer["id"] for peer in welcome["peers"]})
        if seen != ("in_call", {s.id for s in self.sockets}):
            raise FuzzFailure(f"a newcomer saw {seen}, not the three in the call")
        room = self.app[group_hub_key].room(self.room)
        if room is None or len(room.connections) != 4:
            raise FuzzFailure(f"the server's room holds {room and room.connections}, not four sockets")
        for sock in self.sockets:
            await sock.until(lambda m: m["type"] == "peer_joined" and m["id"] == fresh.id, "peer_joined")
        await fresh.peer.send(type="leave")
        for sock in self.sockets:
            await sock.until(lambda m: m["type"] == "peer_left" and m["id"] == fresh.id, "peer_left")
        await fresh.peer.ws.close()
        for sock in self.sockets:
            sock.inbox.clear()


class AlertsFuzz(Fuzz):
    async def setup(self) -> None:
        supervisor = await make_staff(self.app, role=Role.SUPERVISOR, name="Supervisore")
        session = await self.harness.operator_browser(supervisor)

        async def reopen() -> Peer:
            ws = await session.ws_connect(f"{self.harness.base}/ws/alerts", headers={"Origin": self.harness.origin})
            peer = Peer(ws, session)
            self.harness._peers.append(peer)
            return peer

        self.sockets = [Socket("supervisor", await reopen(), reopen)]

    async def frame(self, sender: Socket, frame: Frame) -> None:
        data = frame.data
        ws = sender.peer.ws
        if (code := closing_code(data)) is not None:
            await (ws.send_bytes(data) if isinstance(data, bytes) else ws.send_str(data))
            closed = await sender.read_to_close()
            if closed != code:
                raise FuzzFailure(f"{frame.how}: wanted close {code}, got {closed}")
            await sender.reopen()
            return
        assert isinstance(data, str)
        await ws.send_str(data)
        got = await sender.until(lambda m: m["type"] == "error", "the error")
        self.judge(sender, data, Answer([got]), {Verdict("unknown_type", None)})

    async def check_room(self) -> None:
        (sock,) = self.sockets
        alerts.high_risk(self.app, case_id="fuzz", code=f"F-{self.messages}", by="fuzz")
        await sock.until(lambda m: m["type"] == "alert" and m["case"] == f"F-{self.messages}", "the alert")
