"""Measure 2 ("references"): our live models against the references of
:mod:`aigc.bench.references`, on the same data with the same wall-clock budget of training
steps, the sides interleaved round by round, every figure also given as ours / theirs."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import torch
from torch import nn

from aigc import metrics
from aigc.bench import references as ref
from aigc.bench.live import live_run
from aigc.bench.report import Figure, Mode, Section, Target
from aigc.bench.timing import interleaved, ratios
from aigc.data import ImageSet, load_shipped
from aigc.evaluation import evaluate
from aigc.weights import load_shipped as load_weights

NAME = "references"
DATASET = "mnist"


@dataclass(frozen=True)
class Settings:
    vae_budgets_s: tuple[float, ...]
    gan_budgets_s: tuple[float, ...]
    repeats: dict[float, int]  # rounds per budget


SETTINGS: dict[Mode, Settings] = {
    "smoke": Settings((1.0,), (1.0,), {1.0: 1}),
    "quick": Settings((10.0,), (10.0,), {10.0: 1}),
    # No VAE at 120 s: its targets are at 10 and 30 s, and 3 x 120 s would not fit 20 minutes.
    "full": Settings((10.0, 30.0), (10.0, 30.0, 120.0), {10.0: 2, 30.0: 1, 120.0: 1}),
}
VAE_TARGET_BUDGETS = (10.0, 30.0)  # ours <= 0.9 x the reference's held-out loss
GAN_TARGET_BUDGETS = (30.0, 120.0)  # ours beats the DCGAN's classifier agreement


@dataclass
class Outcome:
    """What one side reached in one round."""

    figures: dict[str, float]  # quality figures of the trained model
    images_per_s: float


def ours(kind: str, images: ImageSet, seconds: float, seed: int) -> tuple[nn.Module, float]:
    """Train the live model for `seconds`; return (model, training images/s)."""
    run = live_run(kind, images, seed, seconds=seconds)
    final = deque(run, maxlen=1)[0]  # the last event; the others are only snapshots
    return run.model, final.images_per_s


def theirs(
    kind: str, images: ImageSet, seconds: float, seed: int, z_dim: int = 20
) -> tuple[nn.Module, float]:
    """Train a reference for `seconds` at its published batch of 128; (model, images/s)."""
    torch.manual_seed(seed)  # the reference's initial weights
    model: nn.Module
    if kind == "vae":
        model = ref.ReferenceVAE(ref.ReferenceVAEConfig(dataset=images.name, z_dim=z_dim))
        step = ref.reference_vae_step(model)
    else:
        model = ref.ReferenceDCGAN(ref.ReferenceDCGANConfig(dataset=images.name))
        step = ref.reference_dcgan_step(model)
    x, y = images.tensors()
    steps, spent = ref.train_for(step, x, y, seconds, batch_size=128, seed=seed)
    return model.eval(), steps * 128 / spent


def score(trained: tuple[nn.Module, float], classifier: nn.Module, test: ImageSet) -> Outcome:
    """Agreement (conditional models) and Fréchet distance by aigc.evaluation, the code that
    scores the shipped weights; held-out loss by aigc.metrics for every VAE."""
    model, images_per_s = trained
    with torch.no_grad():  # evaluate() asks the GAN's discriminator with autograd on
        figures = evaluate(model.eval(), classifier)
    if hasattr(model, "encode") and "heldout_nats" not in figures:
        x, y = test.tensors()
        figures["heldout_nats"] = metrics.vae_heldout_nats(model, x, y)
    return Outcome(figures, images_per_s)


def _sides(budget: float, s: Settings, train: ImageSet, scored) -> dict:
    """The sides of one budget's rounds, in the order they run; each takes the round as seed."""
    sides = {}
    if budget in s.vae_budgets_s:
        sides["our VAE"] = lambda r: scored(ours("vae", train, budget, r))
        sides["ref VAE 784-400-20"] = lambda r: scored(theirs("vae", train, budget, r, 20))
        sides["ref VAE 784-400-16"] = lambda r: scored(theirs("vae", train, budget, r, 16))
    if budget in s.gan_budgets_s:
        sides["our GAN"] = lambda r: scored(ours("gan", train, budget, r))
        sides["DCGAN"] = lambda r: scored(theirs("gan", train, budget, r))
    return sides


