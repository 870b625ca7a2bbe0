"""The live training recipes: model and optimiser settings chosen, by measurement on a 2-core
CPU, for how fast samples become recognisable (see README, "How fast it learns").

GAN: small nets (G 32 / D 16 channels) take ~2x the images per second of 64/32 ones and reached
the same agreement sooner; DiffAugment-style shifts of real and fake images were the change
that stopped agreement from swinging (e.g. 0.95 -> 0.66 within 15 s without it, steady >= 0.9
with it); the generator shown is an EMA of the trained one. VAE: the MLP body passes ~10x the
images per second of the conv one, which wins a 10-second budget.
"""

from __future__ import annotations

import dataclasses

from aigc.models import ClassifierConfig, GANConfig, VAEConfig
from aigc.training import TrainConfig

KINDS = ("gan", "vae", "classifier")


def live_model_config(kind: str, dataset: str, conditional: bool = True, **overrides):
    if kind == "gan":
        cfg = GANConfig(dataset=dataset, num_classes=10 if conditional else 0)
    elif kind == "vae":
        cfg = VAEConfig(dataset=dataset, num_classes=10 if conditional else 0)
    elif kind == "classifier":
        cfg = ClassifierConfig(dataset=dataset)
    else:
        raise ValueError(f"unknown model kind {kind!r}: expected one of {', '.join(KINDS)}")
    return dataclasses.replace(cfg, **overrides)


def live_train_config(kind: str, **overrides) -> TrainConfig:
    base = {
        "gan": TrainConfig(batch_size=64, lr=1e-3, augment=True, class_weight=2.0, ema=0.995),
        "vae": TrainConfig(batch_size=128, lr=3e-3),
        "classifier": TrainConfig(batch_size=64, lr=1e-3, augment=True),
    }[kind]
    return dataclasses.replace(base, **overrides)
