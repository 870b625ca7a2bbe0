"""Real-browser timings for the interaction measure: ``streamlit run`` servers on free loopback
ports, Chromium driven by Playwright, and the clock read inside the page.

Inside the page a keydown listener stamps the keypress and a MutationObserver waits for an
image whose ``src`` changes (or a new one) to load, then for the next animation frame: that
frame is the one that paints it. Servers are started here and always stopped here.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from aigc.bench.report import Figure, Target
from aigc.bench.timing import percentile, ratios

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SERVER_START_S = 120.0
PAINT_TIMEOUT_MS = 30_000
WARM_TABS = 5
IMAGE = '[data-testid="stMain"] img'
SLIDER = '[data-testid="stMain"] [data-testid="stSlider"] input[type="range"]'

# Stamps keydown (t0) and the frame after the next changed image has loaded (t1).
_WATCH = """() => {
  const b = (window.__bench = {t0: null, t1: null});
  document.addEventListener('keydown', () => { b.t0 = performance.now(); b.t1 = null; }, true);
  const painted = () => requestAnimationFrame(() => {
    if (b.t0 !== null && b.t1 === null) b.t1 = performance.now();
  });
  const watch = (img) => {
    if (b.t0 === null || b.t1 !== null) return;
    if (img.complete && img.naturalWidth) painted();
    else img.addEventListener('load', painted, {once: true});
  };
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.type === 'attributes' && r.target.tagName === 'IMG') watch(r.target);
      for (const n of r.addedNodes || []) {
        if (n.tagName === 'IMG') watch(n);
        else if (n.querySelectorAll) n.querySelectorAll('img').forEach(watch);
      }
    }
  }).observe(document.body, {subtree: true, childList: true, attributes: true,
                             attributeFilter: ['src']});
}"""
_FIRST_IMAGE_PAINTED = f"""() => {{
  const img = document.querySelector('{IMAGE}');
  return !!(img && img.complete && img.naturalWidth > 0);
}}"""


class BrowserError(Exception):
    """The browser part could not run; the message says why, in one line."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served(NamedTuple):
    url: str
    started: float  # perf_counter() when the process was started
    pid: int


@contextlib.contextmanager
def server(script: Path, root: Path, env: dict[str, str] | None = None) -> Iterator[Served]:
    """Run ``streamlit run script`` from `root` (importable as the package's home) on a free
    loopback port, with `env` over this process's environment; stop it on the way out,
    whatever happens."""
    port = free_port()
    env = {**os.environ, **(env or {}), "PYTHONPATH": str(root)}
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(script),
        "--server.port", str(port), "--server.address", "127.0.0.1",
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
    ]  # fmt: skip
    with tempfile.TemporaryFile() as log:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_for_port(port, proc, log)
            yield Served(f"http://127.0.0.1:{port}", started, proc.pid)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_for_port(port: int, proc: subprocess.Popen, log) -> None:
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            tail = log.read().decode(errors="replace").strip().splitlines()[-1:]
            raise BrowserError(f"streamlit exited with {proc.returncode}: {' '.join(tail)}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise BrowserError(f"streamlit did not listen on port {port} within {SERVER_START_S:g} s")


def first_paint_ms(page, url: str, started: float) -> float:
    """Open `url` in `page`; ms from `started` (a perf_counter()) to its first main-area
    image painted."""
    page.goto(url)
    page.wait_for_function(_FIRST_IMAGE_PAINTED, timeout=SERVER_START_S * 1000)
    return (time.perf_counter() - started) * 1000


def _new_tab_ms(chromium, url: str) -> float:
    """A visitor's first picture once the server is up and others have used it: a new
    context, so a new Streamlit session with nothing of its own cached."""
    context = chromium.new_context()
    try:
        return first_paint_ms(context.new_page(), url, time.perf_counter())
    finally:
        context.close()


def _move_ms(page, key: str) -> float:
    page.evaluate("() => { window.__bench.t1 = null; }")
    page.keyboard.press(key)
    page.wait_for_function("() => window.__bench.t1 !== null", timeout=PAINT_TIMEOUT_MS)
    return page.evaluate("() => window.__bench.t1 - window.__bench.t0")


@contextlib.contextmanager
def chromium() -> Iterator:
    """Headless Chromium with the bench's flags; any failure of the browser's becomes a
    BrowserError with one line that says why."""
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError as e:
        raise BrowserError(f"playwright not installed ({e})") from None
    if not Path(CHROMIUM).exists():
        raise BrowserError(f"no Chromium at {CHROMIUM}")
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                yield browser
            finally:
                browser.close()
    except PlaywrightError as e:
        raise BrowserError(f"browser: {str(e).splitlines()[0]}") from None


def figures(app: Path, static_app: Path, moves: int) -> list[Figure]:
    """Slider move -> image painted (Explore vs the one-slider static page, interleaved), and
    ``streamlit run`` -> first image painted for both."""
    with chromium() as browser:
        return _measure(browser, app, static_app, moves)


def _measure(chromium, app: Path, static_app: Path, moves: int) -> list[Figure]:
    pages, first, urls = {}, {}, {}
    with contextlib.ExitStack() as servers:
        # One server at a time up to its first paint, so neither start is timed with the other.
        for name, script, query in (("explore", app, ""), ("static", static_app, "/?sliders=1")):
            # Streamlit's own sliders: this measures the server's render path (the morph
            # panel's browser-side figures are the morph section's).
            native = {"AIGC_SLIDERS": "native"}
            url, started, _ = servers.enter_context(server(script, app.parent, native))
            urls[name] = url + query
            page = chromium.new_page()
            first[name] = first_paint_ms(page, urls[name], started)
            page.evaluate(_WATCH)
            page.locator(SLIDER).first.focus()
            pages[name] = page
        times: dict[str, list[float]] = {"explore": [], "static": []}
        for i in range(moves):
            key = "ArrowRight" if i % 2 == 0 else "ArrowLeft"  # stay inside the slider's range
            for name, page in pages.items():
                times[name].append(_move_ms(page, key))
        warm = [_new_tab_ms(chromium, urls["explore"]) for _ in range(WARM_TABS)]
    e, s = times["explore"], times["static"]
    return [
        Figure(
            "browser: streamlit run -> Explore's first image painted",
            "ms",
            [first["explore"]],
            Target("<=", 4000.0),
        ),
        Figure("browser: streamlit run -> static page's image painted", "ms", [first["static"]]),
        Figure(
            "browser: first image painted, Explore / static page",
            "x",
            [first["explore"] / first["static"]],
            Target("<=", 1.5),
            note="stretch 1.2",
        ),
        Figure(
            "browser: a new tab on the warm server -> Explore's first image painted",
            "ms",
            warm,
            Target("<=", 1500.0),
        ),
        Figure("browser: Explore slider move -> image painted", "ms", e),
        Figure("browser: Explore move -> painted p95", "ms", [percentile(e, 95)]),
        Figure("browser: static 1-slider move -> image painted", "ms", s),
        Figure("browser: Explore / static move -> painted", "x", ratios(e, s), Target("<=", 1.3)),
    ]
