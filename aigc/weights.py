"""The shipped, pretrained weights in the repository's `weights/` folder."""

from __future__ import annotations

import json
from pathlib import Path

from torch import nn

from aigc.checkpoint import load_model

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
MANIFEST = WEIGHTS_DIR / "manifest.json"

# name -> what it is; every file is made by a command in scripts/train_weights.sh
SHIPPED = {
    "gan_mnist": "class-conditional GAN, MNIST",
    "gan_fashion": "class-conditional GAN, Fashion-MNIST",
    "vae_mnist": "16-D conv VAE, MNIST",
    "vae_fashion": "16-D conv VAE, Fashion-MNIST",
    "vae2d_mnist": "2-D VAE for the latent map, MNIST",
    "vae2d_fashion": "2-D VAE for the latent map, Fashion-MNIST",
    "classifier_mnist": "scoring classifier, MNIST",
    "classifier_fashion": "scoring classifier, Fashion-MNIST",
}


def shipped_path(name: str) -> Path:
    if name not in SHIPPED:
        raise ValueError(f"no shipped weights named {name!r}; choose from {', '.join(SHIPPED)}")
    return WEIGHTS_DIR / f"{name}.safetensors"


def load_shipped(name: str) -> nn.Module:
    """A fresh copy of a shipped model, in eval mode."""
    return load_model(shipped_path(name))[0]


def manifest() -> dict:
    return json.loads(MANIFEST.read_text()) if MANIFEST.exists() else {}
