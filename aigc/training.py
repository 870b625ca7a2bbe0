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
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

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


@dataclass
class Progress:
    step: int
    epoch: float
    elapsed: float  # seconds of training, pauses excluded
    images_per_s: float
    losses: dict[str, float]
    samples: np.ndarray | None = None  # (N, 28, 28) uint8 from fixed noise, every snapshot
    sample_labels: np.ndarray | None = None  # (N,) class of each sample, -1 if unconditional
    finished: bool = False
    reason: str = ""  # why it finished: "steps", "time", "stopped" or "diverged: ..."
    diverged: bool = field(default=False)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(B, 1, 28, 28) in [0, 1] -> (B, 28, 28) uint8, ink bright on dark like the datasets."""
    return (images.detach().clamp(0, 1) * 255).round().to(torch.uint8).squeeze(1).numpy()


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
        self._optimizers: list[torch.optim.Optimizer] = []

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
        step_fn, fixed, kept_state = self._setup()
        n = self.x.shape[0]
        elapsed = 0.0
        last_losses: dict[str, float] = {}
        order = torch.randperm(n, generator=gen)
        cursor = 0
        bad = ""
        while True:
            reason = self._finish_reason(elapsed)
            if reason:
                break
            if not self._running.is_set():
                self._running.wait()
                continue
            t0 = time.perf_counter()
            if cursor + cfg.batch_size > n:
                order, cursor = torch.randperm(n, generator=gen), 0
            idx = order[cursor : cursor + cfg.batch_size]
            cursor += cfg.batch_size
            x, y = self.x[idx], self.y[idx]
            if cfg.lr_decay:
                self._set_lr_scale(1 - 0.9 * self._fraction_done(elapsed))
            losses = step_fn(x, y, gen)
            self.step += 1
            elapsed += time.perf_counter() - t0
            bad = self._divergence(losses)
            if bad:
                reason = f"diverged: {bad} at step {self.step}; the last good weights are kept"
                break
            last_losses = losses
            if self.step % cfg.snapshot_every == 0:
                self._good_state = copy.deepcopy(kept_state())
                yield self._event(elapsed, losses, fixed)
        self.model.load_state_dict(self._good_state if bad else kept_state())
        final = self._event(elapsed, last_losses, fixed)
        if bad:  # the snapshot would come from the broken weights; the last good one stands
            final.samples = final.sample_labels = None
        final.finished, final.reason = True, reason
        final.diverged = reason.startswith("diverged")
        self.model.eval()
        yield final

    def _finish_reason(self, elapsed: float) -> str:
        if self._stop.is_set():
            return "stopped"
        if self.config.steps is not None and self.step >= self.config.steps:
            return "steps"
        if self.config.seconds is not None and elapsed >= self.config.seconds:
            return "time"
        return ""

    def _fraction_done(self, elapsed: float) -> float:
        cfg = self.config
        by_steps = self.step / cfg.steps if cfg.steps else 0.0
        by_time = elapsed / cfg.seconds if cfg.seconds else 0.0
        return min(1.0, max(by_steps, by_time))

    def _set_lr_scale(self, scale: float) -> None:
        for opt in self._optimizers:
            for group in opt.param_groups:
                group["lr"] = self.config.lr * scale

    def _divergence(self, losses: dict[str, float]) -> str:
        for name, value in losses.items():
            if not math.isfinite(value):
                return f"{name} loss became {value}"
        for name, p in self.model.named_parameters():
            if not torch.isfinite(p).all():
                return f"weight {name} became non-finite"
        return ""

    def _event(self, elapsed: float, losses: dict[str, float], fixed) -> Progress:
        images, labels = fixed()
        return Progress(
            step=self.step,
            epoch=self.step * self.config.batch_size / self.x.shape[0],
            elapsed=elapsed,
            images_per_s=self.step * self.config.batch_size / max(elapsed, 1e-9),
            losses=dict(losses),
            samples=images,
            sample_labels=labels,
        )

    def _setup(self):
        """Return (step function, fixed-noise snapshot function, state to keep) for this kind."""
        m = self.model
        if isinstance(m, GAN):
            return _gan_steps(m, self.config, self._optimizers)
        if isinstance(m, VAE):
            return _vae_steps(m, self.config, self._optimizers, lambda: self.step)
        if isinstance(m, Classifier):
            return _classifier_steps(m, self.config, self._optimizers, (self.x, self.y))
        raise TypeError(f"cannot train a {type(m).__name__}")


def fixed_labels(num_classes: int, n: int = 100) -> torch.Tensor:
    """Labels for a snapshot grid: one row of 10 per class, so each row shows one class."""
    if not num_classes:
        return torch.full((n,), -1)
    return torch.arange(num_classes).repeat_interleave(max(1, n // num_classes))[:n]


def _gan_steps(gan: GAN, cfg: TrainConfig, optimizers: list):
    G, D, k = gan.generator, gan.discriminator, gan.config.num_classes
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=(0.5, 0.999))
    optimizers += [opt_g, opt_d]
    snap_gen = torch.Generator().manual_seed(cfg.seed + 1)
    labels_fixed = fixed_labels(k)
    z_fixed = torch.randn(len(labels_fixed), gan.config.z_dim, generator=snap_gen)
    # The averaged generator is what is shown and kept: a raw GAN generator swings from step to
    # step, its average settles, so the grid the page shows is stable rather than a lucky step.
    G_avg = copy.deepcopy(G).eval()
    n_steps = [0]

    @torch.no_grad()
    def update_average():
        n_steps[0] += 1
        decay = min(cfg.ema, n_steps[0] / (n_steps[0] + 10))
        for p_avg, p in zip(G_avg.parameters(), G.parameters(), strict=True):
            p_avg.lerp_(p, 1 - decay)
        for b_avg, b in zip(G_avg.buffers(), G.buffers(), strict=True):
            b_avg.copy_(b)

    def aug(x, g):
        return _shift(x, g, cfg.shift_pixels) if cfg.augment else x

    def step(x, y, g):
        b = x.shape[0]
        z = torch.randn(b, gan.config.z_dim, generator=g)
        yf = torch.randint(0, k, (b,), generator=g) if k else None
        fake = G(z, yf)
        # Discriminator: hinge loss (Lim & Ye, 2017) plus the auxiliary class loss on real images.
        d_real, c_real = D(aug(x, g), y if k else None)
        d_fake, _ = D(aug(fake.detach(), g), yf)
        loss_d = F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
        if k:
            loss_d = loss_d + cfg.class_weight * F.cross_entropy(c_real, y)
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        # Generator: fool D and be classified as the requested class.
        g_fake, c_fake = D(aug(fake, g), yf)
        loss_g = -g_fake.mean()
        if k:
            loss_g = loss_g + cfg.class_weight * F.cross_entropy(c_fake, yf)
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        update_average()
        return {
            "g": loss_g.item(),
            "d": loss_d.item(),
            "d_real": torch.sigmoid(d_real).mean().item(),
            "d_fake": torch.sigmoid(d_fake).mean().item(),
        }

    @torch.no_grad()
    def fixed():
        return to_uint8(G_avg(z_fixed, labels_fixed if k else None)), labels_fixed.numpy()

    def kept_state():
        state = gan.state_dict()
        state.update({f"generator.{name}": t for name, t in G_avg.state_dict().items()})
        return state

    return step, fixed, kept_state


def _vae_steps(vae: VAE, cfg: TrainConfig, optimizers: list, step_of):
    opt = torch.optim.Adam(vae.parameters(), lr=cfg.lr)
    optimizers.append(opt)
    k = vae.config.num_classes
    snap_gen = torch.Generator().manual_seed(cfg.seed + 1)
    labels_fixed = fixed_labels(k)
    z_fixed = torch.randn(len(labels_fixed), vae.config.z_dim, generator=snap_gen)

    def step(x, y, g):
        x = _shift(x, g, cfg.shift_pixels) if cfg.augment else x
        labels = y if k else None
        mu, logvar = vae.encode(x, labels)
        z = vae.reparameterize(mu, logvar, generator=g)
        recon, kl = vae_loss(vae.decode_logits(z, labels), x, mu, logvar)
        beta = min(1.0, step_of() / cfg.kl_warmup_steps) if cfg.kl_warmup_steps else 1.0
        loss = recon + beta * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": (recon + kl).item(), "recon": recon.item(), "kl": kl.item()}

    @torch.no_grad()
    def fixed():
        images = vae.decode(z_fixed, labels_fixed if k else None)
        return to_uint8(images), labels_fixed.numpy()

    return step, fixed, vae.state_dict


def _classifier_steps(clf: Classifier, cfg: TrainConfig, optimizers: list, data):
    opt = torch.optim.Adam(clf.parameters(), lr=cfg.lr)
    optimizers.append(opt)

    def step(x, y, g):
        logits = clf(_shift(x, g, cfg.shift_pixels) if cfg.augment else x)
        loss = F.cross_entropy(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": loss.item(), "acc": (logits.argmax(1) == y).float().mean().item()}

    def fixed():
        return to_uint8(data[0][:100]), data[1][:100].numpy()

    return step, fixed, clf.state_dict
