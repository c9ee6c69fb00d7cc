"""The in-process bus: delivery by room, in order, without copies; unsubscribe; close."""

from __future__ import annotations

from signaling import protocol as p
from signaling.bus import Event, InProcessBus
from signaling.effects import Close, Send


async def test_publish_reaches_subscribers_of_that_room_only() -> None:
    bus = InProcessBus()
    got_a: list[Event] = []
    got_b: list[Event] = []
    await bus.subscribe("a", got_a.append)
    await bus.subscribe("b", got_b.append)
    first = Send(("c1",), p.PeerLeft("x"))
    second = Close("c1", 1000)
    await bus.publish("a", first)
    await bus.publish("a", second)
    await bus.publish("nobody", first)
    assert got_a == [first, second]
    assert got_a[0] is first  # no copy, no encoding in process
    assert got_b == []


async def test_several_subscribers_and_cancel() -> None:
    bus = InProcessBus()
    one: list[Event] = []
    two: list[Event] = []
    sub_one = await bus.subscribe("r", one.append)
    await bus.subscribe("r", two.append)
    event = Send(("c1",), p.Declined())
    await bus.publish("r", event)
    await sub_one.cancel()
    await sub_one.cancel()  # idempotent
    await bus.publish("r", event)
    assert (len(one), len(two)) == (1, 2)
    assert bus.subscriber_count("r") == 1


async def test_close_drops_everything() -> None:
    bus = InProcessBus()
    got: list[Event] = []
    await bus.subscribe("r", got.append)
    await bus.close()
    await bus.publish("r", Close("c", 1000))
    assert got == [] and bus.subscriber_count("r") == 0
