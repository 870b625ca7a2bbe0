"""Quality figures for a weights file, measured with the shipped classifier of its dataset."""

from __future__ import annotations

import torch
from torch import nn

from aigc import metrics, prior
from aigc.data import load_shipped as load_images
from aigc.latent import generate, sample_latents
from aigc.models import GAN, VAE, Classifier
from aigc.weights import load_shipped

CONFIDENT = 0.9  # a sample "recognisable": the classifier is more than this sure of its class


@torch.no_grad()
def evaluate(
    model: nn.Module, classifier: Classifier | None = None, seed: int = 0
) -> dict[str, float]:
    """Figures for one model: GANs and VAEs are scored on 1,000 samples (100 per class for a
    conditional model) against the held-out split, a VAE's under N(0, I) and under its fitted
    prior (`aigc.prior`), a GAN's checkerboard beside the held-out images'; classifiers by
    held-out accuracy."""
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
    x_train, y_train = load_images(dataset, "train").tensors()
    sub = x_train[
        torch.randperm(len(x_train), generator=torch.Generator().manual_seed(seed))[: len(x_test)]
    ]
    out["frechet_real_vs_real"] = metrics.frechet_distance(
        metrics.features(classifier, sub), real_feat
    )
    out["confident_share"] = float((scores.confidence > CONFIDENT).mean())
    out["real_confident_share"] = float(
        (metrics.classify(classifier, x_test).confidence > CONFIDENT).mean()
    )
    if isinstance(model, VAE):
        # The same decoder and the same noise, from a mixture fitted to the training codes.
        fitted = prior.fit_to(model, x_train, y_train, seed)
        picks = prior.picks(list(range(seed, seed + n)))
        shown = generate(model, fitted.latents(z, picks), labels)
        judged = metrics.classify(classifier, shown)
        out["fitted_confident_share"] = float((judged.confidence > CONFIDENT).mean())
        out["fitted_class_entropy_ratio"] = metrics.class_entropy_ratio(judged.labels)
        out["fitted_frechet_distance"] = metrics.frechet_distance(
            metrics.features(classifier, shown), real_feat
        )
        out["heldout_nats"] = metrics.vae_heldout_nats(model, x_test, y_test)
        kl = metrics.kl_per_dimension(model, x_test, y_test)
        out["active_dims"] = float(metrics.active_dimensions(kl))
    if isinstance(model, GAN):
        out["mean_realness"] = float(model.realness(images, labels).mean())
        out["checkerboard_energy"] = metrics.checkerboard_energy(images)
        out["real_checkerboard_energy"] = metrics.checkerboard_energy(x_test)
    return out
