"""Brute-force limits shared by the class rooms and the reviews: how many wrong codes or
secrets a process has been given lately."""

from __future__ import annotations

import threading
import time
from collections import deque


class Failures:
    """Failures per key in the last `window_s` seconds, in this process.

    Why per process and in memory: the limit has to cost nothing on the path of every rerun
    and hold while the database is down; a school runs one or two servers, which at most
    doubles a guesser's rate.
    """

    def __init__(self, limit: int, window_s: float = 60.0, max_keys: int = 4096) -> None:
        self.limit, self.window_s, self.max_keys = limit, window_s, max_keys
        self.clock = time.monotonic
        self._times: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._times.get(key, deque())
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times

    def over(self, key: str) -> bool:
        with self._lock:
            return len(self._recent(key, self.clock())) >= self.limit

    def add(self, key: str) -> int:
        """Count one failure; return how many `key` has had in the window."""
        now = self.clock()
        with self._lock:
            if key not in self._times and len(self._times) >= self.max_keys:
                for stale in [k for k in self._times if not self._recent(k, now)]:
                    del self._times[stale]
                if len(self._times) >= self.max_keys:  # a flood of fresh keys: forget the oldest
                    del self._times[next(iter(self._times))]
            times = self._recent(key, now)
            times.append(now)
            self._times[key] = times
            return len(times)

    def clear(self) -> None:
        with self._lock:
            self._times.clear()
