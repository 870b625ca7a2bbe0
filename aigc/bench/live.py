"""Live training runs put together by :func:`aigc.recipes.live_setup`, as the Train page's runs
are, so the bench times what a user waits for: the loop of :class:`aigc.training.TrainingRun`."""

from __future__ import annotations

from aigc.data import ImageSet
from aigc.recipes import live_setup
from aigc.training import TrainingRun

PAGE_SECONDS = 20.0  # the Train page's default budget; the learning rate anneals over it


def live_run(kind: str, images: ImageSet, seed: int, **train_overrides) -> TrainingRun:
    """A conditional live run of `kind` ("gan", "vae", "classifier") from random init.

    Args:
        train_overrides: TrainConfig fields to change, e.g. ``seconds=10``.
    """
    model, config = live_setup(kind, images, seed=seed, **train_overrides)
    return TrainingRun(model, images, config)
