"""A variational autoencoder for 28x28 images (Kingma & Welling, 2014).

Two bodies share one piece of math (``encode -> (mu, logvar)``, ``reparameterize``,
``decode``): an MLP (784-400-z, as in PyTorch's examples), which takes ~10x more images per
second on a CPU and so wins a 10-second live run, and a convolutional one, which generalises
better from 4,500 digits and so wins when there are minutes to train.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from aigc.models.gan import as_class_weights, downsampler

# SiLU (Elfwing et al., 2018) in place of ReLU took the live MLP VAE from 110.9 to 109.2
# held-out nats after 10 s of training here (batch 128, Adam 3e-3, 2 seeds), at the same images
# per second; see aigc.recipes for the live recipe built on it.
ACTIVATIONS = {"relu": nn.ReLU, "silu": nn.SiLU}


@dataclass
class VAEConfig:
    dataset: str = "mnist"
    z_dim: int = 16
    num_classes: int = 0  # >0 conditions encoder and decoder on the label (a CVAE)
    arch: str = "mlp"  # "mlp" or "conv"
    hidden: int = 400
    width: int = 32  # conv channels (arch="conv" only)
    activation: str = "relu"  # of the fully connected layers: "relu" or "silu"
    # Encode x minus the training set's mean image (a buffer set by `start_at_mean`). Centred
    # inputs condition the first layer's gradients (LeCun et al., 1998, "Efficient BackProp"),
    # which is what lets the live MLP take a higher learning rate (see aigc.recipes).
    center_input: bool = False


class VAE(nn.Module):
    def __init__(self, config: VAEConfig):
        super().__init__()
        if config.arch not in ("mlp", "conv"):
            raise ValueError(f"unknown VAE arch {config.arch!r}: expected 'mlp' or 'conv'")
        if config.activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown VAE activation {config.activation!r}: expected 'relu' or 'silu'"
            )
        act = ACTIVATIONS[config.activation]
        self.config = config
        w, k, h = config.width, config.num_classes, config.hidden
        if config.arch == "conv":
            self.encoder = downsampler(w)
            n_feat = 2 * w * 49
            self.decoder = nn.Sequential(
                nn.LeakyReLU(0.2),
                nn.Unflatten(1, (2 * w, 7, 7)),
                nn.ConvTranspose2d(2 * w, w, 4, 2, 1),  # (B, w, 14, 14)
                nn.LeakyReLU(0.2),
                nn.ConvTranspose2d(w, 1, 4, 2, 1),  # (B, 1, 28, 28) logits
            )
        else:
            self.encoder = nn.Flatten()
            n_feat = 784
            self.decoder = nn.Unflatten(1, (1, 28, 28))
        self.enc_fc = nn.Sequential(nn.Linear(n_feat + k, h), act())
        self.mu = nn.Linear(h, config.z_dim)
        self.logvar = nn.Linear(h, config.z_dim)
        self.dec_fc = nn.Sequential(nn.Linear(config.z_dim + k, h), act(), nn.Linear(h, n_feat))
        if config.center_input:
            self.register_buffer("input_mean", torch.zeros(1, 1, 28, 28))

    @property
    def latent_dim(self) -> int:
        return self.config.z_dim

    def _with_label(self, h: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        if not self.config.num_classes:
            return h
        return torch.cat([h, as_class_weights(labels, self.config.num_classes, h.dtype)], dim=1)

    @torch.no_grad()
    def start_at_mean(self, mean_image: torch.Tensor) -> None:
        """Start the decoder at the data's mean image (its logit), so the first steps learn
        shapes instead of the average brightness: worth ~20 nats in the first second. A VAE
        with `center_input` also keeps the image to subtract from what it encodes."""
        if self.config.center_input:
            self.input_mean.copy_(mean_image.reshape(1, 1, 28, 28))
        p = mean_image.clamp(1e-3, 1 - 1e-3)
        logit = torch.log(p / (1 - p))
        if self.config.arch == "mlp":
            self.dec_fc[-1].bias.copy_(logit.flatten())
        else:
            self.decoder[-1].bias.fill_(logit.mean())

    def encode(
        self, x: torch.Tensor, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.config.center_input:
            x = x - self.input_mean
        h = self.enc_fc(self._with_label(self.encoder(x), labels))
        return self.mu(h), self.logvar(h).clamp(-12.0, 8.0)

    def reparameterize(
        self, mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
        return mu + eps * torch.exp(0.5 * logvar)

    def decode_logits(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(self.dec_fc(self._with_label(z, labels)))

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Latent (B, z_dim) -> Bernoulli means (B, 1, 28, 28) in [0, 1]."""
        return torch.sigmoid(self.decode_logits(z, labels))

    def forward(
        self, x: torch.Tensor, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x, labels)
        z = self.reparameterize(mu, logvar)
        return self.decode_logits(z, labels), mu, logvar


def vae_loss(
    logits: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Negative ELBO terms in nats per image: (reconstruction, KL).

    Reconstruction is the Bernoulli negative log-likelihood of the [0, 1] pixels.
    """
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]
    return recon, gaussian_kl(mu, logvar).sum() / x.shape[0]


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) of each image and latent dimension (B, D), in nats:
    the closed form for a diagonal Gaussian (Kingma & Welling, 2014, Appendix B)."""
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())
