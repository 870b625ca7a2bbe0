"""The morph panel against Streamlit's own sliders in real Chromium: two ``streamlit run``
servers, one drawing the panel (the default) and one asked for ``?sliders=native``, driven
side by side in one run, so their ratios share the machine's mood.

Inside each page one watcher (``_WATCH``) reads, on every animation frame, what the picture
shows (the panel: its canvas's repaint counter; native: the main area's image, once decoded)
and the server's last word on a release (the panel: the release its desk answered, stamped on
the picture by morph.js; native: the new image); pointer and key events are stamped as they
happen. A frame at which the shown picture changed is a frame painted; the first frame after
a release at which the server's word changed is that gesture's answer. Websocket frames and
the panel's posts are counted by Playwright, as tests/browser/test_morph_browser.py does.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from aigc.bench.browser import (
    PAINT_TIMEOUT_MS,
    SERVER_START_S,
    Served,
    first_paint_ms,
    server,
)
from aigc.bench.timing import process_cpu_s

MAIN = '[data-testid="stMain"]'
PANEL_INPUT = f"{MAIN} .morph-sliders input"
PANEL_CANVAS = f"{MAIN} .morph-picture canvas"
PANEL_PICTURE = f"{MAIN} .morph-picture"
NATIVE_SLIDER = f'{MAIN} [data-testid="stSlider"]'
VIEWPORT = {"width": 1400, "height": 1000}  # the picture and the direction sliders side by side
MODES = ("panel", "native")
QUERY = {"panel": "/?sliders=live", "native": "/?sliders=native"}
ENV = {"panel": {"AIGC_SLIDERS": "live"}, "native": {"AIGC_SLIDERS": "native"}}
MOVES_PER_S = 60  # one mouse move per display frame
SWEEP = (0.1, 0.9)  # the drag stays on this part of the track, back and forth
WIDTHS_PER_S = 1.5  # of the track: ~1.5 slider steps (of 60) per move
SETTLE_S = 0.4  # after a gesture's answer: what the rerun does after sending the picture

# (canvas | null, the panel's picture | null): null for native, where the main image is both.
_WATCH = """([canvas, picture]) => {
  const m = (window.__morph = {frames: [], answers: [], inputs: [], downs: [], releases: []});
  const now = () => performance.now();
  const main = document.querySelector('[data-testid="stMain"]');
  const image = () => {
    const img = main.querySelector('img');
    return img && img.complete && img.naturalWidth ? img.src : null;
  };
  const shown = () => (canvas ? canvas.dataset.frames : image());
  const sent = () => (picture ? picture.dataset.synced : image());
  let lastShown = shown(), lastSent = sent(), waiting = false;
  const tick = () => {
    const s = shown(), a = sent(), t = now();
    const painted = s !== lastShown;
    if (painted) m.frames.push(t);
    if (a !== lastSent) waiting = true;
    if (waiting) { m.answers.push(t); waiting = false; }
    lastShown = s; lastSent = a;
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  const on = (type, list) => window.addEventListener(type, () => list.push(now()), true);
  on('pointerdown', m.downs);
  on('pointerup', m.releases);
  on('keydown', m.releases);  // a key press is its own release
  if (canvas) on('input', m.inputs);
}"""


@dataclass
class Gestures:
    """What one side's gestures came to."""

    drag_fps: list[float] = field(default_factory=list)  # frames painted per s, per drag
    drag_sent: list[float] = field(default_factory=list)  # websocket frames sent, per drag
    answers_ms: list[float] = field(default_factory=list)  # release -> the server's word
    input_paint_ms: list[float] = field(default_factory=list)  # panel: input -> canvas painted
    cpu_s: float = 0.0  # the server's, over all the gestures timed
    frames_sent: int = 0  # websocket frames the page sent over them
    posts: int = 0  # the panel's posts to its desk over them
    gestures: int = 0
    failed: int = 0  # a gesture with no answer within PAINT_TIMEOUT_MS, or an exception shown


class Side:
    """One page of one mode, watched; counts the websocket frames and the posts it sends."""

    def __init__(self, browser, served: Served, mode: str):
        self.mode, self.served = mode, served
        self.context = browser.new_context(viewport=VIEWPORT)
        self.context.set_default_timeout(PAINT_TIMEOUT_MS)
        self.page = self.context.new_page()
        self.sent = self.posts = 0
        self.page.on("websocket", lambda ws: ws.on("framesent", self._count))
        self.page.on("request", self._post)
        self.answered = 0

    def _count(self, _frame) -> None:
        self.sent += 1

    def _post(self, request) -> None:
        self.posts += "/morph/sync/" in request.url

    def open(self) -> Side:
        """Load the page until its sliders are the mode's own, then start watching."""
        self.page.goto(self.served.url + QUERY[self.mode])
        if self.mode == "panel":
            self.page.locator(PANEL_INPUT).first.wait_for(timeout=SERVER_START_S * 1000)
            canvas = self.page.locator(PANEL_CANVAS)
            canvas.wait_for()
            handles = [canvas.element_handle(), self.page.locator(PANEL_PICTURE).element_handle()]
        else:
            self.page.locator(NATIVE_SLIDER).first.wait_for(timeout=SERVER_START_S * 1000)
            handles = [None, None]
        time.sleep(1.0)  # let the first reruns (probe -> live) land before watching
        self.page.evaluate(_WATCH, handles)
        return self

    def close(self) -> None:
        self.context.close()

    def _input(self, index: int):
        """The `index`th slider's range input (the direction sliders come first)."""
        if self.mode == "panel":
            return self.page.locator(PANEL_INPUT).nth(index)
        return self.page.locator(NATIVE_SLIDER).nth(index).locator('input[type="range"]')

    def _track(self, index: int) -> tuple[dict, float]:
        """The `index`th slider's track box and where its thumb is, as a fraction."""
        value_of = self._input(index)
        if self.mode == "panel":
            box_of = value_of
        else:  # react-aria's slider: the input is hidden, the track is the group's child
            box_of = self.page.locator(NATIVE_SLIDER).nth(index)
            box_of = box_of.locator('[role="group"] > div').first
        lo, hi = float(value_of.get_attribute("min")), float(value_of.get_attribute("max"))
        return box_of.bounding_box(), (float(value_of.input_value()) - lo) / (hi - lo)

    def drag(self, seconds: float, index: int = 0) -> tuple[float, int]:
        """Press the `index`th slider's thumb and sweep it back and forth for `seconds`, then
        release; return (frames painted per s, websocket frames sent) in between."""
        box, at = self._track(index)
        y = box["y"] + box["height"] / 2
        x = lambda f: box["x"] + box["width"] * f  # noqa: E731
        page = self.page
        page.mouse.move(x(at), y)
        page.mouse.down()
        sent = self.sent
        lo, hi = SWEEP
        f, direction = min(max(at, lo), hi), 1.0
        step = WIDTHS_PER_S / MOVES_PER_S
        t0 = time.perf_counter()
        for i in range(1, round(seconds * MOVES_PER_S) + 1):
            f += direction * step
            if not lo <= f <= hi:
                direction = -direction
                f = min(max(f, lo), hi)
            page.mouse.move(x(f), y)
            time.sleep(max(0.0, t0 + i / MOVES_PER_S - time.perf_counter()))
        if abs(f - at) < 0.05:  # a drag that ends where it began sends nothing: move off
            page.mouse.move(x(f + (0.2 if f < 0.5 else -0.2)), y)
        # Playwright hands over websocket events during its calls only: this one, then count.
        fps = page.evaluate(
            """() => { const m = window.__morph, t0 = m.downs[m.downs.length - 1];
                       const t1 = performance.now();
                       return m.frames.filter(t => t > t0).length / ((t1 - t0) / 1000); }"""
        )
        during = self.sent - sent
        page.mouse.up()
        return fps, during

    def press(self, key: str, index: int = 0) -> None:
        self._input(index).focus()
        self.page.keyboard.press(key)

    def wait_answer(self) -> bool:
        """Wait for the server's word on the last gesture; False if none came in time."""
        self.answered += 1
        try:
            self.page.wait_for_function(
                f"() => window.__morph.answers.length >= {self.answered}",
                timeout=PAINT_TIMEOUT_MS,
            )
        except Exception:  # Playwright's TimeoutError: counted as a failed gesture
            self.answered = len(self.page.evaluate("() => window.__morph.answers"))
            return False
        return True

    def exceptions(self) -> int:
        return self.page.get_by_test_id("stException").count()

    def latencies(self) -> tuple[list[float], list[float]]:
        """(release -> answer ms for every release, input -> canvas painted ms for every input)."""
        m = self.page.evaluate("() => window.__morph")
        return first_after(m["releases"], m["answers"]), first_after(m["inputs"], m["frames"])


def first_after(starts: list[float], ends: list[float]) -> list[float]:
    """For every start, ms to the first end after it (starts with no end are left out)."""
    out, j = [], 0
    for t in starts:
        while j < len(ends) and ends[j] <= t:
            j += 1
        if j < len(ends):
            out.append(ends[j] - t)
    return out


def gestures(side: Side, g: Gestures, drags: int, drag_s: float, keys: int, index: int) -> None:
    """Add to `g`: `drags` drags of `drag_s` on the `index`th slider, then `keys` presses of
    the right arrow on it, each waited for until the server's word came back and SETTLE_S
    more, and the server's CPU and the page's messages over them all. Each gesture makes a look the server has not
    rendered yet, as long as the caller moves on to another slider for the next round (a look
    seen before would come from the picture cache). The latencies are read once, at the end
    (`finish`)."""
    side.page.evaluate("0")  # Playwright hands over the page's events during its calls only
    start, frames, posts = process_cpu_s(side.served.pid), side.sent, side.posts
    for _ in range(drags):
        fps, sent = side.drag(drag_s, index)
        g.drag_fps.append(fps)
        g.drag_sent.append(float(sent))
        g.failed += not side.wait_answer()
        time.sleep(SETTLE_S)
    for _ in range(keys):
        side.press("ArrowRight", index)
        g.failed += not side.wait_answer()
        time.sleep(SETTLE_S)
    g.cpu_s += process_cpu_s(side.served.pid) - start
    side.page.evaluate("0")
    g.frames_sent += side.sent - frames
    g.posts += side.posts - posts
    g.gestures += drags + keys


def finish(side: Side, g: Gestures) -> Gestures:
    """Read the page's latencies and shown exceptions into `g`, and close the page."""
    g.answers_ms, g.input_paint_ms = side.latencies()
    g.failed += side.exceptions()
    side.close()
    return g


def crowd(sides: list[Side], rounds: int, drag_s: float, think_s: float) -> Gestures:
    """The pages take turns: each drags for `drag_s` and lets go, and the next starts
    `think_s` later without waiting for the last one's answer, as people beside each other
    would; then every page waits for its last answers. Each page drags a slider of its own
    (another each round), so the sessions do not hand each other cached pictures."""
    g = Gestures()
    for r in range(rounds):
        for i, side in enumerate(sides):
            side.drag(drag_s, (i + r) % len(sides))
            time.sleep(think_s)
    for side in sides:
        for _ in range(rounds):
            g.failed += not side.wait_answer()
        latencies = finish(side, Gestures())
        g.answers_ms += latencies.answers_ms
        g.input_paint_ms += latencies.input_paint_ms
        g.failed += latencies.failed
        g.gestures += rounds
    return g


def new_tab(browser, served: Served, mode: str) -> tuple[float, float | None]:
    """A visitor's new tab on a warm server: (ms to the first picture painted, ms to the
    panel live, its canvas painted and its sliders drawn; None for native)."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        t0 = time.perf_counter()
        first = first_paint_ms(page, served.url + QUERY[mode], t0)
        if mode != "panel":
            return first, None
        page.locator(PANEL_INPUT).first.wait_for(timeout=SERVER_START_S * 1000)
        page.locator(PANEL_CANVAS).wait_for(timeout=SERVER_START_S * 1000)
        return first, (time.perf_counter() - t0) * 1000
    finally:
        context.close()


@contextlib.contextmanager
def servers(app: Path, browser) -> Iterator[tuple[dict[str, Served], dict[str, float]]]:
    """Both servers, started one at a time up to their first picture painted (so neither
    start is timed beside the other); yields them and those first-paint ms."""
    out, first = {}, {}
    with contextlib.ExitStack() as stack:
        for mode in ("panel", "native"):
            served = stack.enter_context(server(app, app.parent, ENV[mode]))
            context = browser.new_context(viewport=VIEWPORT)
            first[mode] = first_paint_ms(context.new_page(), served.url, served.started)
            context.close()
            out[mode] = served
        yield out, first
