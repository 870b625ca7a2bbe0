"""Measure "morph": Explore's morph panel against Streamlit's own sliders, in one run.

- Drag: a 1.5 s mouse drag back and forth across a direction slider in Chromium:
  frames painted per second (the panel: canvas repaints; native: distinct pictures decoded
  in the main area) and websocket frames the page sends between mouse down and up.
- Server CPU per 100 gestures (a drag or a key press, each ending in a release), read from
  each server's /proc entry over the gestures and what each release costs it (native: a
  rerun; the panel: a post to the session's desk), and the messages a page sends per gesture.
- A crowd: a few real Chromium pages taking turns to drag while AppTest sessions in this
  process move sliders too, standing for the rest of 30 sessions; release -> the server's
  word back (native: its new picture; the panel: its desk's answer, the link), and for the
  panel input -> canvas painted.
- First paint with the panel on by default: ``streamlit run`` -> first picture, and a new tab
  on the warm server -> first picture and -> panel live (runtime and graph downloaded).

The browser parts are `aigc.bench.morph_browser`; this module adds the AppTest stand-ins.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from aigc.bench import morph_browser as mb
from aigc.bench.browser import BrowserError, chromium
from aigc.bench.report import Figure, Mode, Section, Target
from aigc.bench.timing import percentile
from aigc.render import DIRECTIONS
from aigc.ui.bench.interaction import APP, PageNotReady, open_page
from aigc.ui.bench.load import THINK_S, Crowd, one_runtime, sessions

NAME = "morph"
SESSIONS = 30  # the crowd the issue asks about: browsers + AppTest stand-ins
DRAG_S = 1.5
CROWD_DRAG_S = 0.5
CROWD_THINK_S = 0.3  # between one page's release and the next page's press


@dataclass(frozen=True)
class Settings:
    rounds: int  # per side: one drag of DRAG_S and `keys` key presses a round, interleaved
    keys: int
    tabs: int  # new tabs on each warm server
    browsers: int  # real pages in the crowd
    standins: int  # AppTest sessions beside them
    crowd_rounds: int  # drags per page in the crowd


SETTINGS: dict[Mode, Settings] = {
    "smoke": Settings(1, 1, 1, 1, 1, 1),  # the machinery only: one of each
    "quick": Settings(2, 3, 2, 3, 7, 2),
    "full": Settings(8, 6, 5, 3, SESSIONS - 3, 8),
}


def _p95(values: list[float]) -> list[float]:
    return [percentile(values, 95)] if values else []


def _per_100(g: mb.Gestures) -> list[float]:
    return [100 * g.cpu_s / g.gestures] if g.gestures else []


def _standins(n: int, seconds: float) -> tuple[threading.Thread, list[Crowd]]:
    """`n` AppTest sessions moving Streamlit's sliders with people's pauses for about
    `seconds`, in a thread; the list gets what they saw once it ends."""
    moves = max(1, round(seconds / (sum(THINK_S) / 2)))
    out: list[Crowd] = []
    thread = threading.Thread(
        target=lambda: out.append(sessions(APP, n, moves, THINK_S)), daemon=True
    )
    thread.start()
    return thread, out


def _crowds(browser, served: dict[str, mb.Served], s: Settings) -> dict[str, tuple]:
    """Per mode: (the browsers' gestures, the stand-ins' Crowd)."""
    out = {}
    seconds = s.crowd_rounds * s.browsers * (CROWD_DRAG_S + CROWD_THINK_S + 0.3)
    for mode in mb.MODES:
        sides = [mb.Side(browser, served[mode], mode).open() for _ in range(s.browsers)]
        thread, standins = _standins(s.standins, seconds)
        g = mb.crowd(sides, s.crowd_rounds, CROWD_DRAG_S, CROWD_THINK_S)
        thread.join()
        out[mode] = g, standins[0] if standins else Crowd([], ["stand-ins did not finish"], 0)
    return out


def _measure(s: Settings) -> tuple[list[Figure], list[str]]:
    with chromium() as browser, mb.servers(APP, browser) as (served, first):
        tabs: dict[str, list[tuple[float, float | None]]] = {m: [] for m in mb.MODES}
        for _ in range(s.tabs):  # interleaved, panel then native
            for mode in mb.MODES:
                tabs[mode].append(mb.new_tab(browser, served[mode], mode))
        sides = {mode: mb.Side(browser, served[mode], mode).open() for mode in mb.MODES}
        g = {mode: mb.Gestures() for mode in mb.MODES}
        for r in range(s.rounds):  # a direction slider a round: each gesture a new look
            for mode, side in sides.items():
                mb.gestures(side, g[mode], 1, DRAG_S, s.keys, r % DIRECTIONS)
        for mode, side in sides.items():
            mb.finish(side, g[mode])
        with one_runtime():
            crowds = _crowds(browser, served, s)
    return _figures(s, first, tabs, g, crowds)


def _figures(s: Settings, first, tabs, g, crowds) -> tuple[list[Figure], list[str]]:
    p, n = g["panel"], g["native"]
    figures = [
        Figure(f"panel: frames painted per s during a {DRAG_S:g} s drag", "per s", p.drag_fps,
               Target(">=", 30.0), note="stretch 60"),
        Figure(f"native: distinct pictures painted per s during a {DRAG_S:g} s drag", "per s",
               n.drag_fps),
        Figure("panel: websocket frames sent during a drag", "count", p.drag_sent,
               Target("<=", 3.0)),
        Figure("native: websocket frames sent during a drag", "count", n.drag_sent),
        Figure("panel: input -> canvas painted, p95 (drags above)", "ms", _p95(p.input_paint_ms)),
        Figure("panel: release -> the desk's answer (the link), p95 (alone)", "ms",
               _p95(p.answers_ms)),
        Figure("native: release -> new picture painted, p95 (alone)", "ms", _p95(n.answers_ms)),
        Figure("panel: websocket frames sent per gesture, release included", "count",
               [p.frames_sent / p.gestures] if p.gestures else []),
        Figure("panel: posts to the desk per gesture", "count",
               [p.posts / p.gestures] if p.gestures else []),
        Figure("native: websocket frames sent per gesture, release included", "count",
               [n.frames_sent / n.gestures] if n.gestures else []),
        Figure("panel: server CPU per 100 gestures", "s", _per_100(p),
               note=f"{p.gestures} gestures"),
        Figure("native: server CPU per 100 gestures", "s", _per_100(n),
               note=f"{n.gestures} gestures"),
        Figure("server CPU per gesture, panel / native", "x",
               [p.cpu_s / p.gestures / (n.cpu_s / n.gestures)] if p.gestures and n.cpu_s else [],
               Target("<=", 0.3)),
    ]  # fmt: skip
    total = s.browsers + s.standins
    for mode, (crowd, standins) in crowds.items():
        who = f"{s.browsers} browser{'s' * (s.browsers > 1)} + {s.standins} AppTest ({mode})"
        figures += [
            Figure(f"{who}: release -> the server's word back, p95", "ms", _p95(crowd.answers_ms),
                   note=f"{len(crowd.answers_ms)} of {crowd.gestures} browser gestures"),
            Figure(f"{who}: AppTest stand-ins' rerun p95", "ms", _p95(standins.times)),
            Figure(f"{total} sessions ({mode}): failed reruns", "count",
                   [float(crowd.failed + len(standins.failures))], Target("<=", 0.0)),
        ]  # fmt: skip
        if mode == "panel":
            figures.insert(
                -2,
                Figure(f"{who}: input -> canvas painted, p95", "ms", _p95(crowd.input_paint_ms)),
            )
    for mode in mb.MODES:
        figures.append(
            Figure(f"{mode}: streamlit run -> Explore's first picture painted", "ms",
                   [first[mode]], Target("<=", 4000.0) if mode == "panel" else None)
        )  # fmt: skip
    for mode in mb.MODES:
        figures.append(
            Figure(f"{mode}: new tab on the warm server -> first picture painted", "ms",
                   [t[0] for t in tabs[mode]], Target("<=", 1500.0) if mode == "panel" else None)
        )  # fmt: skip
    figures.append(
        Figure("panel: new tab on the warm server -> panel live (canvas painted)", "ms",
               [t[1] for t in tabs["panel"] if t[1] is not None])
    )  # fmt: skip
    failures = [f for _, standins in crowds.values() for f in standins.failures]
    return figures, [f"- failure: {f}" for f in failures[:5]]


def run(mode: Mode) -> Section:
    s = SETTINGS[mode]
    section = Section(NAME, "Morph panel")
    section.spawns = "the two Streamlit servers and Chromium it starts"
    load = [round(x, 1) for x in os.getloadavg()]
    try:
        open_page(APP)  # the stand-ins' models into this process's cache, before any timing
        figures, failures = _measure(s)
    except (PageNotReady, BrowserError) as e:
        section.figures.append(Figure("morph panel", "ms", [], note=f"not run: {e}"))
        return section
    section.figures += figures
    section.notes += failures
    section.notes += [
        "- " + _NOTES.format(s=s, total=s.browsers + s.standins, drag=DRAG_S),
        f"- Load average (1, 5, 15 min) at the section's start {load}, at its end "
        f"{[round(x, 1) for x in os.getloadavg()]}: on 2 cores, above 2 means this run "
        "queued behind other work, and the ratios are the figures to read.",
        "- " + _WHY,
    ]
    return section


_NOTES = (
    "Two `streamlit run` servers of the app, each started alone up to its first picture: one "
    "with the morph panel (the default; it starts on Streamlit's sliders while a hidden panel "
    "loads, then switches) and one with `?sliders=native`. Then, side by side and interleaved "
    "round by round: {s.tabs} new tab(s) on each warm server; {s.rounds} round(s) of one "
    "{drag:g} s mouse drag (one move per display frame, back and forth over 80% of a direction "
    "slider's track, ~1.5 slider steps a move; another slider each round) and {s.keys} "
    "right-arrow press(es) on it, on each side, each gesture waited for until the server's "
    "word on it came back and 0.4 s more; every gesture makes a look not rendered before, so "
    "the picture cache serves neither side. The server's word: native, its new picture "
    "(a rerun); the panel, its desk's answer to the release's post (the link, which the "
    "browser writes into the address bar; no rerun). "
    "Frames painted are animation frames at which the picture changed (the panel's canvas "
    "counter; native: a new main-area image decoded); websocket frames and posts are those "
    "Playwright saw the page send. Server CPU is read from /proc of each server over all its "
    "gestures, idle waits included (both sides alike). The crowd: "
    "{s.browsers} Chromium pages (what 2 cores carry beside two servers and the stand-ins) "
    "take turns dragging for 0.5 s, 0.3 s apart, {s.crowd_rounds} drag(s) each, while "
    "{s.standins} AppTest sessions in the bench's own process (not the servers') move "
    "Streamlit's sliders every 1-3 s, standing for the rest of {total} sessions: they load the "
    "same 2 cores, not the server's queue, and share the GIL with the Playwright driver, so "
    "the browsers' mouse moves are less even than in the drag figures. 'Release -> the "
    "server's word back' is from pointerup (or keydown) to the first animation frame after "
    "it arrived. Input -> canvas painted is from each `input` event to the next frame with a "
    "canvas repaint (the graph's picture and verdict)."
)

_WHY = (
    "Why the targets that miss do (tried: measured, not tuned). Server CPU per gesture is met "
    "by asking the server for no rerun on a release: the browser has painted the look and "
    "judged it (the classifier and the discriminator are in the graph), the desk takes the "
    "values and answers with the link, and the page takes them at its next run. First "
    "paint and the new tab: the panel changes little of them (the page starts on Streamlit's "
    "sliders; the hidden panel is drawn last, and the server's boot exports the first graph), "
    "so compare each with the native side's; on this machine a new browser context and "
    "Streamlit's frontend alone take over a second of the new tab. Panel "
    "live adds the runtime (3.7 MB gzip on the wire, 14 MB of WebAssembly to compile), the "
    "graph, and one more rerun (probe -> live). Frames per second: the drag moves the mouse "
    "once per display frame, so 60 is the ceiling by construction, and a move that lands on "
    "the same slider step paints nothing new."
)
