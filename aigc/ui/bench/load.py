"""Measure 5 ("load", full mode): many sessions moving sliders while live runs train.

30 AppTest sessions of the app, each in its own thread, move sliders while two live trainings
(a GAN and a VAE, one thread each at a lower priority, as the page's run manager runs them on
2 cores) run in threads. Then, separately so that tracing does not slow the timed reruns, the
same sessions run under ``tracemalloc`` to see whether the Python heap returns to where it was
once they close. Peak RSS is sampled from /proc while the sessions run.
"""

from __future__ import annotations

import gc
import random
import threading
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from aigc.bench.report import Figure, Mode, Section, Target
from aigc.bench.timing import percentile
from aigc.bench.trainings import live_trainings
from aigc.ui.bench.interaction import APP, PageNotReady, mover, open_page

NAME = "load"
# Seconds a session waits before each move: Streamlit reruns on a slider's release, and a person
# looks at the new picture before moving again, so 30 sessions ask for ~15 reruns a second.
THINK_S = (1.0, 3.0)


@dataclass(frozen=True)
class Settings:
    sessions: int
    moves: int  # timed moves per session
    heap_moves: int  # moves per session in the traced pass


SETTINGS: dict[Mode, Settings] = {
    "smoke": Settings(2, 2, 1),
    "quick": Settings(0, 0, 0),  # full mode only: it takes minutes
    "full": Settings(30, 6, 2),
}


class RssPeak:
    """Peak resident set size of this process, sampled every 50 ms in a thread."""

    def __init__(self) -> None:
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.peak_mb = max(self.peak_mb, rss_mb())

    def __enter__(self) -> RssPeak:
        self.peak_mb = rss_mb()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextmanager
def one_runtime() -> Iterator[None]:
    """Give concurrent AppTest sessions the one Runtime and script cache a real server has.

    Why: AppTest drives one session at a time. Each run installs a mock Runtime as the
    process-wide singleton, clears it when done, and patches ``config.get_option`` meanwhile;
    with sessions in threads, one session's end pulls the Runtime from under another's run
    (``st.image`` then raises "Runtime hasn't been created!"), an error no server has. Each run
    also compiles the script afresh, and CPython 3.11's compiler run from many threads at once
    fails ("AST constructor recursion depth mismatch"); a server compiles it once. And a run
    whose ``global.appTest`` patch another session's exit has just undone does not record its
    widgets' format functions, so the harness's next move fails with a KeyError on them. Here
    ``Runtime.instance`` / ``exists`` fall back to one pinned mock, ``global.appTest`` reads
    True throughout, and every run shares one script cache while the load runs; all are put
    back after. Components (st.components.v2) look their definitions up on whichever Runtime
    is current, so every session and the pinned mock share one component registry too.
    """
    from unittest.mock import MagicMock

    from streamlit import config
    from streamlit.components.v2.component_manager import BidiComponentManager
    from streamlit.runtime import Runtime
    from streamlit.runtime.caching.storage.dummy_cache_storage import (
        MemoryCacheStorageManager,
    )
    from streamlit.runtime.media_file_manager import MediaFileManager
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache
    from streamlit.testing.v1 import app_test, local_script_runner

    pinned = MagicMock(spec=Runtime)
    pinned.media_file_mgr = MediaFileManager(MemoryMediaFileStorage("/mock/media"))
    pinned.cache_storage_manager = MemoryCacheStorageManager()
    components = BidiComponentManager()
    components.discover_and_register_components(start_file_watching=False)
    pinned.bidi_component_registry = components
    script_cache = ScriptCache()
    saved = Runtime.__dict__["instance"], Runtime.__dict__["exists"], config.get_option
    get_option = config.get_option
    Runtime.instance = classmethod(lambda cls: cls._instance or pinned)
    Runtime.exists = classmethod(lambda cls: True)
    config.get_option = lambda key: True if key == "global.appTest" else get_option(key)
    app_test.ScriptCache = local_script_runner.ScriptCache = lambda: script_cache
    app_test.BidiComponentManager = lambda: components
    try:
        yield
    finally:
        Runtime.instance, Runtime.exists, config.get_option = saved
        app_test.ScriptCache = local_script_runner.ScriptCache = ScriptCache
        app_test.BidiComponentManager = BidiComponentManager


@dataclass
class Crowd:
    """What a round of sessions saw."""

    times: list[float]  # ms of every rerun after a move
    failures: list[str]
    move_seconds: float  # wall-clock time from the common start of the moves to the last one

    @property
    def served_per_s(self) -> float:
        return len(self.times) / max(self.move_seconds, 1e-9)


