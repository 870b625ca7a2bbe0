"""Live training runs shared by every session of a server: a cap, a FIFO queue, a CPU budget.

A browser tab asks for a run and then polls it; the run trains in a background thread, so a
slow page or a closed tab never holds up training and training never holds up the page. One
:class:`RunManager` serves the whole server, because a cap on concurrent runs means nothing
unless every session counts against the same one. Each run keeps a bounded history (loss
points and sample-grid snapshots) for the page's curves and timeline slider.

Tabs close without saying so, so ownership is a lease: every :meth:`RunManager.view` is a
poll, and a run nobody has polled for ``idle_timeout`` seconds is stopped and forgotten,
which frees its slot for the next run in the queue.
"""

from __future__ import annotations

import atexit
import copy
import heapq
import logging
import os
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import torch
from torch import nn

from aigc import data
from aigc.cpu import env_count, lower_priority
from aigc.training import Divergence, Finish, Progress, TrainConfig, TrainingRun

_log = logging.getLogger(__name__)

MAX_SNAPSHOTS = 200  # ~80 KB each (100 samples of 28x28): 16 MB for a run's whole timeline
MAX_CURVE_POINTS = 2000
IDLE_TIMEOUT_S = 60.0
# Live GANs at once per core that each still show recognisable digits well inside the Train
# page's 20 s budget, with room left for the page's own reruns (bench section concurrent-runs).
RUNS_PER_CORE = 1.5

Scorer = Callable[[np.ndarray, np.ndarray], float | None]

# Every manager, so that workers can be stopped before the interpreter exits: a daemon thread
# killed in the middle of a torch op aborts the process ("terminate called without an active
# exception").
_MANAGERS: weakref.WeakSet[RunManager] = weakref.WeakSet()


