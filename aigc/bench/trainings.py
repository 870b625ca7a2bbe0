"""Live runs training in the background while the page is measured under load."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from aigc.bench.live import live_run
from aigc.cpu import lower_priority
from aigc.data import load_shipped


@contextmanager
def live_trainings(seconds: float) -> Iterator[list[str]]:
    """Two live runs training in threads for the duration; yields a list that collects any
    error they raise, and stops them on the way out."""
    images = load_shipped("mnist", "train")
    runs = [live_run(kind, images, 0, seconds=seconds) for kind in ("gan", "vae")]
    errors: list[str] = []

    def train(run) -> None:
        lower_priority()  # as the run manager's workers train
        torch.set_num_threads(1)  # 2 runs on 2 cores: one each, as the run manager shares them
        try:
            for _ in run:
                pass
        except Exception as e:
            errors.append(f"{type(e).__name__}: {e}")

    threads = [threading.Thread(target=train, args=(r,), daemon=True) for r in runs]
    for t in threads:
        t.start()
    try:
        yield errors
    finally:
        for r in runs:
            r.stop()
        for t in threads:
            t.join()
