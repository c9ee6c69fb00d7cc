"""A supervision meeting in real Chromium: three staff members in separate browser contexts join the room page,
each decodes the video of the other two through the server's SFU (read from ``getStats()``), and a screen share
(Chromium's fake capture) appears for the others. Then the moderator mutes a member and ends the meeting."""

from __future__ import annotations

from typing import Any

import pytest

from server import supervision
from server.keys import sessionmaker_key
from server.models import Role, Staff, utcnow
from tests.helpers.browser import PASSWORD, LiveServer, NewContext
from tests.helpers.factories import make_staff
from tests.helpers.pages import operator_login

pytestmark = pytest.mark.e2e

# Frames decoded so far per feed ("<publisher id>:<source>"), by the track the client's tracks map gives the feed.
DECODED = """async () => {
  const group = window.ascoltoGroup;
  const feeds = new Map(group.tiles.feeds.filter((f) => f.track).map((f) => [f.track.id, `${f.from}:${f.source}`]));
  const out = {};
  (await group.pc.getStats()).forEach((r) => {
    if (r.type === 'inbound-rtp' && r.kind === 'video' && feeds.has(r.trackIdentifier)) {
      out[feeds.get(r.trackIdentifier)] = r.framesDecoded || 0;
    }
  });
  return out;
}"""


async def enter(new_context: NewContext, server: LiveServer, person: Staff, room: str) -> Any:
    page = await (await new_context()).new_page()
    await operator_login(page, server.url, person.email, PASSWORD)
    await page.goto(f"{server.url}/supervision/{room}")
    await page.click("[data-action=enter]:not([disabled])")
    await page.wait_for_function("() => window.ascoltoGroup?.state?.me")
    return page


async def my_id(page: Any) -> str:
    return str(await page.evaluate("() => window.ascoltoGroup.state.me"))


async def wait_for_video(page: Any, feeds: set[str]) -> None:
    """Until every one of ``feeds`` ("<id>:<source>") has decoded frames on this page."""
    await page.wait_for_function(
        f"""async (wanted) => {{ const got = await ({DECODED})(); return wanted.every((f) => got[f] > 5); }}""",
        arg=sorted(feeds),
        timeout=30_000,
        polling=250,
    )


async def test_three_people_see_each_other_and_a_shared_screen(
    live_server: LiveServer, new_context: NewContext
) -> None:
    app = live_server.client.app
    supervisor = await make_staff(app, role=Role.SUPERVISOR, password=PASSWORD, name="Supervisore")
    members = [await make_staff(app, password=PASSWORD, name=f"Membro {n}") for n in (1, 2)]
    room = await supervision.create_room(
        app[sessionmaker_key], supervisor, title="Supervisione", starts_at=utcnow(), invitees=[m.id for m in members]
    )
    pages = [await enter(new_context, live_server, person, room.id) for person in (supervisor, *members)]
    ids = [await my_id(page) for page in pages]

    for page, me in zip(pages, ids, strict=True):
        await wait_for_video(page, {f"{other}:camera" for other in ids if other != me})

    await pages[1].click("[data-action=screen]")  # Chromium's fake capture stands in for the chosen screen
    for page in (pages[0], pages[2]):
        await wait_for_video(page, {f"{ids[1]}:screen"})
        await page.wait_for_selector("[data-group=stage] video")

    await pages[0].locator(f".tile[data-peer='{ids[2]}'] [data-moderate=mute]").click()
    await pages[2].wait_for_function(
        "() => document.querySelector('[data-action=mic]').getAttribute('aria-pressed') === 'true'"
    )
    await pages[0].click("[data-action=end]")
    await pages[0].click("#end-dialog button[value=end]")
    for page in pages[1:]:
        await page.wait_for_selector("#screen-ended:not([hidden])")
