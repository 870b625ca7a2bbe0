"""Latent-space math: seeded sampling, interpolation, principal directions, attribute vectors,
encoding a user's image, and discriminator rejection sampling.

Every function is a pure function of (model, inputs, seed): it takes an explicit seed and never
reads or changes global random state, so the same call gives the same pixels in any session.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from aigc.models import GAN, VAE


def sample_latents(n: int, dim: int, seed: int) -> torch.Tensor:
    """(n, dim) standard-normal latents; seed s always gives the same rows."""
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(int(seed)))


def latent_for_seed(seed: int, dim: int) -> torch.Tensor:
    """The single latent (dim,) a seed stands for: seeds name points, as in the page's URL."""
    return sample_latents(1, dim, seed)[0]


@torch.no_grad()
def generate(model: nn.Module, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """Latents (B, D) -> images (B, 1, 28, 28) in [0, 1]; the model is left untouched."""
    if model.training:
        raise ValueError("generate() needs a model in eval mode (shared models are never trained)")
    if labels is not None and labels.dim() == 0:
        labels = labels.expand(z.shape[0])
    return model.decode(z, labels if model.config.num_classes else None)


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    return a + (b - a) * torch.as_tensor(t, dtype=a.dtype).reshape(-1, *[1] * a.dim()).squeeze(0)


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """Spherical interpolation (Shoemake, 1985; White, 2016): stays at the norm Gaussian
    latents actually have, where lerp's midpoint falls inside the shell and looks washed out."""
    t = torch.as_tensor(t, dtype=a.dtype).reshape(-1, 1)
    na, nb = a.norm(), b.norm()
    cos = torch.clamp(torch.dot(a / na, b / nb), -1.0, 1.0)
    omega = torch.arccos(cos)
    if omega.abs() < 1e-4:  # nearly parallel: slerp degenerates to lerp
        out = a + (b - a) * t
    else:
        so = torch.sin(omega)
        out = (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b
    return out.squeeze(0) if out.shape[0] == 1 else out


def path(points: torch.Tensor, steps: int, spherical: bool = False) -> torch.Tensor:
    """Latents along a path through K points (K, D): `steps` per segment, endpoints included
    once. Returns ((K-1) * (steps-1) + 1, D)."""
    if len(points) < 2:
        raise ValueError("a path needs at least two points")
    if steps < 2:
        raise ValueError("steps must be at least 2")
    ts = torch.linspace(0, 1, steps)
    interp = slerp if spherical else lerp
    segments = [
        interp(points[i], points[i + 1], ts)[: -1 if i < len(points) - 2 else None]
        for i in range(len(points) - 1)
    ]
    return torch.cat(segments)


@dataclass
class Directions:
    vectors: torch.Tensor  # (k, D) unit vectors in latent space
    variance_ratio: np.ndarray  # (k,) share of variance each one explains


def _pca(x: torch.Tensor, k: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Centred data, its top-k principal axes (k, F) and the share of variance each explains.

    Why randomized (Halko, Martinsson & Tropp, 2011, Alg. 4.4): a full SVD of the GAN's
    2000 x 3136 activations took 4-10 s of a page's first paint on 2 cores; a rank-(k+20)
    sketch with six power iterations finds the same top six axes (|cos| >= 0.999 on the
    shipped GAN) in ~0.1 s. The sketch draws from its own seeded generator, so the axes are
    the same in every session.
    """
    centred = x - x.mean(0)
    total = centred.pow(2).sum()
    rank = min(k + 20, *centred.shape)
    gen = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(centred @ torch.randn(centred.shape[1], rank, generator=gen))
    for _ in range(6):  # power iterations sharpen the gap between top and tail singular values
        q, _ = torch.linalg.qr(centred.T @ q)
        q, _ = torch.linalg.qr(centred @ q)
    _, s, vt = torch.linalg.svd(q.T @ centred, full_matrices=False)
    return centred, vt[:k], (s[:k] ** 2 / total).numpy()


@torch.no_grad()
def principal_directions(
    model: nn.Module,
    k: int = 6,
    n: int = 2000,
    seed: int = 0,
    data: torch.Tensor | None = None,
    labels: torch.Tensor | None = None,
) -> Directions:
    """The k directions along which the model's images vary most.

    GAN: GANSpace's recipe for generators without a style space (Härkönen et al., 2020): PCA of
    the first hidden layer's activations over random latents, each component carried back to
    the latent space by least squares. VAE: PCA of the posterior means of `data` (encoded with
    `labels` when the VAE is conditional), i.e. the axes the encoder spreads the dataset along.
    """
    if isinstance(model, VAE):
        if data is None:
            raise ValueError("VAE directions need data to encode")
        _, comps, ratio = _pca(encode_images(model, data, labels), k)
        return Directions(comps, ratio)
    if not isinstance(model, GAN):
        raise TypeError(f"no latent space in a {type(model).__name__}")
    z = sample_latents(n, model.latent_dim, seed)
    k_classes = model.config.num_classes
    h = model.eval().generator.hidden(z, torch.arange(n) % k_classes if k_classes else None)
    centred, comps, ratio = _pca(h, k)
    coeffs = centred @ comps.T  # (n, k)
    back = torch.linalg.lstsq(coeffs, z - z.mean(0)).solution  # (k, D)
    return Directions(back / back.norm(dim=1, keepdim=True), ratio)


@torch.no_grad()
def class_vectors(
    vae: VAE, x: torch.Tensor, y: torch.Tensor, num_classes: int = 10
) -> torch.Tensor:
    """Attribute vectors (K, D): each class's mean posterior mean minus the overall mean, so
    z + a * v[c] moves an image towards class c (White, 2016, "attribute vectors")."""
    mu, _ = vae.eval().encode(x, y if vae.config.num_classes else None)
    overall = mu.mean(0)
    return torch.stack([mu[y == c].mean(0) - overall for c in range(num_classes)])


@torch.no_grad()
def encode_images(
    vae: VAE, images: torch.Tensor, labels: torch.Tensor | None = None
) -> torch.Tensor:
    """(B, 1, 28, 28) -> posterior means (B, D): the point in latent space that stands for each."""
    mu, _ = vae.eval().encode(images, labels if vae.config.num_classes else None)
    return mu


@dataclass
class Judged:
    accepted: torch.Tensor  # (A, 1, 28, 28)
    rejected: torch.Tensor  # (R, 1, 28, 28)
    accepted_scores: np.ndarray
    rejected_scores: np.ndarray
    tries: int

    @property
    def acceptance_rate(self) -> float:
        return len(self.accepted) / max(1, self.tries)


@torch.no_grad()
def rejection_sample(
    gan: GAN,
    wanted: int,
    threshold: float,
    seed: int = 0,
    label: int | None = None,
    max_tries: int = 2000,
    batch: int = 64,
) -> Judged:
    """Generate, let the discriminator judge, regenerate until judged real: keep samples whose
    realness is >= threshold (the loop of discriminator rejection sampling, Azadi et al., 2019,
    with a fixed threshold in place of its calibrated acceptance probability)."""
    gan.eval()
    gen = torch.Generator().manual_seed(int(seed))
    acc, rej, acc_s, rej_s, tries = [], [], [], [], 0
    while sum(len(a) for a in acc) < wanted and tries < max_tries:
        b = min(batch, max_tries - tries)
        z = torch.randn(b, gan.latent_dim, generator=gen)
        labels = None
        if gan.config.num_classes:
            labels = (
                torch.full((b,), label)
                if label is not None
                else torch.randint(0, gan.config.num_classes, (b,), generator=gen)
            )
        x = gan.decode(z, labels)
        score = gan.realness(x, labels)
        keep = score >= threshold
        acc.append(x[keep])
        rej.append(x[~keep])
        acc_s.append(score[keep])
        rej_s.append(score[~keep])
        tries += b
    return Judged(
        accepted=torch.cat(acc),
        rejected=torch.cat(rej),
        accepted_scores=torch.cat(acc_s).numpy(),
        rejected_scores=torch.cat(rej_s).numpy(),
        tries=tries,
    )
