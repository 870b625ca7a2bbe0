"""Numbers that say how good a generative model is, computed with the shipped classifier.

Classifier agreement asks "is this a 7?", class-histogram entropy asks "does it draw every
class?", Fréchet distance compares feature statistics of samples and real images (Heusel et
al., 2017, with a 28x28 classifier in place of Inception), and the VAE's held-out loss is the
negative ELBO in nats per image. Checkerboard energy needs no classifier: it asks how much of a
picture sits on the pixel lattice that strided upsampling leaves behind.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from aigc.models import VAE, Classifier
from aigc.models.vae import gaussian_kl, vae_loss

if TYPE_CHECKING:
    from aigc.runs import Scorer

# A latent dimension whose mean KL on held-out images is above this (nats) carries information;
# below it the posterior has collapsed to the prior there and the decoder ignores it.
ACTIVE_KL_NATS = 0.05
CONFIDENT = 0.9  # a sample "recognisable": the classifier is more than this sure of its class


@dataclass
class Scores:
    labels: np.ndarray  # (N,) predicted class
    confidence: np.ndarray  # (N,) probability of the predicted class


def class_probs(classifier: Classifier, images: torch.Tensor) -> torch.Tensor:
    """(B, C) class probabilities of (B, 1, 28, 28) images in [0, 1]; traceable, so the
    browser's graph (`aigc.morph`) judges with the same lines."""
    return torch.softmax(classifier(images), dim=1)


@torch.no_grad()
def classify(classifier: Classifier, images: torch.Tensor) -> Scores:
    """Classify (B, 1, 28, 28) images in [0, 1]."""
    conf, labels = class_probs(classifier.eval(), images).max(dim=1)
    return Scores(labels.numpy(), conf.numpy())


def agreement(classifier: Classifier, images: torch.Tensor, requested: torch.Tensor) -> float:
    """Fraction of samples the classifier assigns to the class they were generated for."""
    return float((classify(classifier, images).labels == requested.numpy()).mean())


def agreement_scorer(classifier: Classifier, classes: Sequence[int] | None = None) -> Scorer:
    """Score a snapshot by how many samples the classifier takes for the class they were drawn
    for; unconditional samples have no class to agree with and get None. The classifier is only
    read (eval mode, no gradients), so one shared copy can score every run.

    Args:
        classes: the classifier's class for each of the model's labels, where they differ (a
            user's own digits "3" and "7" are the model's labels 0 and 1).
    """
    to_classifier = None if classes is None else np.asarray(classes, dtype=np.int64)

    def score(samples: np.ndarray, labels: np.ndarray) -> float | None:
        if (labels < 0).any():
            return None
        x = torch.from_numpy(samples).float().div_(255).unsqueeze(1)  # (N, 1, 28, 28)
        wanted = labels if to_classifier is None else to_classifier[labels]
        return agreement(classifier, x, torch.from_numpy(wanted))

    return score


def class_entropy_ratio(labels: np.ndarray, num_classes: int = 10) -> float:
    """Entropy of the predicted-class histogram over its maximum, log(K): 1.0 = every class
    equally often, well below 1 = mode collapse."""
    counts = np.bincount(labels, minlength=num_classes).astype(float)
    p = counts / counts.sum()
    nz = p[p > 0]
    return float(-(nz * np.log(nz)).sum() / math.log(num_classes))


@torch.no_grad()
def features(classifier: Classifier, images: torch.Tensor, batch: int = 500) -> np.ndarray:
    classifier.eval()
    return (
        torch.cat(
            [classifier.features(images[i : i + batch]) for i in range(0, len(images), batch)]
        )
        .double()
        .numpy()
    )


def _sqrtm_psd(a: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh((a + a.T) / 2)
    return (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T


def frechet_distance(feat_a: np.ndarray, feat_b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(Ca + Cb - 2 (Ca^1/2 Cb Ca^1/2)^1/2), the symmetric form that
    needs only eigendecompositions of symmetric matrices (no complex sqrtm)."""
    mu_a, mu_b = feat_a.mean(0), feat_b.mean(0)
    ca, cb = np.cov(feat_a, rowvar=False), np.cov(feat_b, rowvar=False)
    root_a = _sqrtm_psd(ca)
    cross = _sqrtm_psd(root_a @ cb @ root_a)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(ca) + np.trace(cb) - 2 * np.trace(cross))


def checkerboard_energy(images: torch.Tensor) -> float:
    """Mean share of each image's energy (its mean removed) at the 15 spatial frequencies of a
    4-pixel lattice: periods 2 and 4 along x, y and the diagonals, where two stride-2
    transposed convolutions leave their dotted pattern (Odena et al., Distill 2016). A pure
    period-2 dot pattern scores 1; smooth images score near 0; compare with real images.

    Args:
        images: (B, 1, H, W) with H and W multiples of 4.
    """
    x = images[:, 0].double()
    h, w = x.shape[-2:]
    if h % 4 or w % 4:
        raise ValueError(f"images of {h}x{w}: the lattice needs sides that are multiples of 4")
    power = torch.fft.fft2(x - x.mean((1, 2), keepdim=True)).abs() ** 2  # (B, H, W)
    lattice = power[:, :: h // 4, :: w // 4].sum((1, 2))  # the DC term is 0 after the mean
    return float((lattice / power.sum((1, 2)).clamp_min(1e-12)).mean())


@torch.no_grad()
def vae_heldout_nats(
    vae: VAE, x: torch.Tensor, y: torch.Tensor | None = None, seed: int = 0
) -> float:
    """Negative ELBO (reconstruction + KL) in nats per image on held-out images, one z sample
    per image from a fixed generator so the figure is repeatable."""
    vae.eval()
    gen = torch.Generator().manual_seed(seed)
    labels = y if vae.config.num_classes else None
    mu, logvar = vae.encode(x, labels)
    z = vae.reparameterize(mu, logvar, generator=gen)
    recon, kl = vae_loss(vae.decode_logits(z, labels), x, mu, logvar)
    return float(recon + kl)


@torch.no_grad()
def kl_per_dimension(vae: VAE, x: torch.Tensor, y: torch.Tensor | None = None) -> np.ndarray:
    """Mean KL of each latent dimension (nats): dimensions near 0 carry no information
    (posterior collapse)."""
    vae.eval()
    mu, logvar = vae.encode(x, y if vae.config.num_classes else None)
    return gaussian_kl(mu, logvar).mean(0).numpy()


def active_dimensions(kl: np.ndarray) -> int:
    """How many dimensions of a :func:`kl_per_dimension` result carry more than ACTIVE_KL_NATS:
    the one rule the evaluation's figure and the latent map's caption both count by."""
    return int((kl > ACTIVE_KL_NATS).sum())
