"""Explore's morph panel in a real Chromium: dragging a slider repaints the picture in the
browser many times while the server hears (almost) nothing, and what the canvas shows after
the release is the picture the server renders for the released state. Also the keyboard
(one message a key press) and the language of the panel's labels.

The server of conftest.py draws Streamlit's sliders unless asked; these tests ask with
``?sliders=live``.
"""

from __future__ import annotations

import base64
import io
import re
import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import TIMEOUT_MS
from tests.browser.test_browser import FIRST_PAINT_MS, expect_no_exception, main

pytestmark = pytest.mark.browser

DRAG_STEPS = 20
DRAG_S = 1.5
SETTLE_S = 1.0  # a rerun's round trip on a busy 2-core machine

# Samples the canvas on every animation frame while `window.__sampling` is on: a hash of its
# 28 x 28 cells into a set, so the set's size is the number of distinct pictures painted.
SAMPLER = """(canvas) => {
  window.__hashes = new Set();
  window.__sampling = true;
  const ctx = canvas.getContext('2d');
  const tick = () => {
    if (!window.__sampling) return;
    const d = ctx.getImageData(0, 0, 280, 280).data;
    let h = 0;
    for (let y = 5; y < 280; y += 10) for (let x = 5; x < 280; x += 10) h = (h * 31 + d[4 * (y * 280 + x)]) | 0;
    window.__hashes.add(h);
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}"""

CELLS = """(canvas) => {
  const d = canvas.getContext('2d').getImageData(0, 0, 280, 280).data;
  const out = [];
  for (let y = 5; y < 280; y += 10) for (let x = 5; x < 280; x += 10) out.push(d[4 * (y * 280 + x)]);
  return out;
}"""


class Live:
    """An Explore page on the morph panel, counting the websocket frames it sends."""

    def __init__(self, page: Page):
        self.page = page
        self.sent: list[float] = []
        page.on("websocket", lambda ws: ws.on("framesent", lambda _: self.sent.append(1)))

    @property
    def canvas(self) -> Locator:
        return main(self.page).locator(".morph-picture canvas")

    @property
    def server_png(self) -> Locator:
        """The server's picture of the look Python last rendered, kept under the canvas."""
        return main(self.page).locator(".morph-picture img")

    def slider(self, name: str) -> Locator:
        return main(self.page).get_by_role("slider", name=re.compile("^" + re.escape(name)))

    def cells(self) -> np.ndarray:
        return np.array(self.canvas.evaluate(CELLS)).reshape(28, 28)

    def server_cells(self) -> np.ndarray:
        src = self.server_png.get_attribute("src")
        png = base64.b64decode(src.split(",", 1)[1])
        return np.asarray(Image.open(io.BytesIO(png)).convert("L"))[5::10, 5::10]

    def settle(self, changed: Callable[[], bool]) -> None:
        """Wait for the rerun a release started: `changed` holds, then nothing more comes."""
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        while not changed():
            assert time.monotonic() < deadline, "the server's picture never followed"
            time.sleep(0.1)
        time.sleep(SETTLE_S)


@pytest.fixture
def opened(browser, app_url) -> Iterator[Callable[..., Live]]:
    """Explore asked for the morph panel, in a fresh context; `block` aborts requests to
    URLs matching it (a proxy that blocks WebAssembly, say)."""
    contexts = []

    def open_page(query: str = "", block: str | None = None) -> Live:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        if block:
            context.route(block, lambda route: route.abort())
        view = Live(context.new_page())
        view.page.goto(f"{app_url}/?sliders=live{query}")
        return view

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def live(opened) -> Callable[..., Live]:
    def open_live(query: str = "") -> Live:
        view = opened(query)
        # Streamlit's sliders first, then the panel's once the graph has painted.
        expect(main(view.page).locator(".morph-sliders input").first).to_be_visible(
            timeout=FIRST_PAINT_MS
        )
        expect(view.canvas).to_be_visible()
        expect(main(view.page).get_by_test_id("stSlider")).to_have_count(0)
        time.sleep(SETTLE_S)
        return view

    return open_live


