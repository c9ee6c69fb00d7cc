"""Bytes on the wire for a citizen opening the join link, up to the device check being on screen, measured in
real Chromium with an empty cache: the sum of every response's encoded size, headers included (CDP Network)."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.bench import report
from tests.helpers.browser import chromium, new_context, running_server
from tests.helpers.factories import make_consultation
from web.links import join_url

DEVICE_CHECK_SHOWN = """() => {
  const camera = document.querySelector('[data-check=camera]');
  const preview = document.querySelector('[data-check=preview]');
  return camera && camera.dataset.state === 'ok' && preview && preview.videoWidth > 0;
}"""


async def measure(browser: Any, server: Any, link: str) -> tuple[int, dict[str, int]]:
    context = await new_context(browser, server, viewport={"width": 390, "height": 844})
    try:
        page = await context.new_page()
        cdp = await context.new_cdp_session(page)
        urls: dict[str, str] = {}
        sizes: dict[str, int] = {}

        def sent(event: dict[str, Any]) -> None:
            redirect = event.get("redirectResponse")
            if redirect:  # the 303 of the join link: its bytes are counted here
                key = f"{event['requestId']}:{redirect['url']}"
                sizes[key] = int(redirect.get("encodedDataLength", 0))
                urls[key] = redirect["url"]
            urls[event["requestId"]] = event["request"]["url"]

        def finished(event: dict[str, Any]) -> None:
            sizes[event["requestId"]] = int(event["encodedDataLength"])

        cdp.on("Network.requestWillBeSent", sent)
        cdp.on("Network.loadingFinished", finished)
        await cdp.send("Network.enable")
        await cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        await page.goto(link)
        await page.wait_for_function(DEVICE_CHECK_SHOWN)
        await asyncio.sleep(0.3)  # let the last loadingFinished events arrive
        by_url = {urls.get(key, key).split("?")[0]: size for key, size in sizes.items()}
        return sum(sizes.values()), by_url
    finally:
        await context.close()


async def run() -> None:
    async with running_server() as server, chromium() as browser:
        new = await make_consultation(server.app, server.staff, citizen_name="Maria")
        total, by_url = await measure(browser, server, join_url(server.app, new.token))
    for url, size in sorted(by_url.items(), key=lambda item: -item[1]):
        print(f"{size:7d} B  {url.removeprefix(server.url)}", flush=True)
    report("citizen_page_kb", total / 1024, "KB", "<=", 120)


async def main() -> None:
    await asyncio.wait_for(run(), timeout=90)