def run(mode: Mode) -> Section:
    s = SETTINGS[mode]
    section = Section(NAME, "References")
    train, test = load_shipped(DATASET, "train"), load_shipped(DATASET, "test")
    classifier = load_weights(f"classifier_{DATASET}")
    floor: list[float] = []
    for budget in sorted(set(s.vae_budgets_s) | set(s.gan_budgets_s)):
        results = interleaved(
            _sides(budget, s, train, lambda t: score(t, classifier, test)), s.repeats[budget]
        )
        section.figures += _figures(budget, results)
        floor = floor or [next(iter(results.values()))[0].figures["frechet_real_vs_real"]]
    section.figures.append(
        Figure("Fréchet distance, real train vs test images (the floor)", "FD", floor)
    )
    section.notes.append(
        f"{DATASET}, the shipped train split in memory; budgets count training-step time only. "
        "Our VAE is the live one: class-conditional (its loss bounds log p(x|y), at most "
        "log 10 = 2.3 nats below log p(x)), 16-D, SiLU, batch 256, input centred, lr 1.2e-2 "
        "annealed, 1-pixel shifts, decoder bias at the mean image. The references are "
        "unconditional (VAE) and 64/128-channel (DCGAN) as published. Samples: 1,000 (100 per "
        "class) from seed 0; Fréchet distance on the shipped classifier's features against the "
        "test split."
    )
    return section


def _figures(budget: float, results: dict[str, list[Outcome]]) -> list[Figure]:
    at = f"@{budget:g}s"
    out: list[Figure] = []

    def series(side: str, key: str) -> list[float]:
        return [o.figures[key] if key else o.images_per_s for o in results[side]]

    def add(side: str, key: str, label: str, unit: str) -> None:
        if side in results and (not key or key in results[side][0].figures):
            out.append(Figure(f"{side} {at}: {label}", unit, series(side, key)))

    def ratio(a: str, b: str, key: str, label: str, target: Target | None = None) -> None:
        if a in results and b in results:
            out.append(
                Figure(
                    f"{a} / {b} {at}: {label}",
                    "x",
                    ratios(series(a, key), series(b, key)),
                    target,
                    note="ours / theirs",
                )
            )

    vae_target = Target("<=", 0.9) if budget in VAE_TARGET_BUDGETS else None
    for side in ("our VAE", "ref VAE 784-400-20", "ref VAE 784-400-16"):
        add(side, "heldout_nats", "held-out nats", "nats")
        add(side, "class_agreement", "agreement", "frac")
        add(side, "frechet_distance", "Fréchet distance", "FD")
        add(side, "", "train images/s", "img/s")
    for theirs_side in ("ref VAE 784-400-20", "ref VAE 784-400-16"):
        ratio("our VAE", theirs_side, "heldout_nats", "held-out nats", vae_target)
        ratio("our VAE", theirs_side, "frechet_distance", "Fréchet distance")
        ratio("our VAE", theirs_side, "", "images/s")
    gan_target = Target(">", 1.0) if budget in GAN_TARGET_BUDGETS else None
    for side in ("our GAN", "DCGAN"):
        add(side, "class_agreement", "agreement", "frac")
        add(side, "frechet_distance", "Fréchet distance", "FD")
        add(side, "", "train images/s", "img/s")
    ratio("our GAN", "DCGAN", "class_agreement", "agreement", gan_target)
    ratio("our GAN", "DCGAN", "frechet_distance", "Fréchet distance")
    ratio("our GAN", "DCGAN", "", "images/s")
    return out
