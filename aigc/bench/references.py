"""Reference models to hold ours against, written here from their published descriptions
(no code copied), with the training step each description gives.

- :class:`ReferenceVAE`: the VAE of PyTorch's examples (``vae/main.py``, after Kingma &
  Welling, 2014): a 784-400-20 MLP with ReLU, a Bernoulli decoder, loss = summed binary cross
  entropy + KL, Adam 1e-3, batch 128, unconditional.
- :class:`ReferenceDCGAN`: DCGAN (Radford et al., 2015) at 28x28: BatchNorm in both nets (not
  on G's output or D's input), ReLU in G with a tanh output, LeakyReLU 0.2 in D, weights drawn
  from N(0, 0.02), Adam 2e-4 with beta1 0.5, batch 128, the non-saturating BCE loss. Made
  class-conditional the simplest standard way (Mirza & Osindero, 2014): the one-hot label is
  concatenated to z, and to D's input as 10 constant planes, so classifier agreement is defined.

Both speak enough of our models' interface (``config.dataset``, ``config.num_classes``,
``latent_dim``, ``decode``; the VAE also ``encode``, ``reparameterize`` and ``decode_logits``)
for :func:`aigc.evaluation.evaluate` and :mod:`aigc.metrics` to score them with the very code
that scores ours.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from aigc.models.vae import VAE, vae_loss

StepFn = Callable[[torch.Tensor, torch.Tensor, torch.Generator], None]


@dataclass
class ReferenceVAEConfig:
    dataset: str = "mnist"
    z_dim: int = 20  # as published; 16 matches our VAE's latent size
    hidden: int = 400
    num_classes: int = 0  # unconditional, as published


class ReferenceVAE(nn.Module):
    def __init__(self, config: ReferenceVAEConfig):
        super().__init__()
        self.config = config
        self.fc1 = nn.Linear(784, config.hidden)
        self.fc21 = nn.Linear(config.hidden, config.z_dim)  # mu
        self.fc22 = nn.Linear(config.hidden, config.z_dim)  # log variance
        self.fc3 = nn.Linear(config.z_dim, config.hidden)
        self.fc4 = nn.Linear(config.hidden, 784)

    @property
    def latent_dim(self) -> int:
        return self.config.z_dim

    def encode(
        self, x: torch.Tensor, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        h = F.relu(self.fc1(x.flatten(1)))
        return self.fc21(h), self.fc22(h)

    reparameterize = VAE.reparameterize  # the same trick, z = mu + sigma * eps

    def decode_logits(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.fc4(F.relu(self.fc3(z))).view(-1, 1, 28, 28)

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return torch.sigmoid(self.decode_logits(z))


def reference_vae_step(vae: ReferenceVAE) -> StepFn:
    """One step as published: summed BCE + KL over the batch, Adam 1e-3."""
    opt = torch.optim.Adam(vae.parameters(), lr=1e-3)

    def step(x: torch.Tensor, y: torch.Tensor, g: torch.Generator) -> None:
        mu, logvar = vae.encode(x)
        z = vae.reparameterize(mu, logvar, generator=g)
        recon, kl = vae_loss(vae.decode_logits(z), x, mu, logvar)  # per image ...
        opt.zero_grad(set_to_none=True)
        ((recon + kl) * x.shape[0]).backward()  # ... summed over the batch, as published
        opt.step()

    return step


@dataclass
class ReferenceDCGANConfig:
    dataset: str = "mnist"
    z_dim: int = 100
    num_classes: int = 10
    g_width: int = 64  # G: 2w x 7 x 7 -> w x 14 x 14 -> 1 x 28 x 28
    d_width: int = 64  # D: (1 + K) x 28 x 28 -> w x 14 x 14 -> 2w x 7 x 7 -> 1


class ReferenceDCGAN(nn.Module):
    def __init__(self, config: ReferenceDCGANConfig):
        super().__init__()
        self.config = config
        g, d, k = config.g_width, config.d_width, config.num_classes
        self.generator = nn.Sequential(
            nn.Linear(config.z_dim + k, 2 * g * 49),  # DCGAN's "project and reshape"
            nn.Unflatten(1, (2 * g, 7, 7)),
            nn.BatchNorm2d(2 * g),
            nn.ReLU(),
            nn.ConvTranspose2d(2 * g, g, 4, 2, 1),  # (B, g, 14, 14)
            nn.BatchNorm2d(g),
            nn.ReLU(),
            nn.ConvTranspose2d(g, 1, 4, 2, 1),  # (B, 1, 28, 28)
            nn.Tanh(),
        )
        self.discriminator = nn.Sequential(
            nn.Conv2d(1 + k, d, 4, 2, 1),  # (B, d, 14, 14)
            nn.LeakyReLU(0.2),
            nn.Conv2d(d, 2 * d, 4, 2, 1),  # (B, 2d, 7, 7)
            nn.BatchNorm2d(2 * d),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
            nn.Linear(2 * d * 49, 1),
        )
        for m in self.modules():  # Radford et al.: all weights from N(0, 0.02)
            if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.02)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight, 1.0, 0.02)
                nn.init.zeros_(m.bias)

    @property
    def latent_dim(self) -> int:
        return self.config.z_dim

    def _one_hot(self, labels: torch.Tensor) -> torch.Tensor:
        return F.one_hot(labels, self.config.num_classes).float()

    def generate(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Images in tanh's [-1, 1], the range the nets train in."""
        return self.generator(torch.cat([z, self._one_hot(labels)], 1))

    def judge(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Realness logits (B,) of [-1, 1] images for their labels."""
        planes = self._one_hot(labels)[:, :, None, None].expand(-1, -1, 28, 28)
        return self.discriminator(torch.cat([x, planes], 1)).squeeze(1)

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Latent (B, z_dim) and labels (B,) -> images (B, 1, 28, 28) in [0, 1], like ours."""
        return (self.generate(z, labels) + 1) / 2


def reference_dcgan_step(gan: ReferenceDCGAN) -> StepFn:
    """One step as published: D on real vs fake with BCE, then G with the non-saturating loss
    (maximise log D(G(z)) rather than minimise log(1 - D(G(z))))."""
    opt_g = torch.optim.Adam(gan.generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(gan.discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    k, z_dim = gan.config.num_classes, gan.config.z_dim

    def step(x: torch.Tensor, y: torch.Tensor, g: torch.Generator) -> None:
        b = x.shape[0]
        real = x * 2 - 1  # [0, 1] -> tanh's [-1, 1]
        z = torch.randn(b, z_dim, generator=g)
        y_fake = torch.randint(0, k, (b,), generator=g)
        fake = gan.generate(z, y_fake)
        d_real, d_fake = gan.judge(real, y), gan.judge(fake.detach(), y_fake)
        loss_d = F.binary_cross_entropy_with_logits(
            d_real, torch.ones_like(d_real)
        ) + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        d_gen = gan.judge(fake, y_fake)
        loss_g = F.binary_cross_entropy_with_logits(d_gen, torch.ones_like(d_gen))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()

    return step


def train_for(
    step: StepFn, x: torch.Tensor, y: torch.Tensor, seconds: float, batch_size: int, seed: int
) -> tuple[int, float]:
    """Run `step` over shuffled batches of in-memory tensors for `seconds` of step time;
    return (steps, seconds spent in steps)."""
    gen = torch.Generator().manual_seed(seed)
    n, elapsed, steps = len(x), 0.0, 0
    order, cursor = torch.randperm(n, generator=gen), 0
    while elapsed < seconds:
        t0 = time.perf_counter()
        if cursor + batch_size > n:
            order, cursor = torch.randperm(n, generator=gen), 0
        idx = order[cursor : cursor + batch_size]
        cursor += batch_size
        step(x[idx], y[idx], gen)
        steps += 1
        elapsed += time.perf_counter() - t0
    return steps, elapsed
