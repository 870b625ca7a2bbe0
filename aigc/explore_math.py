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
    coefficients: Sequence[float] | torch.Tensor,
    attribute: torch.Tensor | None = None,
    amount: float | torch.Tensor = 0.0,
) -> torch.Tensor:
    """Move latents (..., D) by sum_i c_i * directions[i] (+ amount * attribute).

    Extra coefficients beyond the directions a model has are ignored, so a link made for a
    model with more directions still opens on one with fewer. Coefficients (k,) or (B, k) and
    the amount may be tensors, so the same lines run traced inside `aigc.morph`'s ONNX graph.
    """
    c = coefficients if torch.is_tensor(coefficients) else torch.tensor(coefficients, dtype=z.dtype)
    k = min(c.shape[-1], directions.shape[0])
    offset = c[..., :k] @ directions[:k]
    if attribute is not None:
        offset = offset + amount * attribute
    return z + offset


def class_weights(
    num_classes: int, label: int, blend_to: int | None = None, amount: float = 0.0, n: int = 1
) -> torch.Tensor:
    """(n, K) class weights (1 - a) * onehot(label) + a * onehot(blend_to): a conditional
    generator fed these draws a class between the two ("a 3 turning into an 8")."""
    eye = torch.eye(num_classes)
    w = eye[label]
    if blend_to is not None and amount:
        w = blend_classes(w, eye[blend_to], torch.tensor(amount))
    return w.expand(n, num_classes).clone()


def blend_classes(
    label_weights: torch.Tensor, target_weights: torch.Tensor, amount: torch.Tensor
) -> torch.Tensor:
    """(1 - amount) * label_weights + amount * target_weights, in float32 throughout: one
    expression for the page's blend and the browser's (`aigc.morph`), so both round alike."""
    return (1 - amount) * label_weights + amount * target_weights


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


HOLE_QUANTILE = 0.95  # a point farther from every code than 95% of codes are from their neighbour


def in_holes(points: np.ndarray, codes: np.ndarray, quantile: float = HOLE_QUANTILE) -> np.ndarray:
    """(N,) bool: which points (N, D) lie in a hole of the codes (M, D), i.e. farther from
    every code than `quantile` of the codes lie from their nearest other code. There the
    decoder saw no image like it, which is why a sample drawn there comes out half-formed."""
    codes = np.asarray(codes, dtype=np.float64)
    gaps = np.sqrt(((codes[:, None] - codes[None]) ** 2).sum(-1))  # (M, M)
    np.fill_diagonal(gaps, np.inf)
    reach = np.quantile(gaps.min(1), quantile)
    away = np.sqrt(((np.asarray(points, dtype=np.float64)[:, None] - codes[None]) ** 2).sum(-1))
    return away.min(1) > reach
