"""The live training recipes: model and optimiser settings chosen, by measurement on a 2-core
CPU, for how fast samples become recognisable (see README, "Why it learns in seconds").

GAN: small nets (G 32 / D 16 channels) take ~2x the images per second of 64/32 ones and reached
the same agreement sooner; DiffAugment-style shifts of real and fake images were the change
that stopped agreement from swinging (e.g. 0.95 -> 0.66 within 15 s without it, steady >= 0.9
with it); the generator shown is an EMA of the trained one. VAE: the MLP body passes ~10x the
images per second of the conv one, which wins a 10-second budget; with SiLU, batch 256 and
Adam at 8e-3 it reached 106.7 held-out nats after 10 s (5 seeds, 106.4-106.9) where ReLU,
batch 128 and 3e-3 reached 110.9, and batch 128 at 5e-3 107.3.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import TYPE_CHECKING

import torch
from torch import nn

from aigc.models import KINDS as MODEL_CLASSES
from aigc.models import VAE, ClassifierConfig, GANConfig, VAEConfig
from aigc.training import TrainConfig

if TYPE_CHECKING:
    from aigc.data import ImageSet

# torch's global RNG is process-wide: two sessions building models at once must not interleave.
_BUILD_LOCK = threading.Lock()

KINDS = ("gan", "vae", "classifier")


def live_model_config(kind: str, dataset: str, conditional: bool = True, **overrides):
    if kind == "gan":
        cfg = GANConfig(dataset=dataset, num_classes=10 if conditional else 0)
    elif kind == "vae":
        cfg = VAEConfig(dataset=dataset, num_classes=10 if conditional else 0, activation="silu")
    elif kind == "classifier":
        cfg = ClassifierConfig(dataset=dataset)
    else:
        raise ValueError(f"unknown model kind {kind!r}: expected one of {', '.join(KINDS)}")
    return dataclasses.replace(cfg, **overrides)


def live_train_config(kind: str, **overrides) -> TrainConfig:
    base = {
        "gan": TrainConfig(batch_size=64, lr=1e-3, augment=True, class_weight=2.0, ema=0.995),
        "vae": TrainConfig(batch_size=256, lr=8e-3),
        "classifier": TrainConfig(batch_size=64, lr=1e-3, augment=True),
    }[kind]
    return dataclasses.replace(base, **overrides)


def new_model(
    kind: str, images: ImageSet, conditional: bool = True, seed: int = 0, **overrides
) -> nn.Module:
    """A freshly initialised model of the live recipe, the same for the same seed, built
    without disturbing the process's global random stream.

    A VAE's decoder starts at the data's mean image (see :meth:`VAE.init_output_bias`).
    """
    config = live_model_config(kind, images.name, conditional, **overrides)
    with _BUILD_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = MODEL_CLASSES[kind][1](config)
    if isinstance(model, VAE):
        model.init_output_bias(images.tensors()[0].mean(0))
    return model
