"""The classroom's follow lag in real Chromium: a teacher on server A, followers on A and on a
second server B, both ``streamlit run`` processes on one PostgreSQL store, as a school runs two
replicas (docs/deploy.md).

The teacher types a new seed and presses Enter; each follower's page, untouched, repaints on
its own. The lag is from her keypress to the frame that paints the follower's new image, both
read as the browser's wall clock (``performance.timeOrigin + performance.now()``), which every
page of one browser shares. A PostgreSQL cluster of the bench's own is started and removed;
where it cannot start, both servers share a SQLite file and the figures say so.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

from aigc import classroom
from aigc.bench import postgres
from aigc.bench.browser import PAINT_TIMEOUT_MS, SERVER_START_S, Served, chromium, server
from aigc.bench.report import Figure, Target
from aigc.bench.timing import percentile, process_cpu_s

FOLLOWERS_PER_SERVER = 3
TEACHER_CHANGE_EVERY_S = 2.0
SETTLE_S = 3.0
IDLE_S = 10.0
MAIN = '[data-testid="stMain"]'

# Every image of the main area that loads, stamped with the frame that paints it.
_PAINTS = f"""() => {{
  window.__paints = [];
  const now = () => performance.timeOrigin + performance.now();
  const painted = () => requestAnimationFrame(() => window.__paints.push(now()));
  const watch = (img) => {{
    if (!img.closest('{MAIN}')) return;
    if (img.complete && img.naturalWidth) painted();
    else img.addEventListener('load', painted, {{once: true}});
  }};
  new MutationObserver((records) => {{
    for (const r of records) {{
      if (r.type === 'attributes' && r.target.tagName === 'IMG') watch(r.target);
      for (const n of r.addedNodes || []) {{
        if (n.tagName === 'IMG') watch(n);
        else if (n.querySelectorAll) n.querySelectorAll('img').forEach(watch);
      }}
    }}
  }}).observe(document.body, {{subtree: true, childList: true, attributes: true,
                              attributeFilter: ['src']}});
}}"""
_KEYDOWN = """() => {
  window.__pressed = null;
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') window.__pressed = performance.timeOrigin + performance.now();
  }, true);
}"""
_FIRST_IMAGE = f"""() => {{
  const img = document.querySelector('{MAIN} img');
  return !!(img && img.complete && img.naturalWidth > 0);
}}"""


@contextlib.contextmanager
def _store() -> Iterator[tuple[str, str]]:
    """(AIGC_DB_URL both servers and this process use, what it is): a PostgreSQL database of
    the bench's own, else a SQLite file."""
    with postgres.stores() as (urls, why):
        url, kind = urls[-1]
        if len(urls) == 1:
            kind = f"SQLite (no PostgreSQL: {why})"
        os.environ["AIGC_DB_URL"] = url  # the room is opened from here, in the servers' store
        yield url, kind


def _open(browser, url: str):
    page = browser.new_context().new_page()
    page.goto(url)
    page.wait_for_function(_FIRST_IMAGE, timeout=SERVER_START_S * 1000)
    return page


def _seed_box(page):
    return page.locator(MAIN).get_by_role("spinbutton", name=re.compile("Seed"))


def _lags(browser, urls: tuple[str, str], changes: int) -> tuple[dict[str, list[float]], int]:
    """Lags of the followers on the teacher's server ("same") and the other ("other"), and
    how many times a follower had not repainted within PAINT_TIMEOUT_MS or, at the end, did
    not show the teacher's seed."""
    opened = classroom.open_room("bench")
    code, token = opened.room.code, opened.teacher_token
    teacher = _open(browser, f"{urls[0]}/?room={code}&teacher={token}")
    followers = {
        side: [_open(browser, f"{url}/?room={code}") for _ in range(FOLLOWERS_PER_SERVER)]
        for side, url in zip(("same", "other"), urls, strict=True)
    }
    for page in (p for pages in followers.values() for p in pages):
        page.evaluate(_PAINTS)
    teacher.evaluate(_KEYDOWN)
    lags: dict[str, list[float]] = {"same": [], "other": []}
    missed = 0
    for i in range(changes):
        box = _seed_box(teacher)
        box.fill(str(500 + i))
        box.press("Enter")
        pressed = teacher.evaluate("() => window.__pressed")
        deadline = time.monotonic() + PAINT_TIMEOUT_MS / 1000
        for side, pages in followers.items():
            for page in pages:
                while True:
                    later = page.evaluate(f"() => window.__paints.filter(t => t > {pressed})")
                    if later:
                        lags[side].append(min(later) - pressed)
                        break
                    if time.monotonic() > deadline:
                        missed += 1
                        break
                    time.sleep(0.05)
        time.sleep(TEACHER_CHANGE_EVERY_S)
    last = str(500 + changes - 1)  # a repaint counts only if it showed the teacher's seed
    everyone = [teacher, *followers["same"], *followers["other"]]
    missed += sum(_seed_box(p).input_value() != last for p in everyone[1:])
    for page in everyone:
        page.context.close()
    return lags, missed


def _idle_cpu_s(browser, served: Served, query: str, tabs: int) -> float:
    """The server's CPU seconds over IDLE_S while `tabs` browser tabs at `query` sit idle."""
    pages = [_open(browser, f"{served.url}/{query}") for _ in range(tabs)]
    time.sleep(SETTLE_S)
    start = process_cpu_s(served.pid)
    time.sleep(IDLE_S)
    used = process_cpu_s(served.pid) - start
    for page in pages:
        page.context.close()
    return used


def figures(app: Path, changes: int, idle_tabs: int) -> list[Figure]:
    """Follow lag with FOLLOWERS_PER_SERVER browsers on each of two servers sharing a store,
    and the server CPU of `idle_tabs` tabs idly following against as many idle tabs."""
    with _store() as (url, kind), chromium() as browser:
        # Streamlit's pictures (not the morph panel's canvas): the lag is the server's path.
        env = {"AIGC_DB_URL": url, "AIGC_TRAIN_CORES": "1", "AIGC_SLIDERS": "native"}
        with server(app, app.parent, env) as a, server(app, app.parent, env) as b:
            code = classroom.open_room("bench").room.code
            lags, missed = _lags(browser, (a.url, b.url), changes)
            following = _idle_cpu_s(browser, b, f"?room={code}", idle_tabs)
            alone = _idle_cpu_s(browser, b, "", idle_tabs)
    n = FOLLOWERS_PER_SERVER
    where = {"same": "the teacher's server", "other": "a second server"}
    out = []
    for side, values in lags.items():
        name = f"browser, {n} followers on {where[side]}: teacher's Enter -> follower painted"
        out += [
            Figure(f"{name}, p50", "ms", [percentile(values, 50)] if values else [], note=kind),
            Figure(f"{name}, p95", "ms", [percentile(values, 95)] if values else [],
                   Target("<=", 1500.0), note=kind),
        ]  # fmt: skip
    idle = f"browser, {idle_tabs} tabs idle for {IDLE_S:g} s: server CPU"
    out += [
        Figure("browser followers: a change not shown", "count", [float(missed)],
               Target("<=", 0.0)),
        Figure(f"{idle}, following a room", "s", [following]),
        Figure(f"{idle}, no room", "s", [alone]),
    ]  # fmt: skip
    return out