class Status(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"  # used its whole budget
    STOPPED = "stopped"  # stopped by its owner, by release, or because nobody polled it
    DIVERGED = "diverged"  # a loss or weight went NaN/Inf; the last good weights are kept
    FAILED = "failed"  # the training loop raised; RunView.error says what


ENDED = frozenset({Status.FINISHED, Status.STOPPED, Status.DIVERGED, Status.FAILED})
STATUS_OF_FINISH = {
    Finish.STEPS: Status.FINISHED,
    Finish.TIME: Status.FINISHED,
    Finish.STOPPED: Status.STOPPED,
    Finish.DIVERGED: Status.DIVERGED,
}


class UnknownRun(KeyError):
    """The run id was never issued, was released, or expired because nobody polled it."""


@dataclass(frozen=True)
class Snapshot:
    """One point of the timeline: the fixed-noise grid at a step, and what it scored."""

    step: int
    elapsed: float
    samples: np.ndarray  # (N, 28, 28) uint8, read-only
    labels: np.ndarray  # (N,) class each sample was drawn for, -1 if unconditional
    score: float | None  # classifier agreement of samples with labels; None if not scored
    images_per_s: float = 0.0  # training throughput up to this step


@dataclass(frozen=True)
class CurvePoint:
    step: int
    elapsed: float
    losses: dict[str, float]


@dataclass(frozen=True)
class RunView:
    """A consistent copy of a run's state at one poll: safe to read without any lock."""

    run_id: str
    status: Status
    divergence: Divergence | None  # what went non-finite, and when; set when DIVERGED
    error: str | None  # "ExceptionType: message" when FAILED, for the log and a bug report
    queue_position: int | None  # 1 = next to start; None unless queued
    wait_s: float | None  # queued: seconds until it starts, if the runs ahead tell; else None
    step: int
    elapsed: float  # seconds of training, pauses excluded
    images_per_s: float
    eta_s: float | None  # training seconds left in the budget; None until it can be told
    config: TrainConfig
    curve: tuple[CurvePoint, ...]
    snapshots: tuple[Snapshot, ...]

    @property
    def ended(self) -> bool:
        return self.status in ENDED


@dataclass(eq=False)
class _Run:
    run_id: str
    trainer: TrainingRun
    scorer: Scorer | None
    last_poll: float
    status: Status = Status.QUEUED
    divergence: Divergence | None = None
    error: str | None = None
    latest: Progress | None = None
    curve: list[CurvePoint] = field(default_factory=list)
    snapshots: list[Snapshot] = field(default_factory=list)


def thin(items: list, cap: int) -> list:
    """Keep a history under `cap` items: past it, every other item of the older half goes, so
    the recent past stays dense, the start is still there, and thinning happens rarely."""
    if len(items) <= cap:
        return items
    half = len(items) // 2
    return items[:half:2] + items[half:]


def eta_seconds(config: TrainConfig, step: int, elapsed: float) -> float | None:
    """Training seconds left before the first of the step and time budgets runs out."""
    left = []
    if config.seconds is not None:
        left.append(max(0.0, config.seconds - elapsed))
    if config.steps is not None and step > 0:
        left.append(max(0, config.steps - step) * elapsed / step)
    return min(left) if left else None


def default_max_runs() -> int:
    """Runs that train at once: AIGC_MAX_RUNS, else RUNS_PER_CORE per training core."""
    if os.environ.get("AIGC_MAX_RUNS", "").strip():
        return env_count("AIGC_MAX_RUNS")
    return max(1, int(RUNS_PER_CORE * env_count("AIGC_TRAIN_CORES")))


class RunManager:
    """Runs training in background threads under a server-wide cap, first come first served.

    Args:
        max_runs: runs training at once; more wait in a FIFO queue. Default:
            :func:`default_max_runs`.
        cores: CPU cores the runs share; see :meth:`threads_per_run`. Default: the environment
            variable AIGC_TRAIN_CORES (lower it on a host shared with other work), else
            os.cpu_count().
        idle_timeout: seconds without a poll after which a run is stopped and forgotten.
        clock: monotonic seconds; tests pass a fake one to expire runs without waiting.
    """

    def __init__(
        self,
        max_runs: int | None = None,
        *,
        cores: int | None = None,
        idle_timeout: float = IDLE_TIMEOUT_S,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.max_runs = max_runs if max_runs is not None else default_max_runs()
        if self.max_runs < 1:
            raise ValueError(f"max_runs={self.max_runs} must be at least 1")
        self.cores = cores if cores is not None else env_count("AIGC_TRAIN_CORES")
        if self.cores < 1:
            raise ValueError(f"cores={self.cores} must be at least 1")
        self.idle_timeout = idle_timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._runs: dict[str, _Run] = {}
        self._queue: deque[_Run] = deque()
        self._holding: set[_Run] = set()  # runs with a slot: started and not yet ended
        self._default_threads = torch.get_num_threads()
        self._janitor: threading.Thread | None = None
        self._workers: set[threading.Thread] = set()
        _MANAGERS.add(self)

    # -- asking for and steering runs ------------------------------------------------------

    def submit(
        self,
        model: nn.Module,
        images: data.ImageSet,
        config: TrainConfig,
        *,
        scorer: Scorer | None = None,
    ) -> str:
        """Queue a run over a copy of `model` (never modified) and return its id; it starts
        as soon as a slot is free. `scorer` rates each snapshot (see :func:`aigc.metrics.agreement_scorer`)."""
        trainer = TrainingRun(model, images, config)
        run = _Run(uuid.uuid4().hex, trainer, scorer, last_poll=self._clock())
        with self._lock:
            self._runs[run.run_id] = run
            self._queue.append(run)
            self._start_waiting()
            self._ensure_janitor()
        return run.run_id

    def view(self, run_id: str) -> RunView:
        """Poll a run: its state now, and proof that its owner is still there.

        Raises:
            UnknownRun: the run was released or expired.
        """
        with self._lock:
            run = self._get(run_id)
            run.last_poll = self._clock()
            ev = run.latest
            status = run.status
            if status is Status.RUNNING and run.trainer.paused:
                status = Status.PAUSED
            position = wait = None
            if status is Status.QUEUED:
                position = 1 + next(i for i, r in enumerate(self._queue) if r is run)
                wait = self._wait_s(position)
            step = ev.step if ev else 0
            elapsed = ev.elapsed if ev else 0.0
            return RunView(
                run_id=run_id,
                status=status,
                divergence=run.divergence,
                error=run.error,
                queue_position=position,
                wait_s=wait,
                step=step,
                elapsed=elapsed,
                images_per_s=ev.images_per_s if ev else 0.0,
                eta_s=None if status in ENDED else eta_seconds(run.trainer.config, step, elapsed),
                config=copy.copy(run.trainer.config),  # the loop reads its own
                curve=tuple(run.curve),
                snapshots=tuple(run.snapshots),
            )

    def pause(self, run_id: str) -> None:
        """Hold the run after the step in progress; a queued run starts paused. A paused run
        keeps its slot (and its memory) until it is resumed, stopped or expires."""
        with self._lock:
            self._get(run_id).trainer.pause()

    def resume(self, run_id: str) -> None:
        with self._lock:
            self._get(run_id).trainer.resume()

    def stop(self, run_id: str) -> None:
        """End the run after the step in progress (a queued run never starts); its model, as
        trained so far, stays available through :meth:`model`."""
        with self._lock:
            self._stop(self._get(run_id))

    def model(self, run_id: str) -> nn.Module:
        """The trained model, in eval mode: a copy of its own for the caller.

        Raises:
            RuntimeError: the run has not ended, or failed and has no trustworthy weights.
        """
        with self._lock:
            run = self._get(run_id)
            if run.status not in ENDED:
                raise RuntimeError(f"run {run_id} is still {run.status}")
            if run.status is Status.FAILED:
                raise RuntimeError(f"run {run_id} failed: {run.error}")
            return copy.deepcopy(run.trainer.model).eval()

    def release(self, run_id: str) -> None:
        """Forget a run (stopping it first if it is still live): the owner is done with it.
        Releasing an unknown or already released run does nothing."""
        with self._lock:
            run = self._runs.pop(run_id, None)
            if run is not None:
                self._stop(run)

    def sweep(self) -> list[str]:
        """Stop and forget every run nobody has polled for `idle_timeout` seconds (its tab was
        closed, or its session ended); return their ids. A background thread calls this."""
        with self._lock:
            now = self._clock()
            idle = [r for r in self._runs.values() if now - r.last_poll > self.idle_timeout]
            for run in idle:
                del self._runs[run.run_id]
                self._stop(run)
        return [run.run_id for run in idle]

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop every run and wait up to `timeout` seconds for their threads to finish."""
        with self._lock:
            for run in list(self._runs.values()):
                self._stop(run)
            workers = list(self._workers)
        for worker in workers:
            worker.join(timeout)

    # -- CPU budget ------------------------------------------------------------------------

    def threads_per_run(self) -> int:
        """Intra-op threads each computing run should use: max(1, cores // computing runs).

        Why: torch runs each op on a pool of cores-many threads by default. Two runs that each
        use all cores put 2x as many busy threads as cores on the CPU; they then fight over
        cores and caches and the OpenMP workers spin waiting for each other, so both go slower
        than if each had its share (measured on 2 cores next to one other 2-thread torch job:
        7 VAE steps in 3 s with 2 threads against 186 with 1). Paused runs do not count: they
        compute nothing.
        """
        with self._lock:
            return self._threads_per_run()

    def _threads_per_run(self) -> int:
        computing = sum(1 for r in self._holding if not r.trainer.paused)
        return max(1, self.cores // max(1, computing))

    # -- internals (called with self._lock held unless said otherwise) ---------------------

    def _get(self, run_id: str) -> _Run:
        try:
            return self._runs[run_id]
        except KeyError:
            raise UnknownRun(run_id) from None

    def _stop(self, run: _Run) -> None:
        if run.status is Status.QUEUED:
            self._queue.remove(run)
            run.status = Status.STOPPED
        elif run.status not in ENDED:
            run.trainer.stop()

    def _wait_s(self, position: int) -> float | None:
        """When the queue's `position`-th run gets a slot: each slot frees when its run's
        budget runs out, and each run ahead then takes its whole time budget. None when that
        cannot be told honestly: a run ahead is paused (it waits on a person) or has only a
        step budget and has not yet shown its speed."""
        free = []
        for held in self._holding:
            ev = held.latest
            eta = eta_seconds(held.trainer.config, ev.step if ev else 0, ev.elapsed if ev else 0.0)
            if held.trainer.paused or eta is None:
                return None
            free.append(eta)
        free += [0.0] * (self.max_runs - len(free))
        heapq.heapify(free)
        for ahead in list(self._queue)[: position - 1]:
            budget = ahead.trainer.config.seconds
            if budget is None:
                return None
            heapq.heappush(free, heapq.heappop(free) + budget)
        return free[0]

    def _start_waiting(self) -> None:
        while self._queue and len(self._holding) < self.max_runs:
            run = self._queue.popleft()
            run.status = Status.RUNNING
            self._holding.add(run)
            worker = threading.Thread(
                target=self._train, args=(run,), name=f"aigc-run-{run.run_id[:8]}", daemon=True
            )
            self._workers.add(worker)
            worker.start()

    def _train(self, run: _Run) -> None:
        """The worker thread of one run (runs without the lock, takes it to record)."""
        lower_priority()
        torch.set_num_threads(self.threads_per_run())
        try:
            for ev in run.trainer:
                # torch.set_num_threads sets the calling thread's pool (and the default that
                # threads started later get), so each run applies its share in its own thread,
                # at every event, as runs start, end, pause and resume.
                torch.set_num_threads(self.threads_per_run())
                self._record(run, ev)
        except Exception as e:  # a bug or out-of-memory must not keep the slot forever
            _log.exception("training run %s failed", run.run_id)
            with self._lock:
                run.status, run.error = Status.FAILED, f"{type(e).__name__}: {e}"
        finally:
            with self._lock:
                self._holding.discard(run)
                self._workers.discard(threading.current_thread())
                if not self._holding:
                    # The page's own inference threads start from this default: give them back
                    # every core once no run trains.
                    torch.set_num_threads(self._default_threads)
                self._start_waiting()

    def _record(self, run: _Run, ev: Progress) -> None:
        # A diverged run's last event has no samples, so its timeline ends at the last good one.
        keep_samples = ev.samples is not None
        score = None
        if keep_samples and run.scorer is not None:
            try:
                score = run.scorer(ev.samples, ev.sample_labels)  # outside the lock: ~10 ms
            except Exception:  # the score is a nicety: a broken scorer must not end the run
                _log.exception("scoring run %s failed; its snapshots go unscored", run.run_id)
                run.scorer = None
        with self._lock:
            run.latest = ev
            # The final event repeats the last snapshot's step when the budget ends on one.
            if ev.losses and (not run.curve or run.curve[-1].step != ev.step):
                run.curve.append(CurvePoint(ev.step, ev.elapsed, dict(ev.losses)))
                run.curve = thin(run.curve, MAX_CURVE_POINTS)
            if keep_samples and (not run.snapshots or run.snapshots[-1].step != ev.step):
                ev.samples.flags.writeable = False  # shared by every view of this run
                ev.sample_labels.flags.writeable = False
                run.snapshots.append(
                    Snapshot(
                        ev.step, ev.elapsed, ev.samples, ev.sample_labels, score, ev.images_per_s
                    )
                )
                run.snapshots = thin(run.snapshots, MAX_SNAPSHOTS)
            if ev.finished:
                run.status, run.divergence = STATUS_OF_FINISH[ev.finish], ev.divergence

    def _ensure_janitor(self) -> None:
        if self._janitor is None:
            self._janitor = threading.Thread(target=self._sweep_forever, daemon=True)
            self._janitor.start()

    def _sweep_forever(self) -> None:
        """Sweep until no run is left; the next submit starts a new sweeper."""
        interval = min(5.0, max(0.05, self.idle_timeout / 4))
        while True:
            time.sleep(interval)
            self.sweep()
            with self._lock:
                if not self._runs:
                    self._janitor = None
                    return


@atexit.register
def _shutdown_all() -> None:
    for manager in list(_MANAGERS):
        manager.shutdown()
