"""What a person sees, from a model and a point of view: the one render path that the page,
the CLI and the bench share.

A `Look` is everything a link can hold about one picture (seed, class or class blend,
direction offsets, raw overrides of z). `image`, `grid`, `decode_points`, `gate` and
`animation` turn a model and a look (or explicit latents) into pixels and what the judges
say about them. They are pure functions of their inputs, run on one thread, and never change
the model, so the page may cache them on (model, look) and share the results.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

from aigc import explore_math, imaging, latent, metrics, prior
from aigc.models import GAN, VAE, Classifier
from aigc.prior import FittedPrior

SCALE = 10  # 28 px -> 280 px, nearest-neighbour: crisp, and in view beside the sliders at 720 px
DIRECTIONS = 6  # principal directions offered as sliders
MAX_SEED = 2**31 - 1
GATE_WANTED = 32

# What the page passes around without importing torch: a GAN, VAE or Classifier, and tensors.
Model = nn.Module
Tensor = torch.Tensor


@contextmanager
def one_thread() -> Iterator[None]:
    """Inference at batch size 1 runs on one thread: two OpenMP threads on a 2-core machine
    shared with training wait on each other (docs/bench.md, interaction)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass(frozen=True)
class Look:
    """One picture's point in latent space, as the page's controls and a link describe it.

    `target` and `amount` move towards another class: a conditional GAN is fed the blend
    (1 - amount) * onehot(label) + amount * onehot(target); a VAE is pushed `amount` times
    along the target's attribute vector (negative pushes away).
    """

    seed: int = 0
    label: int | None = None
    target: int | None = None
    amount: float = 0.0
    directions: tuple[float, ...] = ()
    raw: tuple[tuple[int, float], ...] = ()  # (index, value) overrides of the seed's z


@dataclass(frozen=True)
class Steering:
    """A model's slider directions: principal directions, and (VAEs) class attribute vectors."""

    directions: latent.Directions
    class_vectors: torch.Tensor | None

    @property
    def variance_ratio(self) -> tuple[float, ...]:
        return tuple(float(r) for r in self.directions.variance_ratio)


def steering(model: nn.Module, data: tuple[torch.Tensor, torch.Tensor] | None = None) -> Steering:
    """The sliders' directions. A VAE's come from encoding `data` (images, labels); a GAN's
    from its own samples, so it needs none."""
    with one_thread():
        if isinstance(model, VAE):
            x, y = data
            return Steering(
                latent.principal_directions(model, k=DIRECTIONS, data=x, labels=y),
                latent.class_vectors(model, x, y),
            )
        return Steering(latent.principal_directions(model, k=DIRECTIONS), None)


def conditional(model: nn.Module) -> bool:
    return bool(model.config.num_classes)


def classes(model: nn.Module) -> int:
    """Classes the model can be asked for (10, unless an uploaded model has fewer)."""
    return min(10, model.config.num_classes) or 10


def moves_class(model: nn.Module) -> bool:
    """Whether the look's target means anything: a conditional GAN blends its class input; a
    VAE is pushed along an attribute vector."""
    return isinstance(model, VAE) or conditional(model)


def base_latent(
    model: nn.Module, seed: int, fitted: FittedPrior | None = None
) -> tuple[float, ...]:
    """The seed's own z, before any slider: what the raw-dimension sliders start from (under
    a VAE's `fitted` prior, where it carries the seed's noise)."""
    return tuple(_latents(model, None, Look(seed=seed), 1, fitted)[0].tolist())


def _latents(
    model: nn.Module, steer: Steering | None, look: Look, n: int, fitted: FittedPrior | None = None
) -> torch.Tensor:
    """(n, D): the look's latent for seeds seed, seed+1, ...; raw overrides apply to n == 1.
    Without `steer` the look's directions and class push are not applied (the CLI's samples).
    With a VAE's `fitted` prior, each seed's noise is carried to where the training codes lie."""
    z = _seed_z(model, [(look.seed + i) % (MAX_SEED + 1) for i in range(n)], fitted)
    for j, value in look.raw if n == 1 else ():
        if j < model.latent_dim:
            z[0, j] = value
    if steer is None:
        return z
    push = steer.class_vectors is not None and look.target is not None
    return explore_math.steer(
        z,
        steer.directions.vectors,
        look.directions,
        steer.class_vectors[look.target] if push else None,
        look.amount if push else 0.0,
    )


