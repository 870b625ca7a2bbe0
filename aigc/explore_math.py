"""The latents the explore pages ask for, built from what a link can hold: seeds, slider
coefficients along directions, a class blend, a point on the 2-D map.

Pure functions of their inputs (no global random state, no streamlit), so the same link gives
the same latents, and so the same pixels, in any session.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from aigc.latent import latent_for_seed


def seed_latents(seeds: Sequence[int], dim: int) -> torch.Tensor:
    """(N, dim): row i is the latent seed i names, as on the single-image view."""
    return torch.stack([latent_for_seed(s, dim) for s in seeds])


def steer(
    z: torch.Tensor,
    directions: torch.Tensor,
    coefficients: Sequence[float],
    attribute: torch.Tensor | None = None,
    amount: float = 0.0,
) -> torch.Tensor:
    """Move latents (..., D) by sum_i c_i * directions[i] (+ amount * attribute).

    Extra coefficients beyond the directions a model has are ignored, so a link made for a
    model with more directions still opens on one with fewer.
    """
    k = min(len(coefficients), len(directions))
    offset = torch.as_tensor(list(coefficients[:k]), dtype=z.dtype) @ directions[:k]
    if attribute is not None:
        offset = offset + amount * attribute
    return z + offset


def class_weights(
    num_classes: int, label: int, blend_to: int | None = None, amount: float = 0.0, n: int = 1
) -> torch.Tensor:
    """(n, K) class weights (1 - a) * onehot(label) + a * onehot(blend_to): a conditional
    generator fed these draws a class between the two ("a 3 turning into an 8")."""
    w = torch.zeros(num_classes)
    w[label] = 1.0
    if blend_to is not None and amount:
        w = (1 - amount) * w
        w[blend_to] += amount
    return w.expand(n, num_classes).clone()


def class_ramp(num_classes: int, start: int, end: int, n: int) -> torch.Tensor:
    """(n, K) class weights going linearly from onehot(start) to onehot(end) over n frames."""
    t = torch.linspace(0, 1, n).unsqueeze(1)
    eye = torch.eye(num_classes)
    return (1 - t) * eye[start] + t * eye[end]


def manifold_grid(n: int, extent: float) -> torch.Tensor:
    """(n*n, 2) points on an even grid over [-extent, extent]^2, row-major with the first row
    at the top (z2 = +extent), so the decoded mosaic reads like the scatter plot beside it."""
    ticks = torch.linspace(-extent, extent, n)
    z2, z1 = torch.meshgrid(ticks.flip(0), ticks, indexing="ij")
    return torch.stack([z1.flatten(), z2.flatten()], dim=1)


def nearest(points: np.ndarray, query: Sequence[float]) -> int:
    """Index of the row of points (N, D) closest to query (D,)."""
    return int(np.argmin(((points - np.asarray(query, dtype=points.dtype)) ** 2).sum(axis=1)))
