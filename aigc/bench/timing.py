"""Timing helpers: interleaved repeats, a stopwatch and order statistics."""

from __future__ import annotations

import contextlib
import os
import resource
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np

T = TypeVar("T")


def interleaved(sides: dict[str, Callable[[int], T]], repeats: int) -> dict[str, list[T]]:
    """Call every side once per round with the round's number (a seed for sides that train),
    always in the same order, for `repeats` rounds.

    Why: on a shared CPU the speed drifts (another process, caches, clocks) by 10-15% over a
    minute; taking A, B, A, B ... puts that drift on both sides alike, so A / B means something.
    """
    out: dict[str, list[T]] = {name: [] for name in sides}
    for round_ in range(repeats):
        for name, measure in sides.items():
            out[name].append(measure(round_))
    return out


def ratios(a: Sequence[float], b: Sequence[float]) -> list[float]:
    """Round-by-round a / b of two interleaved series."""
    return [x / y for x, y in zip(a, b, strict=True)]


def seconds(fn: Callable[[], object]) -> float:
    """Wall-clock seconds of one call."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q))


def cpu_seconds() -> tuple[float, float, float]:
    """(wall clock, CPU seconds every core was busy since boot, CPU seconds of this process
    and its finished children): two of these give other processes' share of the CPU between
    them, which says how far to trust the timings taken meanwhile."""
    busy = 0.0
    with contextlib.suppress(OSError):
        ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        busy = (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # - idle, iowait
    own = sum(
        r.ru_utime + r.ru_stime
        for r in (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
    )
    return time.perf_counter(), busy, own


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) another process has used so far, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def others_share(start: tuple[float, float, float], end: tuple[float, float, float]) -> float:
    """Share of all cores that other processes kept busy between two cpu_seconds() readings."""
    wall = (end[0] - start[0]) * (os.cpu_count() or 1)
    return max(0.0, ((end[1] - start[1]) - (end[2] - start[2])) / max(wall, 1e-9))
