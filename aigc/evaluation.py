"""Quality figures for a weights file, measured with the shipped classifier of its dataset."""

from __future__ import annotations

import torch
from torch import nn

from aigc import metrics
from aigc.data import load_shipped as load_images
from aigc.latent import generate, sample_latents
from aigc.models import GAN, VAE, Classifier
from aigc.weights import load_shipped


@torch.no_grad()
def evaluate(
    model: nn.Module, classifier: Classifier | None = None, seed: int = 0
) -> dict[str, float]:
    """Figures for one model: GANs and VAEs are scored on 1,000 samples (100 per class for a
    conditional model) against the held-out split; classifiers by held-out accuracy."""
    dataset = model.config.dataset
    x_test, y_test = load_images(dataset, "test").tensors()
    if isinstance(model, Classifier):
        return {
            "test_accuracy": float(
                (metrics.classify(model, x_test).labels == y_test.numpy()).mean()
            )
        }
    classifier = classifier or load_shipped(f"classifier_{dataset}")
    out: dict[str, float] = {}
    n = 1000
    z = sample_latents(n, model.latent_dim, seed)
    labels = torch.arange(n) % 10 if model.config.num_classes else None
    images = generate(model.eval(), z, labels)
    scores = metrics.classify(classifier, images)
    if labels is not None:
        out["class_agreement"] = float((scores.labels == labels.numpy()).mean())
    out["mean_confidence"] = float(scores.confidence.mean())
    out["class_entropy_ratio"] = metrics.class_entropy_ratio(scores.labels)
    real_feat = metrics.features(classifier, x_test)
    out["frechet_distance"] = metrics.frechet_distance(
        metrics.features(classifier, images), real_feat
    )
    x_train, _ = load_images(dataset, "train").tensors()
    sub = x_train[
        torch.randperm(len(x_train), generator=torch.Generator().manual_seed(seed))[: len(x_test)]
    ]
    out["frechet_real_vs_real"] = metrics.frechet_distance(
        metrics.features(classifier, sub), real_feat
    )
    if isinstance(model, VAE):
        out["heldout_nats"] = metrics.vae_heldout_nats(model, x_test, y_test)
        kl = metrics.kl_per_dimension(model, x_test, y_test)
        out["active_dims"] = float(metrics.active_dimensions(kl))
    if isinstance(model, GAN):
        out["mean_realness"] = float(model.realness(images, labels).mean())
    return out
