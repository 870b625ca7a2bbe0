"""Measure 4 ("interaction"): how long a slider move takes to show, against a floor.

- Pixels: `aigc.render`'s one image and 64-image grid, the calls behind the page's pictures,
  for every shipped generator (`aigc.bench.render_speed`).
- AppTest: the rerun after a slider move on the Explore page (the app's first page) against
  ``scripts/static_slider_app.py`` with as many sliders, interleaved move by move. AppTest
  reruns the whole script, so the page's fragments get no credit here.
- Browser (full mode): keypress on a slider -> new image painted in Chromium, Explore against
  the one-slider static page; and ``streamlit run`` -> first image painted.

A page that does not load yet, or has no slider, is reported as "page not ready".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aigc.bench import browser, render_speed
from aigc.bench.report import Figure, Mode, Section, Target
from aigc.bench.timing import interleaved, percentile, ratios

NAME = "interaction"
ROOT = Path(__file__).resolve().parents[3]
APP = ROOT / "streamlit_app.py"
STATIC_APP = ROOT / "scripts" / "static_slider_app.py"
MOVED_SLIDERS = 4  # moves cycle over the first few sliders (directions, on Explore)


@dataclass(frozen=True)
class Settings:
    image_repeats: int
    moves: int  # AppTest slider moves per page
    browser_moves: int  # 0: no browser


SETTINGS: dict[Mode, Settings] = {
    "smoke": Settings(3, 3, 0),
    "quick": Settings(20, 20, 0),
    "full": Settings(30, 40, 15),
}


class PageNotReady(Exception):
    """The page failed to load or has nothing to move; the message says which."""


def open_page(path: Path, query: dict[str, str] | None = None):
    """Load a page in AppTest; return (AppTest, first-run ms). Raises PageNotReady."""
    from streamlit import config
    from streamlit.testing.v1 import AppTest

    # The app hides error details from visitors; the bench must say why a page failed.
    config.set_option("client.showErrorDetails", "full")
    if not path.exists():
        raise PageNotReady(f"{path.name} does not exist")
    at = AppTest.from_file(str(path), default_timeout=120)
    at.query_params.update(query or {})
    t0 = time.perf_counter()
    try:
        at.run()
    except Exception as e:  # an import error in a page under construction, a timeout ...
        raise PageNotReady(f"{path.name}: {type(e).__name__}: {e}".splitlines()[0]) from None
    ms = (time.perf_counter() - t0) * 1000
    _check(at, path)
    if not any(_scalar(s) for s in at.slider):
        raise PageNotReady(f"{path.name}: no slider on its first page")
    return at, ms


def _check(at, path: Path) -> None:
    if at.exception:
        raise PageNotReady(f"{path.name}: {at.exception[0].message}".splitlines()[0])


def _scalar(slider) -> bool:
    return isinstance(slider.value, int | float)


def _new_value(slider, round_: int) -> float:
    """A value on the slider's grid, different from the current one."""
    lo, hi, step = slider.min, slider.max, slider.step or 1
    for frac in (0.25, 0.75, 0.5, 0.0, 1.0)[round_ % 5 :] + (0.25, 0.75):
        value = lo + round((hi - lo) * frac / step) * step
        value = int(value) if isinstance(slider.value, int) else float(value)
        if value != slider.value:
            return value
    return lo


def mover(at, path: Path) -> Callable[[int], float]:
    """A side for timing.interleaved: move one of the first sliders, return the rerun's ms."""

    def move(round_: int) -> float:
        sliders = [s for s in at.slider if _scalar(s)][:MOVED_SLIDERS]
        if not sliders:
            raise PageNotReady(f"{path.name}: no slider left after the last rerun")
        slider = sliders[round_ % len(sliders)]
        value = _new_value(slider, round_)
        t0 = time.perf_counter()
        slider.set_value(value).run()
        ms = (time.perf_counter() - t0) * 1000
        _check(at, path)
        return ms

    return move


def apptest_figures(moves: int) -> list[Figure]:
    explore, explore_first = open_page(APP)
    n = sum(1 for s in explore.slider if _scalar(s))
    static, static_first = open_page(STATIC_APP, {"sliders": str(n)})
    times = interleaved(
        {"explore": mover(explore, APP), "static": mover(static, STATIC_APP)}, moves
    )
    e, s = times["explore"], times["static"]
    return [
        Figure("Explore: first run (AppTest)", "ms", [explore_first]),
        Figure(f"static {n}-slider page: first run (AppTest)", "ms", [static_first]),
        Figure("Explore: rerun after a slider move (AppTest)", "ms", e),
        Figure("Explore: rerun p95 (AppTest)", "ms", [percentile(e, 95)]),
        Figure(f"static {n}-slider page: rerun after a move (AppTest)", "ms", s),
        Figure(f"static {n}-slider page: rerun p95 (AppTest)", "ms", [percentile(s, 95)]),
        Figure(
            "Explore / static: rerun", "x", ratios(e, s), Target("<=", 1.5), note="move by move"
        ),
    ]


def run(mode: Mode) -> Section:
    s = SETTINGS[mode]
    section = Section(NAME, "Interaction")
    figures, notes = render_speed.figures(s.image_repeats)
    section.figures += figures
    section.notes += notes
    try:
        section.figures += apptest_figures(s.moves)
    except PageNotReady as e:
        section.figures.append(
            Figure(
                "Explore: rerun after a slider move (AppTest)",
                "ms",
                [],
                note=f"page not ready: {e}",
            )
        )
    if s.browser_moves:
        section.spawns = "the Streamlit servers and Chromium it starts"
        try:
            section.figures += browser.figures(APP, STATIC_APP, s.browser_moves)
        except browser.BrowserError as e:
            section.figures.append(
                Figure("browser: slider move -> image painted", "ms", [], note=str(e))
            )
    section.notes.append(
        f"{render_speed.NOTE} AppTest moves cycle over the first {MOVED_SLIDERS} sliders of each "
        "page; the static page has as many sliders as Explore and draws one picture without a "
        "model, so Explore / static is the cost of the model and the page's own work."
    )
    return section
