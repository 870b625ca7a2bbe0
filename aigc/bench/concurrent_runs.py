"""Measure "concurrent-runs": how many live runs this machine trains at once while each still
shows recognisable samples within the Train page's budget, and what a class gains by watching
its teacher's one run instead of starting 30.

Runs go through a :class:`aigc.runs.RunManager`, as the page's do: conditional MNIST GANs with
the page's recipe and 20 s budget, every snapshot scored by the shipped classifier. Each run's
owner polls its view every `train_live.REFRESH_S` (0.5 s), as the page does, and the figure is
the wall time from pressing "Train" to the first poll that shows a snapshot at least 80 %
classifier agreement: queue wait, contention and the poll interval included, which is what the
person in front of the page waits for.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from aigc import recipes
from aigc.bench.live import PAGE_SECONDS
from aigc.bench.report import NOT_REACHED, Figure, Mode, Section, Target
from aigc.bench.training_speed import GAN_AGREEMENT
from aigc.cpu import env_count
from aigc.metrics import agreement_scorer
from aigc.runs import RunManager, default_max_runs
from aigc.weights import load_shipped

NAME = "concurrent-runs"
POLL_S = 0.5  # the Train page's refresh (aigc/ui/train_live.py REFRESH_S)


def rank(values: list[float], q: float) -> float:
    """The nearest-rank percentile: one of the values, so a run that never got there reads
    "not reached" instead of an interpolation with infinity."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


@dataclass(frozen=True)
class Settings:
    at_once: tuple[int, ...]  # runs started together, each with a slot of its own
    class_size: int  # runs started by a class that does not watch one run


SETTINGS: dict[Mode, Settings] = {
    "smoke": Settings((1,), 2),
    "quick": Settings((1, 3), 6),
    "full": Settings((1, 2, 3, 4, 6), 30),
}


def _race(runs: int, cap: int, watchers: int = 1, seconds: float = PAGE_SECONDS) -> list[float]:
    """Start `runs` live runs at once under a cap of `cap`; return, per watcher of each run,
    the seconds from the start to the first view showing recognisable samples (NOT_REACHED
    if the run ended first). `watchers` pollers share each run, as a room's class does."""
    manager = RunManager(cap, cores=env_count("AIGC_TRAIN_CORES"))
    scorer = agreement_scorer(load_shipped("classifier_mnist"))
    start = time.perf_counter()
    ids = [
        recipes.submit_live(manager, "gan", "mnist", seed=i, scorer=scorer, seconds=seconds)
        for i in range(runs)
    ]
    seen: list[float] = []
    lock = threading.Lock()

    def watch(run_id: str) -> None:
        while True:
            view = manager.view(run_id)
            if any(s.score is not None and s.score >= GAN_AGREEMENT for s in view.snapshots):
                t = time.perf_counter() - start
                break
            if view.ended:
                t = NOT_REACHED
                break
            time.sleep(POLL_S)
        with lock:
            seen.append(t)

    threads = [
        threading.Thread(target=watch, args=(run_id,), daemon=True)
        for run_id in ids
        for _ in range(watchers)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    manager.shutdown()
    return seen


def run(mode: Mode) -> Section:
    s = SETTINGS[mode]
    seconds = 1.0 if mode == "smoke" else PAGE_SECONDS
    section = Section(NAME, "Concurrent live runs")
    for k in s.at_once:
        times = _race(k, cap=k, seconds=seconds)
        reached = [t for t in times if t != NOT_REACHED]
        section.figures += [
            Figure(f"{k} at once: runs recognisable within the budget", "frac",
                   [len(reached) / len(times)]),
            Figure(f"{k} at once: s to recognisable, median", "s", [rank(times, 50)]),
            Figure(f"{k} at once: s to recognisable, slowest", "s", [max(times)]),
        ]  # fmt: skip
    cap = default_max_runs()
    n = s.class_size
    own = _race(n, cap=cap, seconds=seconds)
    watched = _race(1, cap=cap, watchers=n, seconds=seconds)
    section.figures += [
        Figure(f"class of {n}, one run each (cap {cap}): s to recognisable, median", "s",
               [rank(own, 50)]),
        Figure(f"class of {n}, one run each (cap {cap}): s to recognisable, p95", "s",
               [rank(own, 95)]),
        Figure(f"class of {n} watching one run: s to recognisable, p95", "s",
               [rank(watched, 95)], Target("<=", PAGE_SECONDS)),
    ]  # fmt: skip
    section.notes.append(
        f"Conditional MNIST GANs with the Train page's recipe and a {seconds:g} s budget, through "
        f"a RunManager on {env_count('AIGC_TRAIN_CORES')} cores; 'recognisable' = a snapshot "
        f"with at least {GAN_AGREEMENT:.0%} classifier agreement, seen by a poll every "
        f"{POLL_S:g} s; times are wall seconds from the start, queue wait included. 'k at once' "
        "gives each run a slot; the class figures use the server's default cap "
        "(aigc.runs.default_max_runs, set from these figures), so the rest of the class waits "
        "in the queue, as it would on the page."
    )
    return section