def _seed_z(model: nn.Module, seeds: Sequence[int], fitted: FittedPrior | None) -> torch.Tensor:
    """(len(seeds), D): each seed's noise, carried into a VAE's `fitted` prior where given."""
    z = explore_math.seed_latents(seeds, model.latent_dim)
    return z if fitted is None else fitted.latents(z, prior.picks(list(seeds)))


def _class_weights(model: nn.Module, look: Look, n: int) -> torch.Tensor | None:
    if not conditional(model):
        return None
    blend = look.amount if isinstance(model, GAN) else 0.0
    label = look.label if look.label is not None and look.label < classes(model) else 0
    return explore_math.class_weights(model.config.num_classes, label, look.target, blend, n)


@dataclass(frozen=True)
class Frame:
    """One rendered image and what the judges say about it."""

    png: bytes
    label: int | None  # the classifier's class, None without a classifier
    confidence: float
    realness: float | None  # GANs only
    z: tuple[float, ...]  # the latent it was decoded from, stored with a rating


@dataclass(frozen=True)
class Mosaic:
    png: bytes
    labels: tuple[int, ...]  # the classifier's class per cell; empty without a classifier
    cols: int
    cell_px: int  # one cell's side on screen, padding included: where a click landed


def judges(
    model: nn.Module, classifier: Classifier | None, x: torch.Tensor, weights: torch.Tensor | None
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """What the judges say of images x (B, 1, 28, 28): the classifier's class probabilities
    (B, C), None without a classifier, and a GAN's discriminator's realness (B,), None for a
    VAE. Traceable: the browser's graph (`aigc.morph`) judges with these same lines."""
    probs = metrics.class_probs(classifier, x) if classifier is not None else None
    realness = None
    if isinstance(model, GAN):
        realness = model.realness(x, weights.argmax(1) if weights is not None else None)
    return probs, realness


@torch.no_grad()
def _judge(
    model: nn.Module, classifier: Classifier | None, x: torch.Tensor, weights: torch.Tensor | None
) -> tuple[int | None, float, float | None]:
    probs, realness = judges(model, classifier, x, weights)
    label, confidence = None, 0.0
    if probs is not None:
        best, index = probs[0].max(dim=0)
        label, confidence = int(index), float(best)
    return label, confidence, None if realness is None else float(realness[0])


def _frame(
    model: nn.Module,
    classifier: Classifier | None,
    z: torch.Tensor,
    weights: torch.Tensor | None,
    scale: int,
) -> Frame:
    with one_thread():
        x = latent.generate(model, z, weights)  # (1, 1, 28, 28)
        verdict = _judge(model, classifier, x, weights)
    return Frame(imaging.png_bytes(imaging.to_uint8(x)[0], scale), *verdict, tuple(z[0].tolist()))


def image(
    model: nn.Module,
    classifier: Classifier | None,
    steer: Steering,
    look: Look,
    scale: int = SCALE,
    fitted: FittedPrior | None = None,
) -> Frame:
    """The one picture a look names, with the classifier's verdict and (GANs) realness; its
    seed drawn from a VAE's `fitted` prior where one is given."""
    z = _latents(model, steer, look, 1, fitted)
    return _frame(model, classifier, z, _class_weights(model, look, 1), scale)


def point_image(
    model: nn.Module,
    classifier: Classifier | None,
    z: Sequence[float],
    label: int | None = None,
    scale: int = SCALE,
) -> Frame:
    """The picture at one explicit latent (a point on the 2-D map), judged like `image`'s."""
    weights = None
    if conditional(model):
        weights = explore_math.class_weights(model.config.num_classes, label or 0)
    return _frame(model, classifier, torch.tensor([list(z)], dtype=torch.float32), weights, scale)


def decode_points(
    model: nn.Module,
    classifier: Classifier | None,
    points: Sequence[Sequence[float]],
    label: int | None = None,
    cols: int | None = None,
    scale: int = SCALE,
) -> Mosaic:
    """Explicit latents (a point on the 2-D map, a manifold grid) decoded into one image."""
    z = torch.tensor(points, dtype=torch.float32)
    weights = None
    if conditional(model):
        weights = explore_math.class_weights(model.config.num_classes, label or 0, n=len(z))
    return _mosaic(model, classifier, z, weights, cols or len(z), scale)


def manifold(n: int, extent: float) -> list[list[float]]:
    """(n*n, 2) points on an even grid over [-extent, extent]^2, top row first."""
    return explore_math.manifold_grid(n, extent).tolist()


def grid(
    model: nn.Module,
    classifier: Classifier | None,
    steer: Steering,
    look: Look,
    side: int,
    scale: int,
    fitted: FittedPrior | None = None,
) -> Mosaic:
    """A side x side grid of the look's class and steering over seeds seed, seed+1, ...,
    drawn from a VAE's `fitted` prior where one is given."""
    n = side * side
    z = _latents(model, steer, look, n, fitted)
    return _mosaic(model, classifier, z, _class_weights(model, look, n), side, scale)


def _mosaic(
    model: nn.Module,
    classifier: Classifier | None,
    z: torch.Tensor,
    weights: torch.Tensor | None,
    cols: int,
    scale: int,
) -> Mosaic:
    with one_thread():
        x = latent.generate(model, z, weights)
        labels = metrics.classify(classifier, x).labels.tolist() if classifier is not None else []
    png = imaging.png_bytes(imaging.grid(imaging.to_uint8(x), cols), scale)
    return Mosaic(png, tuple(labels), cols, (28 + 2) * scale)


def samples(
    model: nn.Module,
    look: Look,
    n: int,
    labels: Sequence[int] | None = None,
    fitted: FittedPrior | None = None,
) -> np.ndarray:
    """(n, 28, 28) uint8: image i is what the page shows for seed look.seed + i, of the look's
    class, or of class labels[i] when given (a conditional model's grid of every class). With
    a VAE's `fitted` prior, seed i's noise is carried to where the training codes lie."""
    z = _latents(model, None, look, n, fitted)
    if labels is not None and conditional(model):
        weights = torch.eye(model.config.num_classes)[torch.as_tensor(list(labels))]
    else:
        weights = _class_weights(model, look, n)
    with one_thread():
        return imaging.to_uint8(latent.generate(model, z, weights))


@dataclass(frozen=True)
class PriorDraw:
    """Samples of a prior as the latent map shows them: where they lie and what they decode to."""

    points: np.ndarray  # (n, D) latents
    strip: bytes  # PNG of the first few decoded samples
    confident: float | None  # share the classifier is sure of (metrics.CONFIDENT); None without
    holes: float | None  # share in a hole of the codes given (explore_math.in_holes)


def prior_draw(
    model: nn.Module,
    classifier: Classifier | None,
    look: Look,
    n: int,
    fitted: FittedPrior | None = None,
    codes: np.ndarray | None = None,
    shown: int = 10,
    scale: int = 3,
) -> PriorDraw:
    """n seeds from look.seed on, drawn from N(0, I) or a VAE's `fitted` prior and decoded (of
    the look's class): the prior-hole lesson's two sides, with the same noise under both.
    With `codes` (M, D), e.g. the held-out images' encodings, also how many land in holes."""
    z = _latents(model, None, replace(look, raw=()), n, fitted)
    weights = _class_weights(model, look, n)
    with one_thread(), torch.no_grad():
        x = latent.generate(model, z, weights)
        probs, _ = judges(model, classifier, x, weights)
    confident = None if probs is None else _sure_share(probs)
    holes = None if codes is None else float(explore_math.in_holes(z.numpy(), codes).mean())
    return PriorDraw(z.numpy(), thumbnails(x[:shown], scale=scale), confident, holes)


def _sure_share(probs: torch.Tensor) -> float:
    return float((probs.max(1).values > metrics.CONFIDENT).float().mean())


def sure_share(classifier: Classifier, images: np.ndarray | torch.Tensor) -> float:
    """The share of images (K, [1,] 28, 28) in [0, 1] the classifier is sure of: what a prior's
    samples are held up against."""
    x = torch.as_tensor(np.asarray(images), dtype=torch.float32).reshape(-1, 1, 28, 28)
    with one_thread(), torch.no_grad():
        return _sure_share(metrics.class_probs(classifier, x))


def wanted_class(model: nn.Module, look: Look) -> int | None:
    """The class a grid's images were asked to be: the blend target once it dominates."""
    if not conditional(model):
        return None
    if isinstance(model, GAN) and look.target is not None and look.amount > 0.5:
        return look.target
    return look.label


@dataclass(frozen=True)
class Agreement:
    """How a grid's images were classified: against the class asked for, or which classes."""

    wanted: int | None
    agreeing: int  # images classified as `wanted`
    total: int
    top: tuple[tuple[int, int], ...]  # (class, count), most frequent first, unconditional only


def agreement(labels: Sequence[int], wanted: int | None) -> Agreement:
    if wanted is not None:
        return Agreement(wanted, sum(1 for c in labels if c == wanted), len(labels), ())
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=10)
    top = tuple(
        (int(c), int(counts[c])) for c in np.argsort(-counts, kind="stable")[:4] if counts[c]
    )
    return Agreement(None, 0, len(labels), top)


