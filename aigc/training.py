"""Training as a plain loop that yields progress events.

The CLI prints the events, the page draws them and the tests count them. A run always trains
its own copy of the model it is given, so a shared (cached) model is never touched; it stops
within one step of a stop request, and a loss or weight that turns NaN/Inf ends the run with the
last good weights restored.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from aigc import imaging
from aigc.models import GAN, VAE, Classifier
from aigc.models.vae import vae_loss

if TYPE_CHECKING:
    from aigc.data import ImageSet


@dataclass
class TrainConfig:
    steps: int | None = None  # stop after this many steps ...
    seconds: float | None = None  # ... or this much training time, whichever comes first
    batch_size: int = 64
    lr: float = 1e-3
    lr_decay: bool = True  # anneal linearly to 10% of lr over the budget
    seed: int = 0
    snapshot_every: int = 25  # steps between fixed-noise sample grids
    # Random shifts of up to 2 pixels against overfitting 4.5k images; for the GAN they apply to
    # real and fake images alike, as DiffAugment does (Zhao et al., 2020).
    augment: bool = False
    shift_pixels: int = 2  # how far `augment` shifts: 1 generalised best for the shipped conv VAE
    kl_warmup_steps: int = 0  # VAE: ramp the KL weight from 0 to 1 (Bowman et al., 2016)
    class_weight: float = 1.0  # GAN: weight of the auxiliary class loss against the hinge loss
    ema: float = (
        0.99  # GAN: samples come from an exponential moving average of G (Yazici et al., 2019)
    )


class Finish(StrEnum):
    """Why a training loop ended."""

    STEPS = "steps"  # it used its step budget
    TIME = "time"  # it used its time budget
    STOPPED = "stopped"  # it was asked to stop
    DIVERGED = "diverged"  # a loss or weight went NaN/Inf; the last good weights are kept


@dataclass(frozen=True)
class Divergence:
    """The first non-finite number a run met, as data rather than a sentence: the CLI words it
    in English (:meth:`describe`), a page in its reader's language."""

    step: int  # the step whose loss or update went non-finite
    source: Literal["loss", "weight"]
    name: str  # a key of Progress.losses ("g", "recon", ...) or a parameter's name
    value: float  # the non-finite value met: nan, inf or -inf

    def describe(self) -> str:
        what = f"{self.name} loss" if self.source == "loss" else f"weight {self.name}"
        return f"{what} became {self.value} at step {self.step}"


@dataclass
class Progress:
    step: int
    epoch: float
    elapsed: float  # seconds of training, pauses excluded
    images_per_s: float
    losses: dict[str, float]
    samples: np.ndarray | None = None  # (N, 28, 28) uint8 from fixed noise, every snapshot
    sample_labels: np.ndarray | None = None  # (N,) class of each sample, -1 if unconditional
    finish: Finish | None = None  # set on the last event only
    divergence: Divergence | None = None  # set exactly when finish is Finish.DIVERGED

    @property
    def finished(self) -> bool:
        return self.finish is not None


def _shift(x: torch.Tensor, gen: torch.Generator, pixels: int = 2) -> torch.Tensor:
    """Shift each image by up to `pixels` in x and y: cheap augmentation for a 4.5k-image set."""
    b = x.shape[0]
    padded = F.pad(x, (pixels, pixels, pixels, pixels))
    dx = torch.randint(0, 2 * pixels + 1, (b,), generator=gen)
    dy = torch.randint(0, 2 * pixels + 1, (b,), generator=gen)
    rows = (dy[:, None] + torch.arange(28)[None, :])[:, None, :, None].expand(
        b, 1, 28, 28 + 2 * pixels
    )
    out = padded.gather(2, rows)
    cols = (dx[:, None] + torch.arange(28)[None, :])[:, None, None, :].expand(b, 1, 28, 28)
    return out.gather(3, cols)


