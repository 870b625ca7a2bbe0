"""A small class-conditional GAN for 28x28 images, sized to learn in seconds on a CPU.

The discriminator judges "real or fake" with a projection term (Miyato & Koyama, 2018) and also
names the class (an auxiliary classifier, Odena et al., 2017). The auxiliary head is what makes
"show me a 7" come true within seconds: the generator gets a direct class signal from step one
instead of waiting for the adversarial game to discover it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass
class GANConfig:
    dataset: str = "mnist"
    z_dim: int = 32
    num_classes: int = 10  # 0 makes an unconditional GAN
    g_width: int = 32
    d_width: int = 16
    # How G doubles the resolution: "transposed" (4x4 stride-2 transposed convolutions, which
    # leave a checkerboard; the default, so files from before this field load as they were) or
    # "nearest" (nearest upsample, then a 3x3 conv: the live recipe and the shipped files).
    upsample: str = "transposed"


def as_class_weights(labels: torch.Tensor, num_classes: int, dtype: torch.dtype) -> torch.Tensor:
    """(B,) indices -> (B, K) one-hot; (B, K) weights pass through, so classes can be blended."""
    if labels.dim() == 2:
        return labels.to(dtype)
    return F.one_hot(labels, num_classes).to(dtype)


def downsampler(w: int) -> nn.Sequential:
    """(B, 1, 28, 28) -> (B, 2w * 7 * 7) features in two strided 4x4 convolutions: the body of
    the GAN's discriminator and of the conv VAE's encoder (the layer indices are the keys in
    their weights files)."""
    return nn.Sequential(
        nn.Conv2d(1, w, 4, 2, 1),  # (B, w, 14, 14)
        nn.LeakyReLU(0.2),
        nn.Conv2d(w, 2 * w, 4, 2, 1),  # (B, 2w, 7, 7)
        nn.LeakyReLU(0.2),
        nn.Flatten(),
    )


UPSAMPLERS = ("transposed", "nearest")


def spread_over_box(kernel: torch.Tensor) -> torch.Tensor:
    """(C_in, C_out, 3, 3) -> (C_in, C_out, 4, 4): the 3x3 kernel convolved with a 2x2 box. As a
    4x4 stride-2 transposed kernel it computes nearest-upsample-then-3x3-conv: every output
    pixel gets the same total weight whatever its place in the 2x2 grid, so there is no
    checkerboard (Odena et al., Distill 2016)."""
    return sum(F.pad(kernel, (a, 1 - a, b, 1 - b)) for a in (0, 1) for b in (0, 1))


class NearestConv(nn.Module):
    """Nearest 2x upsample then a 3x3 conv, trained as one stride-2 transposed conv with the
    kernel :func:`spread_over_box` makes: the same numbers at 4 multiply-adds per output pixel
    and channel pair instead of 9. The weights are a Conv2d's, (C_out, C_in, 3, 3)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        conv = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.weight, self.bias = conv.weight, conv.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.onnx.is_in_onnx_export():
            # The exporter needs a kernel of known shape; ONNX's Resize (nearest) and Conv
            # compute the same pictures, and onnxruntime-web runs both.
            return F.conv2d(
                F.interpolate(x, scale_factor=2, mode="nearest"), self.weight, self.bias, padding=1
            )
        kernel = spread_over_box(self.weight.transpose(0, 1).flip(2, 3))  # (C_in, C_out, 4, 4)
        return F.conv_transpose2d(x, kernel, self.bias, 2, 1)


def upsampler(c_in: int, c_out: int, kind: str) -> nn.Module:
    """A layer that doubles the resolution (see :attr:`GANConfig.upsample`)."""
    if kind == "nearest":
        return NearestConv(c_in, c_out)
    if kind == "transposed":
        return nn.ConvTranspose2d(c_in, c_out, 4, 2, 1)
    raise ValueError(f"unknown upsample {kind!r}: expected one of {', '.join(UPSAMPLERS)}")


class Generator(nn.Module):
    def __init__(self, config: GANConfig):
        super().__init__()
        self.config = config
        w = config.g_width
        self.fc = nn.Sequential(
            nn.Linear(config.z_dim + config.num_classes, 2 * w * 7 * 7),
            nn.BatchNorm1d(2 * w * 7 * 7),
            nn.ReLU(),
        )
        self.up = nn.Sequential(
            upsampler(2 * w, w, config.upsample),  # (B, w, 14, 14)
            nn.BatchNorm2d(w),
            nn.ReLU(),
            upsampler(w, 1, config.upsample),  # (B, 1, 28, 28)
            nn.Sigmoid(),
        )

    def hidden(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 2w * 7 * 7) activations of the first layer, the class joined to the latent: the
        layer GANSpace looks for directions in (see :func:`aigc.latent.principal_directions`)."""
        if self.config.num_classes:
            z = torch.cat([z, as_class_weights(labels, self.config.num_classes, z.dtype)], dim=1)
        return self.fc(z)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """labels: (B,) class indices, or (B, K) class weights to blend classes ("3 into 8")."""
        return self.up(self.hidden(z, labels).view(-1, 2 * self.config.g_width, 7, 7))


class Discriminator(nn.Module):
    def __init__(self, config: GANConfig):
        super().__init__()
        self.config = config
        w = config.d_width
        self.features = downsampler(w)
        n_feat = 2 * w * 7 * 7
        self.realness = nn.Linear(n_feat, 1)
        if config.num_classes:
            weight = torch.empty(config.num_classes, n_feat)
            # Skipped on the meta device, where checkpoint loading builds a model only to check
            # a file's shapes: a normal draw there imports torch._dynamo, ~2 s of the page's
            # first paint. Drawn twice (nn.Embedding's own N(0, 1) init, then ours) so that the
            # random stream, and so each shipped file's seed, gives the same weights as before.
            if weight.device.type != "meta":
                weight.normal_()
                weight.normal_(0.0, 0.01)
            self.projection = nn.Embedding(config.num_classes, n_feat, _weight=weight)
            self.classifier = nn.Linear(n_feat, config.num_classes)

    def forward(
        self, x: torch.Tensor, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return (realness logit (B,), class logits (B, K) or None)."""
        h = self.features(x)
        score = self.realness(h).squeeze(1)
        if not self.config.num_classes:
            return score, None
        if labels is not None:
            score = score + (self.projection(labels) * h).sum(1)
        return score, self.classifier(h)


class GAN(nn.Module):
    """Generator and discriminator kept together so one checkpoint holds the whole game."""

    def __init__(self, config: GANConfig):
        super().__init__()
        self.config = config
        self.generator = Generator(config)
        self.discriminator = Discriminator(config)

    @property
    def latent_dim(self) -> int:
        return self.config.z_dim

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Latent (B, z_dim) -> images (B, 1, 28, 28) in [0, 1]."""
        return self.generator(z, labels)

    def realness(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Probability (B,) that the discriminator takes each image for a real one."""
        return torch.sigmoid(self.discriminator(x, labels)[0])
