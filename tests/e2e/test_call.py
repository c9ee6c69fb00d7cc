"""The 1:1 call end to end: log in, create, knock, admit, media both ways, end; and recovery from a dropped socket."""

from __future__ import annotations

import asyncio

import pytest

from tests.helpers.browser import LiveServer, NewContext
from tests.helpers.pages import (
    call_state,
    citizen_knock,
    create_consultation,
    inbound_video,
    operator_login,
    start_call,
    wait_for_media,
)

pytestmark = pytest.mark.e2e


async def test_consultation_end_to_end(live_server: LiveServer, new_context: NewContext) -> None:
    operator, citizen = await start_call(live_server, new_context)

    await citizen.locator("#screen-call").wait_for(state="visible")
    for page in (operator, citizen):
        stats = await wait_for_media(page)
        assert stats["framesDecoded"] > 0
    for page in (operator, citizen):
        await page.wait_for_function(
            "() => document.querySelector('#screen-call [data-view=status]').dataset.state === 'connected'"
        )
    assert "Maria" in (await operator.text_content("#screen-call [data-view=status]") or "")

    # The ephemeral chat goes both ways and is not kept in storage.
    await citizen.click("#screen-call [data-action=chat]")
    await citizen.fill("#chat-input", "Buongiorno")
    await citizen.press("#chat-input", "Enter")
    await operator.locator("[data-chat=log] li", has_text="Buongiorno").wait_for(state="attached")
    await operator.locator("#screen-call [data-action=chat].unread").wait_for()
    await operator.click("#screen-call [data-action=chat]")
    assert await operator.locator("[data-chat=log] li", has_text="Buongiorno").is_visible()
    assert await citizen.evaluate("() => localStorage.length + sessionStorage.length") == 0

    # The citizen mutes: the operator sees it.
    await citizen.click("#screen-call [data-action=mute]")
    await operator.locator("[data-view=peer-state]", has_text="microfono").wait_for()
    # The citizen turns the camera off (the camera itself stops) and on again: video comes back.
    camera = citizen.locator("#screen-call [data-action=camera]")
    await camera.click()
    await operator.locator("[data-view=peer-state]", has_text="video").wait_for()
    assert await camera.get_attribute("aria-pressed") == "true"
    assert await citizen.evaluate("() => window.ascolto.call.stream.getVideoTracks().length") == 0
    await camera.click()
    await operator.locator("[data-view=peer-state]", has_text="video").wait_for(state="hidden")
    await wait_for_media(operator)

    # The operator ends the session; the citizen sees the end screen with the phone numbers.
    await operator.click(".call-head [data-action=end]")
    await operator.click("#end-dialog [data-action=confirm-end]")
    await operator.locator("#screen-ended").wait_for(state="visible")
    ended = citizen.locator("#screen-ended")
    await ended.wait_for(state="visible")
    text = await ended.text_content() or ""
    assert "terminato" in text
    assert "112" in text
    assert await citizen.locator("#screen-call").is_hidden()


async def test_call_survives_dropped_socket_and_broken_peer_connection(
    live_server: LiveServer, new_context: NewContext
) -> None:
    operator, citizen = await start_call(live_server, new_context)
    for page in (operator, citizen):
        await wait_for_media(page)

    # The citizen's signaling socket drops: it reconnects, joins again, and the call carries on.
    opens = await citizen.evaluate("() => window.ascolto.signaling.opens")
    await citizen.evaluate("() => window.ascolto.signaling.drop()")
    await citizen.wait_for_function("(n) => window.ascolto.signaling.opens > n", arg=opens)
    await citizen.wait_for_function("() => window.ascolto.signaling.connected")
    assert await citizen.locator("#screen-call").is_visible()
    for page in (operator, citizen):
        await wait_for_media(page)
        assert await call_state(page) == "connected"

    # The citizen's peer connection breaks: it asks for a new offer and the call comes back without a reload.
    old_pc = await citizen.evaluate_handle("() => window.ascolto.pc")
    await citizen.evaluate("() => window.ascolto.pc.close()")
    await citizen.wait_for_function("(old) => window.ascolto.pc && window.ascolto.pc !== old", arg=old_pc)
    for page in (operator, citizen):
        await page.wait_for_function(
            "() => window.ascolto.pc && window.ascolto.pc.connectionState === 'connected'", timeout=20_000
        )
        stats = await wait_for_media(page)
        assert stats["framesDecoded"] > 0
        assert await call_state(page) == "connected"

    # The operator's side forces an ICE restart: media keeps flowing on the same peer connection.
    same_pc = await operator.evaluate_handle("() => window.ascolto.pc")
    await operator.evaluate("() => { window.ascolto.call.stage = 0; window.ascolto.call.act(true); }")
    await asyncio.sleep(1.0)
    for page in (operator, citizen):
        await wait_for_media(page)
    assert await operator.evaluate("(pc) => window.ascolto.pc === pc", same_pc)
    assert await inbound_video(operator) is not None

    # The operator reloads the page (a GET of the consultation's URL, not the create POST): the call comes back.
    response = await operator.reload()
    assert response is not None and response.request.method == "GET"
    for page in (operator, citizen):
        await page.wait_for_function(
            "() => window.ascolto.pc && window.ascolto.pc.connectionState === 'connected'", timeout=20_000
        )
        await wait_for_media(page)
    await operator.wait_for_function(
        "() => document.querySelector('#screen-call [data-view=status]').dataset.state === 'connected'"
    )


# Operator's page, before its scripts: record notifications and tones, and let the test hide the tab.
BACKGROUND_TAB = """() => {
  window.__notes = [];
  window.__tones = 0;
  window.Notification = class {
    static permission = 'granted';
    static requestPermission() { return Promise.resolve('granted'); }
    constructor(title, options) { window.__notes.push({ title, body: (options || {}).body || '' }); }
    addEventListener() {}
    close() {}
  };
  Object.defineProperty(document, 'hidden', { configurable: true, get: () => window.__hidden === true });
  const createOscillator = AudioContext.prototype.createOscillator;
  AudioContext.prototype.createOscillator = function () {
    window.__tones += 1;
    return createOscillator.call(this);
  };
}"""


async def test_operator_is_alerted_with_the_tab_in_the_background(
    live_server: LiveServer, new_context: NewContext
) -> None:
    context = await new_context()
    await context.add_init_script(f"({BACKGROUND_TAB})()")
    operator = await context.new_page()
    await operator_login(operator, live_server.url, live_server.email, live_server.password)
    link = await create_consultation(operator, "Maria")
    await operator.wait_for_function("() => window.ascolto && window.ascolto.signaling.connected")
    base_title = await operator.title()
    await operator.evaluate("() => { window.__hidden = true; }")

    citizen = await (await new_context()).new_page()
    await citizen_knock(citizen, link)
    await operator.wait_for_function("(base) => document.title === '(1) ' + base", arg=base_title)
    notes = await operator.evaluate("() => window.__notes")
    assert len(notes) == 1
    assert "Maria" not in notes[0]["title"] + notes[0]["body"]  # no names on a possibly shared screen
    assert await operator.evaluate("() => window.__tones") >= 2  # the chime
    assert "Maria" in (await operator.text_content("[data-lobby=announce]") or "")
