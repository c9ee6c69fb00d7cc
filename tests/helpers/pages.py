"""What people do in the browser, step by step, shared by the browser tests and the benchmarks."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.helpers.browser import LiveServer, NewContext

# In-page: the current peer connection's inbound video stats (or null).
INBOUND_VIDEO = """async () => {
  const pc = window.ascolto && window.ascolto.pc;
  if (!pc) return null;
  const report = await pc.getStats();
  let found = null;
  report.forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'video') {
      found = {framesDecoded: s.framesDecoded || 0, bytesReceived: s.bytesReceived || 0};
    }
  });
  return found;
}"""


async def operator_login(page: Any, base_url: str, email: str, password: str) -> None:
    await page.goto(f"{base_url}/login")
    await page.fill("#email", email)
    await page.fill("#password", password)
    await page.click("button[type=submit].primary")
    await page.wait_for_url(f"{base_url}/console")


async def create_consultation(page: Any, citizen_name: str = "Maria") -> str:
    """From the console: create a consultation; returns the citizen's join link shown on the operator page."""
    await page.fill("#citizen_name", citizen_name)
    await page.click("form[action$='/console/consultations'] button[type=submit]")
    link = page.locator("#join-link")
    await link.wait_for()
    return str(await link.input_value())


async def citizen_knock(page: Any, join_link: str) -> None:
    """Open the join link, pass the device check, knock."""
    await page.goto(join_link)
    knock = page.locator("[data-action=knock]")
    await knock.wait_for()
    await page.wait_for_function("() => !document.querySelector('[data-action=knock]').disabled")
    await page.wait_for_function("() => document.querySelector('[data-check=camera]').dataset.state === 'ok'")
    await knock.click()
    await page.locator("#screen-waiting").wait_for(state="visible")


async def inbound_video(page: Any) -> dict[str, int] | None:
    result = await page.evaluate(INBOUND_VIDEO)
    return None if result is None else {k: int(v) for k, v in result.items()}


async def wait_for_media(page: Any, within: float = 20.0) -> dict[str, int]:
    """Wait until remote video frames are decoded and bytes keep arriving; returns the last stats."""
    deadline = time.monotonic() + within
    first: dict[str, int] | None = None
    while time.monotonic() < deadline:
        stats = await inbound_video(page)
        if stats and stats["framesDecoded"] > 0:
            if first is None:
                first = stats
            elif stats["bytesReceived"] > first["bytesReceived"] and stats["framesDecoded"] > first["framesDecoded"]:
                return stats
        await asyncio.sleep(0.25)
    raise AssertionError(f"no media flowing within {within} s (last stats: {first})")


async def call_state(page: Any) -> str:
    return str(await page.get_attribute("#screen-call [data-view=status]", "data-state"))


async def start_call(live_server: LiveServer, new_context: NewContext) -> tuple[Any, Any]:
    """Operator logs in and creates a consultation; the citizen knocks; the operator is alerted and admits."""
    operator = await (await new_context()).new_page()
    await operator_login(operator, live_server.url, live_server.email, live_server.password)
    link = await create_consultation(operator, "Maria")
    assert link.startswith(f"{live_server.url}/join/")
    # The page replaced the POST in the history with the consultation's own URL.
    await operator.wait_for_function("() => location.pathname.startsWith('/console/consultations/')")
    await operator.click("[data-copy=join-link]")
    await operator.wait_for_function("() => document.getElementById('copy-status').textContent.trim() !== ''")
    base_title = await operator.title()

    citizen = await (await new_context(viewport={"width": 390, "height": 844})).new_page()
    await citizen_knock(citizen, link)
    assert await citizen.title() == "Appuntamento"  # neutral: never the service's name

    entry = operator.locator("[data-lobby=list] li", has_text="Maria")
    await entry.wait_for()
    await operator.wait_for_function("(base) => document.title === '(1) ' + base", arg=base_title)
    await entry.locator("[data-lobby-action=admit]").click()
    await operator.wait_for_function("(base) => document.title === base", arg=base_title)
    return operator, citizen
