"""Live training runs built exactly as the page builds them, so the bench times what a user
waits for: the model from :func:`aigc.runs.new_model`, the settings of
:func:`aigc.runs.submit_live` (the recipe, the page's snapshot interval), the loop of
:class:`aigc.training.TrainingRun`."""

from __future__ import annotations

from aigc import recipes
from aigc.data import ImageSet
from aigc.runs import LIVE_SNAPSHOT_EVERY, new_model
from aigc.training import TrainingRun

PAGE_SECONDS = 20.0  # the Train page's default budget; the learning rate anneals over it


def live_run(kind: str, images: ImageSet, seed: int, **train_overrides) -> TrainingRun:
    """A conditional live run of `kind` ("gan", "vae", "classifier") from random init.

    Args:
        train_overrides: TrainConfig fields to change, e.g. ``seconds=10``.
    """
    model = new_model(kind, images, conditional=True, seed=seed)
    overrides = {"snapshot_every": LIVE_SNAPSHOT_EVERY.get(kind, 25), **train_overrides}
    config = recipes.live_train_config(kind, seed=seed, **overrides)
    return TrainingRun(model, images, config)