def test_dragging_repaints_in_the_browser_and_the_release_is_the_servers_picture(live):
    view = live()
    page = view.page
    slider = view.slider("Direction 1")
    box = slider.bounding_box()
    y = box["y"] + box["height"] / 2
    x0, x1 = box["x"] + box["width"] * 0.5, box["x"] + box["width"] * 0.95
    before = view.server_png.get_attribute("src")
    view.canvas.evaluate(SAMPLER)
    page.mouse.move(x0, y)
    page.mouse.down()
    sent_before = len(view.sent)
    for i in range(1, DRAG_STEPS + 1):
        page.mouse.move(x0 + (x1 - x0) * i / DRAG_STEPS, y)
        time.sleep(DRAG_S / DRAG_STEPS)
    # Playwright hands over websocket events during its calls only: this one, then count.
    distinct = page.evaluate("() => { window.__sampling = false; return window.__hashes.size; }")
    during = len(view.sent) - sent_before
    page.mouse.up()
    view.settle(lambda: view.server_png.get_attribute("src") != before)
    after = len(view.sent) - sent_before - during
    assert distinct >= 10, f"only {distinct} pictures painted during the drag"
    assert during <= 3, f"{during} messages to the server during the drag"
    assert after >= 1, "the release never reached the server"
    released = float(slider.input_value())
    assert released > 1.5
    assert f"pc={released:g}" in page.url
    diff = np.abs(view.cells() - view.server_cells()).max()
    assert diff <= 2, f"canvas vs the server's picture: {diff}/255"
    expect_no_exception(page)


def test_the_keyboard_moves_a_slider_one_message_a_key(live):
    view = live()
    slider = view.slider("Direction 2")
    slider.focus()
    for key, value in (("ArrowRight", "0.1"), ("End", "3")):
        picture = view.cells()
        before, src = len(view.sent), view.server_png.get_attribute("src")
        view.page.keyboard.press(key)
        view.settle(lambda src=src: view.server_png.get_attribute("src") != src)
        assert slider.input_value() == value
        assert not np.array_equal(view.cells(), picture), f"{key} did not repaint"
        assert len(view.sent) - before == 1, f"{key}: {len(view.sent) - before} messages"
        assert np.abs(view.cells() - view.server_cells()).max() <= 2
    assert "pc=0%2C3" in view.page.url or "pc=0,3" in view.page.url


def test_the_panel_speaks_the_pages_language(live):
    view = live("&lang=zh")
    expect(view.slider("方向 1 · ")).to_be_visible()
    expect(main(view.page).locator(".morph-row span").first).to_have_text(re.compile("^方向 1"))
    assert view.canvas.get_attribute("aria-label").startswith("图像")
    # The switch in the sidebar relabels the panel in place.
    view.page.get_by_test_id("stSidebar").get_by_role("combobox").click()
    view.page.get_by_role("option", name="English").click()
    expect(view.slider("Direction 1 · ")).to_be_visible()


def test_where_the_runtime_cannot_load_streamlits_sliders_stay_with_a_notice(opened):
    view = opened(block="**/*.wasm")
    notice = main(view.page).get_by_text("The live preview could not start in this browser")
    expect(notice).to_be_visible(timeout=FIRST_PAINT_MS)
    sliders = main(view.page).get_by_test_id("stSlider")
    expect(sliders.first).to_be_visible()
    expect(main(view.page).get_by_test_id("stImage")).to_have_count(1)
    assert main(view.page).locator(".morph-sliders input").count() == 0
    # They still work: a key press is a new picture from the server.
    before = main(view.page).get_by_test_id("stImage").locator("img").get_attribute("src")
    view.slider("Direction 1").focus()
    view.page.keyboard.press("End")
    img = main(view.page).get_by_test_id("stImage").locator("img")
    expect(img).not_to_have_attribute("src", before)
    expect_no_exception(view.page)
