"""Measure 6 ("classroom"): how fast a class follows its teacher, and what following costs.

A room in a fresh SQLite store; one teacher and `n` followers, each an AppTest session of the
whole app in its own thread (browsers are too heavy for 30 on 2 cores). A follower does what
its page's poll does: every `room.POLL_S` it reads the teacher's view version from the store,
and on a new one reruns the app. The lag is from the start of the teacher's rerun that changes
the seed to the end of the follower's rerun that shows it, so it includes her own rerun and
the wait for the next poll, as a real follower's does. The CPU figure compares the server's CPU seconds for
30 sessions idly following (polling) against 30 idle sessions (which cost nothing).
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aigc import classroom
from aigc.bench import classroom_browser
from aigc.bench.browser import BrowserError
from aigc.bench.report import Figure, Mode, Section, Target
from aigc.bench.timing import percentile
from aigc.ui import room
from aigc.ui.bench.interaction import APP, PageNotReady, open_page
from aigc.ui.bench.load import one_runtime

NAME = "classroom"
SETTINGS: dict[Mode, tuple[tuple[int, ...], int]] = {  # follower counts, teacher changes
    "smoke": ((1,), 2),
    "quick": ((1, 10), 4),
    "full": ((1, 10, 30), 6),
}
CHANGE_EVERY_S = 2.0  # the teacher moves on after the class has had time to see it
IDLE_S = 10.0


@contextmanager
def fresh_store() -> Iterator[None]:
    """A store of its own for the measure, as `AIGC_DB_URL` would name one."""
    saved = os.environ.get("AIGC_DB_URL")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["AIGC_DB_URL"] = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        try:
            yield
        finally:
            if saved is None:
                os.environ.pop("AIGC_DB_URL", None)
            else:
                os.environ["AIGC_DB_URL"] = saved


def _lags(n: int, changes: int) -> tuple[list[float], list[str]]:
    opened = classroom.open_room("bench")
    code, token = opened.room.code, opened.teacher_token
    teacher, _ = open_page(APP, {"room": code, "teacher": token})
    published: dict[int, float] = {}
    lags: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    done = threading.Event()

    def follow() -> None:
        try:
            at, _ = open_page(APP, {"room": code})
            seen = classroom.current_view(code).version
            while not done.is_set():
                time.sleep(room.POLL_S)
                version = classroom.current_view(code).version
                if version != seen:
                    at.run()
                    with lock:
                        lags.append((time.perf_counter() - published[version]) * 1000)
                    seen = version
        except Exception as e:  # counted, the bench goes on
            with lock:
                failures.append(f"{type(e).__name__}: {e}".splitlines()[0])

    threads = [threading.Thread(target=follow, daemon=True) for _ in range(n)]
    for t in threads:
        t.start()
    time.sleep(3.0)  # every follower has loaded the page
    for i in range(changes):
        published[classroom.current_view(code).version + 1] = time.perf_counter()
        teacher.number_input(key="ex_seed").set_value(1000 + i).run()
        time.sleep(CHANGE_EVERY_S)
    done.set()
    for t in threads:
        t.join()
    return lags, failures


def _idle_cpu_s(n: int) -> float:
    """CPU seconds of this process while `n` followers poll a room that does not change."""
    code = classroom.open_room("idle").room.code
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            classroom.current_view(code)
            stop.wait(room.POLL_S)

    threads = [threading.Thread(target=poll, daemon=True) for _ in range(n)]
    start = time.process_time()
    for t in threads:
        t.start()
    time.sleep(IDLE_S)
    stop.set()
    for t in threads:
        t.join()
    return time.process_time() - start


def run(mode: Mode) -> Section:
    counts, changes = SETTINGS[mode]
    section = Section(NAME, "Classroom")
    with fresh_store(), one_runtime():
        try:
            for n in counts:
                lags, failures = _lags(n, changes)
                target = Target("<=", 1500.0) if n == 30 else None
                section.figures += [
                    Figure(f"{n} followers: teacher's change -> follower shows it, p50", "ms",
                           [percentile(lags, 50)] if lags else []),
                    Figure(f"{n} followers: teacher's change -> follower shows it, p95", "ms",
                           [percentile(lags, 95)] if lags else [], target),
                    Figure(f"{n} followers: failed reruns", "count", [float(len(failures))],
                           Target("<=", 0.0)),
                ]  # fmt: skip
                section.notes += [f"- failure ({n} followers): {f}" for f in failures[:3]]
        except PageNotReady as e:
            section.figures.append(Figure("follow lag", "ms", [], note=f"page not ready: {e}"))
            return section
        idle = _idle_cpu_s(30)
    if mode != "smoke":
        try:
            section.figures += classroom_browser.figures(APP, changes)
        except BrowserError as e:
            section.figures.append(Figure("browser follow lag", "ms", [], note=str(e)))
    section.figures.append(
        Figure(f"30 sessions idly following for {IDLE_S:g} s: CPU", "s", [idle],
               note="30 idle sessions without a room: 0 s")
    )  # fmt: skip
    section.notes.append(
        f"Followers poll every {room.POLL_S:g} s and rerun the whole app on a new view; the "
        f"teacher changes the seed every {CHANGE_EVERY_S:g} s. Both sides are AppTest sessions "
        "in this process, so the followers' reruns compete with the teacher's for the same 2 "
        "cores, as they would on one server. The browser figures (not in --smoke) are real "
        f"Chromium pages, {classroom_browser.FOLLOWERS_PER_SERVER} following on the teacher's "
        f"server and {classroom_browser.FOLLOWERS_PER_SERVER} on a second server sharing the "
        "store (PostgreSQL where it can start), the teacher typing a new seed."
    )
    return section