def sessions(app: Path, n: int, moves: int, think: tuple[float, float] = (0.0, 0.0)) -> Crowd:
    """`n` sessions in threads, each loading `app` then moving sliders `moves` times, all
    starting together, each pausing a random `think` (min, max) seconds before every move, as a
    person looks at the picture before moving again."""
    times: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    started: list[float] = []
    start = threading.Barrier(n, action=lambda: started.append(time.perf_counter()))

    def session(index: int) -> None:
        try:
            at, _ = open_page(app)
        except PageNotReady as e:
            with lock:
                failures.append(str(e))
            start.abort()
            return
        try:
            start.wait()
            move = mover(at, app)
            rng = random.Random(index)  # the same pauses in every run of the bench
            for i in range(moves):
                time.sleep(rng.uniform(*think))
                ms = move(i)
                with lock:
                    times.append(ms)
        except threading.BrokenBarrierError:
            return
        except Exception as e:  # a failed rerun: the figure counts it, the bench goes on
            with lock:
                failures.append(f"{type(e).__name__}: {e}".splitlines()[0])

    threads = [threading.Thread(target=session, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    moving = time.perf_counter() - started[0] if started else 0.0
    return Crowd(times, failures, moving)


@dataclass
class Heap:
    """Python heap traced by tracemalloc over one round of sessions, in MB."""

    before: float  # after one warm-up session: the server's caches are in
    peak: float  # while the sessions were open
    after: float  # once they closed and the garbage was collected
    failures: list[str]

    @property
    def retained(self) -> float:
        """Share of what the sessions took at their peak that is still held after they close."""
        return (self.after - self.before) / max(self.peak - self.before, 1e-9)


def heap_over_sessions(app: Path, n: int, moves: int) -> Heap:
    """Trace the heap from before a warm-up session (so the caches it fills count in the
    baseline) through `n` sessions of `moves` moves each, until they are gone."""
    mb = 2**20
    tracemalloc.start()
    try:
        sessions(app, 1, moves)
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        failures = sessions(app, n, moves).failures
        peak = tracemalloc.get_traced_memory()[1]
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return Heap(before / mb, peak / mb, after / mb, failures)


def run(mode: Mode) -> Section:
    s = SETTINGS[mode]
    section = Section(NAME, "Load")
    if not s.sessions:
        section.notes.append("Not run in this mode (full mode only).")
        return section
    try:
        open_page(APP)  # loads the shipped models into the server-wide cache
    except PageNotReady as e:
        section.figures.append(Figure("rerun under load", "ms", [], note=f"page not ready: {e}"))
        return section
    with one_runtime(), live_trainings(seconds=3600) as training_errors, RssPeak() as rss:
        alone = sessions(APP, 1, s.moves)  # the trainings' share of a rerun's time
        crowd = sessions(APP, s.sessions, s.moves, THINK_S)
        burst = sessions(APP, s.sessions, s.moves)
        heap = heap_over_sessions(APP, s.sessions, s.heap_moves)
    failures = alone.failures + crowd.failures + burst.failures + heap.failures
    failures += [f"training: {e}" for e in training_errors]
    section.figures += _figures(s.sessions, alone, crowd, burst, heap, rss, failures)
    section.notes += [f"- failure: {f}" for f in failures[:5]]
    section.notes.append(
        f"Each session: AppTest of the app, {s.moves} slider moves (timed passes), "
        f"{s.heap_moves} (traced pass); the two trainings run throughout. In the timed pass "
        f"each session pauses {THINK_S[0]:g}-{THINK_S[1]:g} s (random, seeded) before each "
        "move, as a person looks at the picture before moving again; the worst-case pass "
        "moves with no pauses at all. tracemalloc "
        "starts just before the traced pass (tracing would slow the timed one), so 'before' is "
        "what the server came to hold from then on, not the whole process; the target is read "
        "as: of what the sessions took, at most 10% is still held once they close. The "
        "AppTest clients run in the server's process (a browser would not), so their own work "
        "counts against the server's."
    )
    return section


def _figures(
    n: int, alone: Crowd, crowd: Crowd, burst: Crowd, heap: Heap, rss: RssPeak, failures: list[str]
) -> list[Figure]:
    times = crowd.times
    return [
        Figure("1 session + 2 trainings: rerun", "ms", alone.times),
        Figure(
            f"{n} sessions + 2 trainings: rerun p95",
            "ms",
            [percentile(times, 95)] if times else [],
            Target("<=", 150.0),
        ),
        Figure(f"{n} sessions + 2 trainings: rerun", "ms", times),
        Figure(f"{n} sessions + 2 trainings: reruns served", "per s", [crowd.served_per_s]),
        Figure(
            f"{n} sessions, no pauses (worst case): rerun p95",
            "ms",
            [percentile(burst.times, 95)] if burst.times else [],
        ),
        Figure(f"{n} sessions, no pauses: reruns served", "per s", [burst.served_per_s]),
        Figure("failed reruns", "count", [float(len(failures))], Target("<=", 0.0)),
        Figure("peak RSS during the sessions", "MB", [rss.peak_mb]),
        Figure("traced heap before the sessions", "MB", [heap.before]),
        Figure("traced heap at the sessions' peak", "MB", [heap.peak]),
        Figure("traced heap after they closed", "MB", [heap.after]),
        Figure(
            "share of the sessions' heap still held after close",
            "x",
            [heap.retained],
            Target("<=", 0.10),
        ),
    ]
