"""How training shares the CPU with the page: the priority of a training thread, and the
counts of cores and concurrent runs a host sets in its environment."""

from __future__ import annotations

import os
import threading

TRAINING_NICENESS = 10  # see lower_priority


def lower_priority() -> None:
    """Let the page's reruns win the CPU from training: raise the calling thread's nice value.

    Why: a rerun after a slider move needs ~20 ms of CPU at once, a training step can wait;
    on a 2-core server two live runs otherwise hold both cores while 30 sessions queue behind
    them. Linux applies nice per thread (threads torch starts from here inherit it); elsewhere
    this does nothing.
    """
    try:
        tid = threading.get_native_id()
        os.setpriority(
            os.PRIO_PROCESS, tid, max(os.getpriority(os.PRIO_PROCESS, tid), TRAINING_NICENESS)
        )
    except (AttributeError, OSError):
        pass


def env_count(name: str) -> int:
    """A positive whole number from the environment variable `name`, else os.cpu_count().

    Raises:
        ValueError: the variable is set to something else, so a typo is not silently ignored.
    """
    text = os.environ.get(name, "").strip()
    if not text:
        return os.cpu_count() or 1
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} is not a whole number") from None
    if value < 1:
        raise ValueError(f"{name}={value} must be at least 1")
    return value
