"""Call set-up time, Chromium to Chromium on loopback: from the operator's Admit click to the first decoded remote
video frame on both sides (the later of the two), over a dozen calls. Times are taken in the pages (Date.now())."""

from __future__ import annotations

import asyncio
import math
import statistics
from typing import Any

from tests.bench import report
from tests.helpers.browser import chromium, new_context, running_server
from tests.helpers.factories import make_consultation
from tests.helpers.pages import citizen_knock, operator_login
from web.links import join_url

CALLS = 12
CALL_TIMEOUT = 20.0

# In-page: note the moment the current peer connection first has a decoded inbound video frame.
WATCH_FIRST_FRAME = """() => {
  window.__firstFrame = null;
  const timer = setInterval(async () => {
    const pc = window.ascolto && window.ascolto.pc;
    if (!pc) return;
    const report = await pc.getStats();
    report.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video' && s.framesDecoded > 0 && window.__firstFrame === null) {
        window.__firstFrame = Date.now();
        clearInterval(timer);
      }
    });
  }, 5);
}"""

ADMIT = """() => {
  const button = document.querySelector('[data-lobby-action=admit]');
  const at = Date.now();
  button.click();
  return at;
}"""


def percentile(values: list[float], q: float) -> float:
    """Nearest rank: the smallest value with at least q% of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


async def one_call(browser: Any, server: Any, operator_context: Any, n: int) -> tuple[float, float]:
    new = await make_consultation(server.app, server.staff, citizen_name=f"Persona {n}")
    operator = await operator_context.new_page()
    await operator.goto(f"{server.url}/console/consultations/{new.consultation.id}")
    await operator.wait_for_function("() => window.ascolto && window.ascolto.signaling.connected")
    citizen_context = await new_context(browser, server, viewport={"width": 390, "height": 844})
    try:
        citizen = await citizen_context.new_page()
        await citizen_knock(citizen, join_url(server.app, new.token))
        await operator.locator("[data-lobby-action=admit]").wait_for()
        for page in (operator, citizen):
            await page.evaluate(WATCH_FIRST_FRAME)
        clicked = float(await operator.evaluate(ADMIT))
        frames: list[float] = []
        for page in (operator, citizen):
            await page.wait_for_function("() => window.__firstFrame !== null", timeout=CALL_TIMEOUT * 1000)
            frames.append(float(await page.evaluate("() => window.__firstFrame")))
        await operator.evaluate("() => window.ascolto.signaling.send('end')")
        await citizen.locator("#screen-ended").wait_for(state="visible")
        return frames[0] - clicked, frames[1] - clicked
    finally:
        await operator.close()
        await citizen_context.close()


async def run() -> None:
    async with running_server() as server, chromium() as browser:
        operator_context = await new_context(browser, server)
        login = await operator_context.new_page()
        await operator_login(login, server.url, server.email, server.password)
        await login.close()
        both: list[float] = []
        for n in range(CALLS):
            op_ms, citizen_ms = await one_call(browser, server, operator_context, n)
            both.append(max(op_ms, citizen_ms))
            print(f"call {n + 1:2d}: operator {op_ms:4.0f} ms, citizen {citizen_ms:4.0f} ms", flush=True)
        await operator_context.close()
    print(f"calls: {len(both)}, mean {statistics.mean(both):.0f} ms, max {max(both):.0f} ms", flush=True)
    report("call_setup_p50", percentile(both, 50), "ms", "<=", 500)
    report("call_setup_p95", percentile(both, 95), "ms", "<=", 1000)


async def main() -> None:
    await asyncio.wait_for(run(), timeout=60 + CALLS * (CALL_TIMEOUT + 10))
