"""Explore's morph panel in a real Chromium: dragging a slider repaints the picture and its
verdict in the browser many times while the server hears (almost) nothing; the release is one
small post, no rerun, which puts the link in the address bar; and what the canvas showed is
the picture (and the verdict) the server renders for that link. The next rerun, whatever
starts it, keeps the released state. Also the keyboard (one post a key press, no websocket
message) and the language of the panel's labels.

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

from aigc import render, weights
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
  window.__said = new Set();
  window.__sampling = true;
  const readout = canvas.parentElement.querySelector('.morph-readout');
  const ctx = canvas.getContext('2d');
  const tick = () => {
    if (!window.__sampling) return;
    const d = ctx.getImageData(0, 0, 280, 280).data;
    let h = 0;
    for (let y = 5; y < 280; y += 10) for (let x = 5; x < 280; x += 10) h = (h * 31 + d[4 * (y * 280 + x)]) | 0;
    window.__hashes.add(h);
    window.__said.add(readout.innerText);
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}"""

# A canvas's 28 x 28 cells, `scale` px each, read at each cell's centre.
CELLS = """(canvas, scale) => {
  const side = 28 * scale, half = scale >> 1;
  const d = canvas.getContext('2d').getImageData(0, 0, side, side).data;
  const out = [];
  for (let y = half; y < side; y += scale) for (let x = half; x < side; x += scale) out.push(d[4 * (y * side + x)]);
  return out;
}"""