class TrainingRun:
    """One training run over its own copy of `model`; iterate it to train.

    Args:
        model: a GAN, VAE or Classifier; it is deep-copied, never modified.
        data: training images (kept in memory as tensors: no loader processes on 2 cores).
        config: budget, optimiser and snapshot settings.
    """

    def __init__(self, model: nn.Module, data: ImageSet, config: TrainConfig):
        if config.steps is None and config.seconds is None:
            raise ValueError("give a step budget, a time budget or both")
        self.model = copy.deepcopy(model).train()
        self.config = config
        self.x, self.y = data.tensors()
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._good_state = copy.deepcopy(self.model.state_dict())
        self.step = 0

    def stop(self) -> None:
        """Ask the loop to finish after the step in progress."""
        self._stop.set()
        self._running.set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def __iter__(self) -> Iterator[Progress]:
        cfg = self.config
        gen = torch.Generator().manual_seed(cfg.seed)
        kind = _steps_for(self.model, cfg, self.x, self.y)
        batches = self._batches(gen)
        elapsed = 0.0
        last_losses: dict[str, float] = {}
        divergence = None
        while (finish := self._finish(elapsed)) is None:
            if not self._running.is_set():
                self._running.wait()
                continue
            t0 = time.perf_counter()
            x, y = next(batches)
            if cfg.lr_decay:
                kind.set_lr(cfg.lr * (1 - 0.9 * self._fraction_done(elapsed)))
            losses = kind.step(x, y, gen, self.step)
            self.step += 1
            elapsed += time.perf_counter() - t0
            divergence = self._divergence(losses)
            if divergence is not None:
                finish = Finish.DIVERGED
                break
            last_losses = losses
            if self.step % cfg.snapshot_every == 0:
                self._good_state = copy.deepcopy(kind.state())
                yield self._event(elapsed, losses, kind.snapshot())
        if divergence is None:
            self.model.load_state_dict(kind.state())
            snapshot = kind.snapshot()
        else:  # a snapshot now would come from the broken weights: the last good one stands
            self.model.load_state_dict(self._good_state)
            snapshot = None
        self.model.eval()
        yield self._event(elapsed, last_losses, snapshot, finish=finish, divergence=divergence)

    def _batches(self, gen: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Endless batches: each epoch a fresh shuffle, its last partial batch dropped (a batch
        larger than the data is the whole data)."""
        n, size = self.x.shape[0], self.config.batch_size
        while True:
            order = torch.randperm(n, generator=gen)
            for start in range(0, max(1, n - size + 1), size):
                idx = order[start : start + size]
                yield self.x[idx], self.y[idx]

    def _finish(self, elapsed: float) -> Finish | None:
        if self._stop.is_set():
            return Finish.STOPPED
        if self.config.steps is not None and self.step >= self.config.steps:
            return Finish.STEPS
        if self.config.seconds is not None and elapsed >= self.config.seconds:
            return Finish.TIME
        return None

    def _fraction_done(self, elapsed: float) -> float:
        cfg = self.config
        by_steps = self.step / cfg.steps if cfg.steps else 0.0
        by_time = elapsed / cfg.seconds if cfg.seconds else 0.0
        return min(1.0, max(by_steps, by_time))

    def _divergence(self, losses: dict[str, float]) -> Divergence | None:
        for name, value in losses.items():
            if not math.isfinite(value):
                return Divergence(self.step, "loss", name, value)
        for name, p in self.model.named_parameters():
            bad = p[~torch.isfinite(p)]
            if len(bad):
                return Divergence(self.step, "weight", name, bad[0].item())
        return None

    def _event(
        self,
        elapsed: float,
        losses: dict[str, float],
        snapshot: tuple[np.ndarray, np.ndarray] | None,
        **end,
    ) -> Progress:
        images, labels = snapshot or (None, None)
        return Progress(
            step=self.step,
            epoch=self.step * self.config.batch_size / self.x.shape[0],
            elapsed=elapsed,
            images_per_s=self.step * self.config.batch_size / max(elapsed, 1e-9),
            losses=dict(losses),
            samples=images,
            sample_labels=labels,
            **end,
        )


def fixed_labels(num_classes: int, n: int = 100) -> torch.Tensor:
    """Labels for a snapshot grid: one row of 10 per class, so each row shows one class."""
    if not num_classes:
        return torch.full((n,), -1)
    return torch.arange(num_classes).repeat_interleave(max(1, n // num_classes))[:n]


def _fixed_noise(num_classes: int, z_dim: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The latents (100, z_dim) and labels (100,) every snapshot of a run decodes, drawn apart
    from the training stream so that snapshots compare the same points."""
    labels = fixed_labels(num_classes)
    z = torch.randn(len(labels), z_dim, generator=torch.Generator().manual_seed(seed + 1))
    return z, labels


def _descend(opt: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


class _Steps(ABC):
    """How one kind of model trains: what a step does, what a snapshot shows, which weights a
    run keeps. Built when the loop starts, so an optimizer's one-off setup costs the training
    thread, not whoever queued the run."""

    def __init__(self, cfg: TrainConfig, optimizers: list[torch.optim.Optimizer]):
        self.cfg = cfg
        self.optimizers = optimizers

    def set_lr(self, lr: float) -> None:
        for opt in self.optimizers:
            for group in opt.param_groups:
                group["lr"] = lr

    def augment(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return _shift(x, gen, self.cfg.shift_pixels) if self.cfg.augment else x

    @abstractmethod
    def step(
        self, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator, done: int
    ) -> dict[str, float]:
        """One update on the batch (x, y), after `done` earlier steps; returns its losses."""

    @abstractmethod
    def snapshot(self) -> tuple[np.ndarray, np.ndarray]:
        """(samples (N, 28, 28) uint8, the class each was drawn for (N,), -1 if none)."""

    @abstractmethod
    def state(self) -> dict[str, torch.Tensor]:
        """The weights the run keeps, in the model's own state_dict keys."""


def _steps_for(model: nn.Module, cfg: TrainConfig, x: torch.Tensor, y: torch.Tensor) -> _Steps:
    if isinstance(model, GAN):
        return _GANSteps(model, cfg)
    if isinstance(model, VAE):
        return _VAESteps(model, cfg)
    if isinstance(model, Classifier):
        return _ClassifierSteps(model, cfg, x[:100], y[:100])
    raise TypeError(f"cannot train a {type(model).__name__}")


class _GANSteps(_Steps):
    """Hinge loss (Lim & Ye, 2017) plus the auxiliary class loss, D then G on each batch.

    The averaged generator is what is shown and kept: a raw GAN generator swings from step to
    step, its average settles, so the grid the page shows is stable rather than a lucky step.
    """

    def __init__(self, gan: GAN, cfg: TrainConfig):
        G, D = gan.generator, gan.discriminator
        super().__init__(
            cfg,
            [
                torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=(0.5, 0.999)),
                torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=(0.5, 0.999)),
            ],
        )
        self.gan, self.k = gan, gan.config.num_classes
        self.z_fixed, self.labels_fixed = _fixed_noise(self.k, gan.config.z_dim, cfg.seed)
        self.average = copy.deepcopy(G).eval()

    def step(self, x, y, gen, done):
        b, k = x.shape[0], self.k
        z = torch.randn(b, self.gan.config.z_dim, generator=gen)
        y_fake = torch.randint(0, k, (b,), generator=gen) if k else None
        fake = self.gan.generator(z, y_fake)
        loss_d, d_real, d_fake = self._discriminator_step(x, y if k else None, fake, y_fake, gen)
        loss_g = self._generator_step(fake, y_fake, gen)
        self._update_average(done + 1)
        return {
            "g": loss_g.item(),
            "d": loss_d.item(),
            "d_real": torch.sigmoid(d_real).mean().item(),
            "d_fake": torch.sigmoid(d_fake).mean().item(),
        }

    def _class_loss(self, logits: torch.Tensor | None, labels: torch.Tensor | None):
        return self.cfg.class_weight * F.cross_entropy(logits, labels) if self.k else 0.0

    def _discriminator_step(self, x, y, fake, y_fake, gen):
        """Real images towards > 1, fakes towards < -1, and real images named correctly."""
        D = self.gan.discriminator
        d_real, c_real = D(self.augment(x, gen), y)
        d_fake, _ = D(self.augment(fake.detach(), gen), y_fake)
        loss = F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean() + self._class_loss(c_real, y)
        _descend(self.optimizers[1], loss)
        return loss, d_real, d_fake

    def _generator_step(self, fake, y_fake, gen):
        """Fool D and be classified as the requested class."""
        g_fake, c_fake = self.gan.discriminator(self.augment(fake, gen), y_fake)
        loss = -g_fake.mean() + self._class_loss(c_fake, y_fake)
        _descend(self.optimizers[0], loss)
        return loss

    @torch.no_grad()
    def _update_average(self, n: int) -> None:
        """EMA of G (Yazici et al., 2019), its decay ramped in over the first steps."""
        decay = min(self.cfg.ema, n / (n + 10))
        G = self.gan.generator
        for p_avg, p in zip(self.average.parameters(), G.parameters(), strict=True):
            p_avg.lerp_(p, 1 - decay)
        for b_avg, b in zip(self.average.buffers(), G.buffers(), strict=True):
            b_avg.copy_(b)

    @torch.no_grad()
    def snapshot(self):
        images = self.average(self.z_fixed, self.labels_fixed if self.k else None)
        return imaging.to_uint8(images), self.labels_fixed.numpy()

    def state(self):
        state = self.gan.state_dict()
        state.update({f"generator.{n}": t for n, t in self.average.state_dict().items()})
        return state


class _VAESteps(_Steps):
    """The negative ELBO, its KL term's weight ramped over `kl_warmup_steps`."""

    def __init__(self, vae: VAE, cfg: TrainConfig):
        super().__init__(cfg, [torch.optim.Adam(vae.parameters(), lr=cfg.lr)])
        self.vae, self.k = vae, vae.config.num_classes
        self.z_fixed, self.labels_fixed = _fixed_noise(self.k, vae.config.z_dim, cfg.seed)

    def step(self, x, y, gen, done):
        x = self.augment(x, gen)
        labels = y if self.k else None
        mu, logvar = self.vae.encode(x, labels)
        z = self.vae.reparameterize(mu, logvar, generator=gen)
        recon, kl = vae_loss(self.vae.decode_logits(z, labels), x, mu, logvar)
        warmup = self.cfg.kl_warmup_steps
        beta = min(1.0, done / warmup) if warmup else 1.0
        _descend(self.optimizers[0], recon + beta * kl)
        return {"loss": (recon + kl).item(), "recon": recon.item(), "kl": kl.item()}

    @torch.no_grad()
    def snapshot(self):
        images = self.vae.decode(self.z_fixed, self.labels_fixed if self.k else None)
        return imaging.to_uint8(images), self.labels_fixed.numpy()

    def state(self):
        return self.vae.state_dict()


class _ClassifierSteps(_Steps):
    """Cross-entropy on (shifted) images; a snapshot shows the first 100 training images."""

    def __init__(self, clf: Classifier, cfg: TrainConfig, x: torch.Tensor, y: torch.Tensor):
        super().__init__(cfg, [torch.optim.Adam(clf.parameters(), lr=cfg.lr)])
        self.clf = clf
        self.shown = imaging.to_uint8(x), y.numpy()

    def step(self, x, y, gen, done):
        logits = self.clf(self.augment(x, gen))
        loss = F.cross_entropy(logits, y)
        _descend(self.optimizers[0], loss)
        return {"loss": loss.item(), "acc": (logits.argmax(1) == y).float().mean().item()}

    def snapshot(self):
        return self.shown

    def state(self):
        return self.clf.state_dict()
