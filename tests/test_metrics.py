"""The quality figures' rules, each said once and shared by whoever reports them."""

from __future__ import annotations

import numpy as np
import torch

from aigc import metrics
from aigc.evaluation import evaluate
from aigc.models import VAE, Classifier, ClassifierConfig, VAEConfig
from aigc.models.vae import vae_loss


def test_the_evaluation_and_the_latent_map_count_active_dimensions_by_one_rule(monkeypatch):
    # 0.07 nats: active by the evaluation's old cut (0.05), not by the latent map's old one (0.1)
    kl = np.array([0.07, 0.5, 0.04, 0.0])
    monkeypatch.setattr(metrics, "kl_per_dimension", lambda *_: kl)
    torch.manual_seed(0)
    vae = VAE(VAEConfig(hidden=32, z_dim=4)).eval()
    figures = evaluate(vae, Classifier(ClassifierConfig()).eval())
    assert figures["active_dims"] == metrics.active_dimensions(kl) == 2


def test_the_loss_and_the_per_dimension_figure_share_one_kl(small_mnist):
    torch.manual_seed(0)
    vae = VAE(VAEConfig(hidden=32, z_dim=4)).eval()
    x, _ = small_mnist.tensors()
    mu, logvar = vae.encode(x)
    _, kl = vae_loss(vae.decode_logits(mu), x, mu, logvar)
    per_dimension = metrics.kl_per_dimension(vae, x)
    assert per_dimension.shape == (4,) and (per_dimension >= 0).all()
    assert np.isclose(per_dimension.sum(), kl.item(), rtol=1e-5)


def test_checkerboard_energy_sees_a_dot_grid_and_not_a_smooth_picture():
    dots = torch.zeros(1, 1, 28, 28)
    dots[..., ::2, ::2] = 1.0  # every other pixel lit: the pattern a stride-2 layer leaves
    i = torch.arange(28.0)
    blob = torch.exp(-((i[:, None] - 14) ** 2 + (i[None, :] - 12) ** 2) / 40).view(1, 1, 28, 28)
    assert metrics.checkerboard_energy(dots) > 0.9
    assert metrics.checkerboard_energy(blob) < 0.01
    # the same dots faintly over the blob still show, well above the blob alone
    assert metrics.checkerboard_energy(blob + 0.1 * dots) > 10 * metrics.checkerboard_energy(blob)