@dataclass(frozen=True)
class Gate:
    """The discriminator's verdicts on a stream of samples: what it let through."""

    accepted_png: bytes | None
    rejected_png: bytes | None
    rate: float
    tries: int
    max_tries: int
    best: float  # the highest realness seen: what a threshold above it can never accept


def _gate_png(images: torch.Tensor) -> bytes | None:
    if not len(images):
        return None
    return imaging.png_bytes(imaging.grid(imaging.to_uint8(images[:GATE_WANTED]), 8), 3)


def gate(gan: GAN, threshold: float, seed: int, label: int | None, max_tries: int = 2000) -> Gate:
    """Discriminator rejection sampling until GATE_WANTED pass or `max_tries` are judged."""
    with one_thread():
        judged = latent.rejection_sample(
            gan, GATE_WANTED, threshold, seed=seed, label=label, max_tries=max_tries
        )
    scores = np.concatenate([judged.accepted_scores, judged.rejected_scores])
    return Gate(
        _gate_png(judged.accepted),
        _gate_png(judged.rejected),
        judged.acceptance_rate,
        judged.tries,
        max_tries,
        float(scores.max()) if len(scores) else 0.0,
    )


@dataclass(frozen=True)
class Animation:
    gif: bytes
    strip: bytes
    frames: int
    film: bytes  # a PNG of the frames stacked top to bottom, 28 px each: the page's scrubber


