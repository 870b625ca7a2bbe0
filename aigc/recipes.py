"""The live training recipes: model and optimiser settings chosen, by measurement on a 2-core
CPU, for how fast samples become recognisable (see README, "Why it learns in seconds").

GAN: small nets (G 32 / D 16 channels) take ~2x the images per second of 64/32 ones and reached
the same agreement sooner; DiffAugment-style shifts of real and fake images were the change
that stopped agreement from swinging; the generator shown is an EMA of the trained one. It
upsamples by nearest neighbour then a 3x3 conv, not by 4x4 stride-2 transposed convs, whose
uneven overlap draws a dotted checkerboard from the first step (Odena et al., 2016) that stayed
in Fashion-MNIST's samples; this costs the same per step (see
:class:`aigc.models.gan.NearestConv`) and alone reached recognisable Fashion samples in fewer
steps. With it, Adam at 3e-3 and the class loss weighted 4 against the hinge loss were the
settings that brought recognisable samples soonest on both datasets; 1e-3 and 2, tuned for
the old generator, now waste steps (figures in docs/bench.md). VAE: the MLP body passes ~10x the
images per second of the conv one, which wins a 10-second budget; SiLU and batch 256 beat ReLU
and smaller batches there. Its encoder reads each image minus the mean image: uncentred, Adam
did best at 8e-3 and got worse above 1e-2; centred, 1.2e-2 ends a 10-second run 1-2 nats
lower on both datasets. Faster rates gain a little more on MNIST's 4,500 digits but lose it
on Fashion-MNIST and on sets of a hundred, which they overfit (docs/bench.md). 1-pixel shifts of
the training images cost next to nothing per step and lower held-out loss, more the longer a
run goes; dropout, masked or binarised inputs cost a 10-second run more than they save, and
wider or narrower bodies, more latent dimensions, EMA weights, KL or learning-rate warmup and
Adamax gained nothing clear beside them.

:func:`live_setup` puts a live run together; the Train page (through :func:`submit_live`) and
the bench both call it, so the bench times what a user waits for.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import TYPE_CHECKING

import torch
from torch import nn

from aigc import data
from aigc.models import KINDS as MODEL_CLASSES
from aigc.models import VAE, ClassifierConfig, GANConfig, VAEConfig
from aigc.training import TrainConfig

if TYPE_CHECKING:
    from aigc.runs import RunManager, Scorer

# torch's global RNG is process-wide: two sessions building models at once must not interleave.
_BUILD_LOCK = threading.Lock()

KINDS = ("gan", "vae", "classifier")
# Steps between sample grids in a live run: a few grids a second on 2 cores, so a page that
# redraws twice a second always has a new one to show.
LIVE_SNAPSHOT_EVERY = {"gan": 5, "vae": 10, "classifier": 25}


def live_model_config(kind: str, dataset: str, conditional: bool = True, **overrides):
    if kind == "gan":
        cfg = GANConfig(dataset=dataset, num_classes=10 if conditional else 0, upsample="nearest")
    elif kind == "vae":
        cfg = VAEConfig(
            dataset=dataset,
            num_classes=10 if conditional else 0,
            activation="silu",
            center_input=True,
        )
    elif kind == "classifier":
        cfg = ClassifierConfig(dataset=dataset)
    else:
        raise ValueError(f"unknown model kind {kind!r}: expected one of {', '.join(KINDS)}")
    return dataclasses.replace(cfg, **overrides)


def live_train_config(kind: str, **overrides) -> TrainConfig:
    base = {
        "gan": TrainConfig(batch_size=64, lr=3e-3, augment=True, class_weight=4.0, ema=0.995),
        "vae": TrainConfig(batch_size=256, lr=1.2e-2, augment=True, shift_pixels=1),
        "classifier": TrainConfig(batch_size=64, lr=1e-3, augment=True),
    }[kind]
    return dataclasses.replace(base, **overrides)


def new_model(
    kind: str, images: data.ImageSet, conditional: bool = True, seed: int = 0, **overrides
) -> nn.Module:
    """A freshly initialised model of the live recipe, the same for the same seed, built
    without disturbing the process's global random stream.

    A VAE's decoder starts at the data's mean image, which its encoder subtracts (see
    :meth:`VAE.start_at_mean`).
    """
    if conditional and images.classes:  # a user's own set: one class per folder
        overrides.setdefault("num_classes", len(images.classes))
    config = live_model_config(kind, images.name, conditional, **overrides)
    with _BUILD_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = MODEL_CLASSES[kind][1](config)
    if isinstance(model, VAE):
        model.start_at_mean(images.tensors()[0].mean(0))
    return model


def live_setup(
    kind: str, images: data.ImageSet, *, conditional: bool = True, seed: int = 0, **train_overrides
) -> tuple[nn.Module, TrainConfig]:
    """The model and settings of a live run from scratch, as the Train page starts one.

    Args:
        train_overrides: TrainConfig fields over the recipe's (lr, batch_size, seconds, steps).
    """
    config = live_train_config(
        kind, seed=seed, **({"snapshot_every": LIVE_SNAPSHOT_EVERY[kind]} | train_overrides)
    )
    return new_model(kind, images, conditional, seed), config


def submit_live(
    manager: RunManager,
    kind: str,
    dataset: str | data.ImageSet,
    *,
    conditional: bool = True,
    seed: int = 0,
    scorer: Scorer | None = None,
    **train_overrides,
) -> str:
    """Queue a live run (see :func:`live_setup`) on the shipped `dataset` of that name, or on
    a user's own set; return its id."""
    images = data.load_shipped(dataset) if isinstance(dataset, str) else dataset
    model, config = live_setup(kind, images, conditional=conditional, seed=seed, **train_overrides)
    return manager.submit(model, images, config, scorer=scorer)