class Live:
    """An Explore page on the morph panel, counting the websocket frames it sends and the
    releases it posts."""

    def __init__(self, page: Page):
        self.page = page
        self.sent: list[float] = []
        self.posts: list[str] = []
        page.on("websocket", lambda ws: ws.on("framesent", lambda _: self.sent.append(1)))
        page.on("request", lambda r: "/morph/sync/" in r.url and self.posts.append(r.url))

    def synced(self) -> int:
        """Releases the server answered (morph.js stamps the picture with the last one's)."""
        return int(main(self.page).locator(".morph-picture").get_attribute("data-synced") or 0)

    def readout(self) -> str:
        return main(self.page).locator(".morph-readout").inner_text()

    def link(self) -> str:
        return main(self.page).locator(".morph-link code").inner_text()

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
        return np.array(self.canvas.evaluate(CELLS, 10)).reshape(28, 28)

    def server_cells(self) -> np.ndarray:
        src = self.server_png.get_attribute("src")
        png = base64.b64decode(src.split(",", 1)[1])
        image = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
        scale = image.shape[0] // 28
        return image[scale // 2 :: scale, scale // 2 :: scale]

    def drag(self, slider: Locator, start: float, end: float) -> tuple[int, int, int]:
        """Press `slider` at `start` of its track, move to `end` in DRAG_STEPS over DRAG_S,
        hold: (distinct pictures painted, distinct verdicts, websocket frames sent) in
        between. The caller lets go."""
        slider.scroll_into_view_if_needed()
        box = slider.bounding_box()
        y = box["y"] + box["height"] / 2
        x0, x1 = box["x"] + box["width"] * start, box["x"] + box["width"] * end
        self.canvas.evaluate(SAMPLER)
        self.page.mouse.move(x0, y)
        self.page.mouse.down()
        sent_before = len(self.sent)
        for i in range(1, DRAG_STEPS + 1):
            self.page.mouse.move(x0 + (x1 - x0) * i / DRAG_STEPS, y)
            time.sleep(DRAG_S / DRAG_STEPS)
        # Playwright hands over websocket events during its calls only: this one, then count.
        distinct, verdicts = self.page.evaluate(
            "() => { window.__sampling = false; return [window.__hashes.size, window.__said.size]; }"
        )
        return distinct, verdicts, len(self.sent) - sent_before

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

    def open_page(query: str = "", block: str | None = None, path: str = "/") -> Live:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        if block:
            context.route(block, lambda route: route.abort())
        view = Live(context.new_page())
        view.page.goto(f"{app_url}{path}?sliders=live{query}")
        return view

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def live(opened) -> Callable[..., Live]:
    def open_live(query: str = "", path: str = "/") -> Live:
        view = opened(query, path=path)
        # Streamlit's sliders first, then the panel's once the graph has painted.
        expect(main(view.page).locator(".morph-sliders input").first).to_be_visible(
            timeout=FIRST_PAINT_MS
        )
        expect(view.canvas).to_be_visible()
        panels = re.compile("Direction|方向|z₁")  # Streamlit's sliders of the panel's are gone
        expect(main(view.page).get_by_test_id("stSlider").filter(has_text=panels)).to_have_count(0)
        time.sleep(SETTLE_S)
        return view

    return open_live


def server_view(page: Page, url: str) -> tuple[np.ndarray, str]:
    """What the server paints and says for a link: opened with Streamlit's sliders, whose
    picture and verdict Python draws."""
    page.goto(url + "&sliders=native")
    img = main(page).get_by_test_id("stImage").locator("img")
    expect(img).to_be_visible(timeout=FIRST_PAINT_MS)
    png = page.request.get(img.get_attribute("src")).body()
    cells = np.asarray(Image.open(io.BytesIO(png)).convert("L"))[5::10, 5::10]
    said = main(page).get_by_test_id("stMarkdown").filter(has_text="Classifier:").inner_text()
    return cells, said


def test_dragging_repaints_in_the_browser_and_the_release_is_the_servers_picture(live):
    view = live()
    page = view.page
    slider = view.slider("Direction 1")
    sent_before = len(view.sent)
    distinct, verdicts, during = view.drag(slider, 0.5, 0.95)
    page.mouse.up()
    expect(main(page).locator(".morph-picture")).to_have_attribute("data-synced", "1")
    time.sleep(SETTLE_S)  # a rerun, had there been one, would have been asked for by now
    assert distinct >= 10, f"only {distinct} pictures painted during the drag"
    assert during <= 3, f"{during} messages to the server during the drag"
    assert len(view.sent) - sent_before - during == 0, "the release reran the page"
    assert len(view.posts) == 1
    released = float(slider.input_value())
    assert released > 1.5
    assert f"pc={released:g}" in page.url and f"pc={released:g}" in view.link()
    assert verdicts >= 2, "the verdict under the picture did not follow the drag"
    canvas, said = view.cells(), view.readout()
    expect_no_exception(page)
    # The link is the server's: it paints the canvas's picture and says the same.
    server, server_said = server_view(page, page.url)
    assert np.abs(canvas - server).max() <= 2, (
        f"canvas vs the server: {np.abs(canvas - server).max()}/255"
    )
    assert said.split() == server_said.split()


def test_the_next_rerun_keeps_what_was_released(live):
    """A release is taken by whatever runs next: here the seed box, inside the same view."""
    view = live()
    view.slider("Direction 2").focus()
    view.page.keyboard.press("End")
    expect(main(view.page).locator(".morph-picture")).to_have_attribute("data-synced", "1")
    src = view.server_png.get_attribute("src")
    seed = main(view.page).get_by_test_id("stNumberInput").locator("input")
    seed.fill("5")
    seed.press("Enter")
    expect(view.server_png).not_to_have_attribute("src", src)  # the server's picture of it
    time.sleep(SETTLE_S)
    assert view.slider("Direction 2").input_value() == "3", "the rerun undid the release"
    assert "seed=5" in view.page.url and "pc=0%2C3" in view.page.url
    assert np.abs(view.cells() - view.server_cells()).max() <= 2
    expect_no_exception(view.page)


def test_the_keyboard_moves_a_slider_one_post_a_key(live):
    view = live()
    slider = view.slider("Direction 2")
    slider.focus()
    for n, (key, value) in enumerate((("ArrowRight", "0.1"), ("End", "3")), start=1):
        picture = view.cells()
        before = len(view.sent)
        view.page.keyboard.press(key)
        expect(main(view.page).locator(".morph-picture")).to_have_attribute("data-synced", str(n))
        assert slider.input_value() == value
        assert not np.array_equal(view.cells(), picture), f"{key} did not repaint"
        assert len(view.sent) == before and len(view.posts) == n, f"{key}: not one post"
    assert "pc=0%2C3" in view.page.url or "pc=0,3" in view.page.url
    assert "pc=0%2C3" in view.link()


def test_the_panel_speaks_the_pages_language(live):
    view = live("&lang=zh")
    expect(view.slider("方向 1 · ")).to_be_visible()
    expect(main(view.page).locator(".morph-row span").first).to_have_text(re.compile("^方向 1"))
    assert view.canvas.get_attribute("aria-label").startswith("图像")
    readout = main(view.page).locator(".morph-readout")
    expect(readout).to_contain_text("分类器")  # said as soon as the panel is live
    link = main(view.page).locator(".morph-link")
    expect(link).to_contain_text("lang=zh")
    expect(link.get_by_role("button")).to_have_text("复制链接")
    # The switch in the sidebar relabels the panel in place.
    view.page.get_by_test_id("stSidebar").get_by_role("combobox").click()
    view.page.get_by_role("option", name="English").click()
    expect(view.slider("Direction 1 · ")).to_be_visible()
    expect(readout).to_contain_text("Classifier:")
    expect(link.get_by_role("button")).to_have_text("Copy link")


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


def test_scrubbing_the_walk_shows_its_frames_in_the_browser_and_the_next_run_keeps_it(
    browser, app_url
):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        view = Live(context.new_page())
        page = view.page
        page.goto(f"{app_url}/interpolate")
        canvas = main(page).locator(".morph-film canvas")
        expect(canvas).to_have_attribute("data-shown", "1", timeout=FIRST_PAINT_MS)
        time.sleep(SETTLE_S)
        scrubber = main(page).locator(".morph-film input")
        scrubber.scroll_into_view_if_needed()
        box = scrubber.bounding_box()
        y = box["y"] + box["height"] / 2
        page.mouse.move(box["x"] + 2, y)
        page.mouse.down()
        sent_before, shown = len(view.sent), set()
        for i in range(1, DRAG_STEPS + 1):
            page.mouse.move(box["x"] + 2 + (box["width"] * 0.75) * i / DRAG_STEPS, y)
            shown.add(canvas.get_attribute("data-shown"))
            time.sleep(DRAG_S / DRAG_STEPS)
        during = len(view.sent) - sent_before
        page.mouse.up()
        expect(main(page).locator(".morph-film")).to_have_attribute("data-synced", "1")
        time.sleep(SETTLE_S)
        assert len(shown) >= 10, f"only {len(shown)} frames shown during the drag"
        assert during <= 3 and len(view.sent) - sent_before == during, "the drag reran the page"
        n = int(scrubber.input_value())
        # Exactly the server's frame n: the page's default walk.
        gan = weights.load_shipped("gan_mnist")
        walk = render.walk(gan, render.seed_points(gan, (0, 1, 2)), 12, True, (3, 3))
        cells = np.array(canvas.evaluate(CELLS, 8)).reshape(28, 28)
        assert np.array_equal(cells, walk[n - 1]), "the scrubber's frame is not the server's"
        # The next rerun (opening the rating form) rates that frame, and keeps it shown.
        main(page).get_by_text("Rate this image").click()
        expect(main(page).get_by_test_id("stForm")).to_be_visible()
        assert scrubber.input_value() == str(n)
        expect_no_exception(page)
    finally:
        context.close()


def test_on_the_latent_map_dragging_z1_morphs_the_decoded_digit(live):
    view = live(path="/latent-map")
    page = view.page
    slider = view.slider("z₁")
    src = view.server_png.get_attribute("src")
    distinct, _, during = view.drag(slider, 0.5, 0.9)
    page.mouse.up()
    view.settle(lambda: view.server_png.get_attribute("src") != src)  # the release reruns
    assert distinct >= 10, f"only {distinct} pictures painted during the drag"
    assert during <= 3, f"{during} messages to the server during the drag"
    released = float(slider.input_value())
    assert released > 1.5 and f"z={released:g}" in page.url
    assert np.abs(view.cells() - view.server_cells()).max() <= 2
    expect(main(page).locator(".morph-readout")).to_contain_text("Classifier:")
    expect_no_exception(page)
