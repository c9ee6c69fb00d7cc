"""The citizen's side: no request to any other host, a kind decline, English, and the quick exit."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.browser import LiveServer, NewContext
from tests.helpers.pages import citizen_knock, create_consultation, operator_login, start_call, wait_for_media

pytestmark = pytest.mark.e2e


async def test_no_page_requests_another_host(live_server: LiveServer, new_context: NewContext) -> None:
    seen: list[str] = []
    off_site: list[str] = []

    async def watch(context: Any) -> None:
        async def check(route: Any) -> None:
            url = route.request.url
            seen.append(url)
            if url.startswith((f"{live_server.url}/", "data:", "blob:")):
                await route.continue_()
            else:
                off_site.append(url)
                await route.abort()

        await context.route("**/*", check)
        context.on("page", lambda page: page.on("websocket", lambda ws: seen.append(ws.url)))

    original = new_context

    async def watched(**options: Any) -> Any:
        context = await original(**options)
        await watch(context)
        return context

    operator, citizen = await start_call(live_server, watched)
    for page in (operator, citizen):
        await wait_for_media(page)
    await operator.click(".call-head [data-action=end]")
    await operator.click("#end-dialog [data-action=confirm-end]")
    await citizen.locator("#screen-ended").wait_for(state="visible")

    ws_origin = live_server.url.replace("http://", "ws://", 1)
    assert off_site == []
    assert all(u.startswith((f"{live_server.url}/", f"{ws_origin}/", "data:", "blob:")) for u in seen), seen
    # The whole way was covered: login, console, operator page, join link, citizen page, scripts, socket.
    for part in ("/login", "/console", "/join/", "/call", "/static/js/citizen.js", "/static/js/operator.js", "/ws"):
        assert any(part in u for u in seen), part


async def test_decline_in_english_and_quick_exit(live_server: LiveServer, new_context: NewContext) -> None:
    operator = await (await new_context()).new_page()
    await operator_login(operator, live_server.url, live_server.email, live_server.password)
    link = await create_consultation(operator, "Luca")

    citizen_context = await new_context(viewport={"width": 390, "height": 844})
    neutral = "https://www.google.it/"
    await citizen_context.route(f"{neutral}**", lambda route: route.fulfill(body="neutral", content_type="text/plain"))
    citizen = await citizen_context.new_page()
    await citizen.goto(link)
    await citizen.goto(f"{live_server.url}/call?lang=en")
    assert await citizen.get_attribute("html", "lang") == "en"
    assert await citizen.title() == "Appointment"
    assert "Go to the waiting room" in (await citizen.text_content("[data-action=knock]") or "")
    await citizen.wait_for_function("() => document.querySelector('[data-check=camera]').dataset.state === 'ok'")
    assert (await citizen.text_content("[data-check=camera] .value") or "").strip() == "working"

    await citizen_knock(citizen, f"{live_server.url}/call")
    assert "waiting room" in (await citizen.text_content("#screen-waiting h1") or "")
    entry = operator.locator("[data-lobby=list] li", has_text="Luca")
    await entry.locator("[data-lobby-action=decline]").click()
    declined = citizen.locator("#screen-declined")
    await declined.wait_for(state="visible")
    text = await declined.text_content() or ""
    assert "cannot take place" in text
    assert "You have done nothing wrong" in text
    assert "112" in text
    await entry.wait_for(state="detached")

    # The quick exit is reachable from the keyboard and leaves without a trace in the history.
    exit_button = citizen.locator("[data-action=quick-exit]")
    assert await exit_button.is_visible()
    await citizen.keyboard.press("Tab")  # the skip link
    for _ in range(3):
        if await exit_button.evaluate("(el) => el === document.activeElement"):
            break
        await citizen.keyboard.press("Tab")
    assert await exit_button.evaluate("(el) => el === document.activeElement")
    history_length = await citizen.evaluate("() => history.length")
    await citizen.keyboard.press("Escape")
    await citizen.keyboard.press("Escape")
    await citizen.wait_for_url(neutral)
    assert await citizen.evaluate("() => history.length") == history_length


async def test_quick_exit_button_hangs_up(live_server: LiveServer, new_context: NewContext) -> None:
    operator = await (await new_context()).new_page()
    await operator_login(operator, live_server.url, live_server.email, live_server.password)
    link = await create_consultation(operator, "Anna")
    context = await new_context(viewport={"width": 390, "height": 844})
    await context.route("https://www.google.it/**", lambda route: route.fulfill(body="neutral"))
    citizen = await context.new_page()
    await citizen_knock(citizen, link)
    entry = operator.locator("[data-lobby=list] li", has_text="Anna")
    await entry.wait_for()
    await citizen.click("[data-action=quick-exit]")
    await citizen.wait_for_url("https://www.google.it/")
    await entry.wait_for(state="detached")  # the citizen left the waiting room at once


async def test_reconnect_backoff_and_the_final_screen(live_server: LiveServer, new_context: NewContext) -> None:
    operator = await (await new_context()).new_page()
    await operator_login(operator, live_server.url, live_server.email, live_server.password)
    link = await create_consultation(operator, "Paolo")
    citizen = await (await new_context(viewport={"width": 390, "height": 844})).new_page()
    await citizen_knock(citizen, link)

    # The client's backoff: jittered, doubling from 0.5 s, capped at 8 s, then it gives up.
    delays = await citizen.evaluate(
        """async () => {
          const { Signaling } = await import('/static/js/signaling.js');
          const client = new Signaling('nowhere', { maxAttempts: 8, baseDelay: 500, maxDelay: 8000 });
          const delays = [];
          client.addEventListener('reconnecting', (e) => delays.push(e.detail.delay));
          client.connect = () => client.retry();  // every attempt fails at once
          const failed = new Promise((resolve) => client.addEventListener('failed', resolve));
          window.setTimeout = (fn) => { Promise.resolve().then(fn); return 0; };  // no real waiting
          client.retry();
          await failed;
          return delays;
        }"""
    )
    assert len(delays) == 8
    for attempt, delay in enumerate(delays):
        ceiling = min(8000, 500 * 2**attempt)
        assert ceiling / 2 <= delay <= ceiling

    # When reconnecting fails for good, the citizen sees a calm final screen with the phone numbers.
    await citizen.reload()
    await citizen_knock(citizen, f"{live_server.url}/call")
    await citizen.evaluate("() => { window.ascolto.signaling.maxAttempts = 0; window.ascolto.signaling.drop(); }")
    final = citizen.locator("#screen-failed")
    await final.wait_for(state="visible")
    text = await final.text_content() or ""
    assert "02 0202" in text
    assert "112" in text


FAIL_MEDIA = """(name) => {
  const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = (constraints) =>
    name === 'NotAllowedError' || constraints.video
      ? Promise.reject(new DOMException('refused in a test', name))
      : real(constraints);
}"""


@pytest.mark.parametrize(
    ("error", "camera", "help_text"),
    [("NotAllowedError", "bad", "Consenti"), ("NotFoundError", "bad", "solo con l'audio")],
)
async def test_device_check_explains_denied_and_missing_devices(
    live_server: LiveServer, new_context: NewContext, error: str, camera: str, help_text: str
) -> None:
    operator = await (await new_context()).new_page()
    await operator_login(operator, live_server.url, live_server.email, live_server.password)
    link = await create_consultation(operator, "Sara")
    context = await new_context(viewport={"width": 390, "height": 844})
    await context.add_init_script(f"({FAIL_MEDIA})({error!r})")
    citizen = await context.new_page()
    await citizen.goto(link)
    help_box = citizen.locator("[data-check=help]")
    await help_box.wait_for(state="visible")
    assert help_text in (await help_box.text_content() or "")
    assert await citizen.get_attribute("[data-check=camera]", "data-state") == camera
    assert await citizen.locator(".preview-box").is_hidden()
    if error == "NotAllowedError":
        assert await citizen.locator("[data-check=retry]").is_visible()
    else:  # no camera: the microphone alone works, and the person may join with audio only
        assert await citizen.get_attribute("[data-check=mic]", "data-state") in ("pending", "ok")
    assert await citizen.locator("[data-action=knock]").is_enabled()