def _walk(
    model: nn.Module,
    points: Sequence[Sequence[float]] | np.ndarray,
    steps: int,
    spherical: bool,
    classes_from_to: tuple[int, int] | None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    zs = latent.path(torch.as_tensor(np.asarray(points), dtype=torch.float32), steps, spherical)
    weights = None
    if classes_from_to is not None and conditional(model):
        start, end = classes_from_to
        weights = explore_math.class_ramp(model.config.num_classes, start, end, len(zs))
    return zs, weights


def walk(
    model: nn.Module,
    points: Sequence[Sequence[float]] | np.ndarray,
    steps: int,
    spherical: bool,
    classes_from_to: tuple[int, int] | None = None,
) -> np.ndarray:
    """(F, 28, 28) uint8: the frames of a walk through latent points (K, D), `steps` a segment;
    a conditional model's class goes linearly from the first class to the second."""
    zs, weights = _walk(model, points, steps, spherical, classes_from_to)
    with one_thread():
        return imaging.to_uint8(latent.generate(model, zs, weights))


def animation(
    model: nn.Module,
    points: Sequence[Sequence[float]] | np.ndarray,
    steps: int,
    spherical: bool,
    ms: int,
    classes_from_to: tuple[int, int] | None = None,
) -> Animation:
    """`walk`'s frames as a bouncing GIF, a PNG strip, and the film a scrubber pages through."""
    frames = walk(model, points, steps, spherical, classes_from_to)
    return Animation(
        imaging.gif_bytes(frames, scale=8, ms_per_frame=ms),
        imaging.png_bytes(imaging.grid(frames, min(len(frames), 12)), 3),
        len(frames),
        imaging.png_bytes(frames.reshape(-1, frames.shape[-1])),  # (F * 28, 28), exact pixels
    )


REVIEW_SCALE = 6  # 168 px: two side by side fit a phone held upright
REVIEW_STEPS = 12


def stimulus_picture(
    model: nn.Module,
    seed: int,
    label: int | None = None,
    end_seed: int | None = None,
    fitted: FittedPrior | None = None,
) -> bytes:
    """What a review shows of one model for one stimulus: the seed's picture (of class `label`
    for a conditional model) as a PNG, as Explore draws it; or, with `end_seed`, the walk from
    the seed's latent to the other's as a GIF, as Interpolate makes it."""
    if end_seed is None:
        image = samples(model, Look(seed=seed, label=label), 1, fitted=fitted)[0]
        return imaging.png_bytes(image, REVIEW_SCALE)
    cls = label if label is not None and label < classes(model) else 0
    points = seed_points(model, [seed, end_seed], fitted)
    frames = walk(model, points, REVIEW_STEPS, True, (cls, cls) if conditional(model) else None)
    return imaging.gif_bytes(frames, scale=REVIEW_SCALE, ms_per_frame=80)


def path_frame(
    model: nn.Module,
    classifier: Classifier | None,
    points: Sequence[Sequence[float]] | np.ndarray,
    steps: int,
    spherical: bool,
    index: int,
    classes_from_to: tuple[int, int] | None = None,
    scale: int = 4,
) -> Frame:
    """Frame `index` of `animation`'s walk on its own, judged: the one a person rates."""
    zs, weights = _walk(model, points, steps, spherical, classes_from_to)
    i = min(max(index, 0), len(zs) - 1)
    return _frame(
        model, classifier, zs[i : i + 1], None if weights is None else weights[i : i + 1], scale
    )


def seed_points(
    model: nn.Module, seeds: Sequence[int], fitted: FittedPrior | None = None
) -> np.ndarray:
    """(K, D): the latents seeds name, as a path's points (where Explore draws them: from a
    VAE's `fitted` prior where given)."""
    return _seed_z(model, seeds, fitted).numpy()


def encode(
    vae: VAE, images: np.ndarray | torch.Tensor, labels: Sequence[int] | torch.Tensor
) -> np.ndarray:
    """Images (K, [1,] 28, 28) in [0, 1] -> their posterior means (K, D): a path's points, or
    where the held-out images lie on the latent map."""
    x = torch.as_tensor(np.asarray(images), dtype=torch.float32).reshape(-1, 1, 28, 28)
    with one_thread():
        return latent.encode_images(vae, x, torch.as_tensor(np.asarray(labels))).numpy()


def thumbnails(images: np.ndarray | torch.Tensor, cols: int | None = None, scale: int = 3) -> bytes:
    """Images (K, [1,] 28, 28), in [0, 1] or uint8, as one PNG strip or grid."""
    arr = imaging.to_uint8(images)
    return imaging.png_bytes(imaging.grid(arr, cols or len(arr)), scale)


def dimension_kl(vae: VAE, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """(D,) mean KL per latent dimension on (x, y): which dimensions the VAE uses."""
    with one_thread():
        return metrics.kl_per_dimension(vae, x, y)
