"""Quality figures for a weights file, measured with the shipped classifier of its dataset."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from aigc import metrics, prior
from aigc.data import CLASS_NAMES, DATASETS
from aigc.data import load_shipped as load_images
from aigc.latent import generate, sample_latents
from aigc.metrics import CONFIDENT
from aigc.models import GAN, VAE, Classifier
from aigc.weights import load_shipped


@torch.no_grad()
def evaluate(
    model: nn.Module,
    classifier: Classifier | None = None,
    seed: int = 0,
    *,
    judge: str | None = None,
    class_names: Sequence[str] = (),
) -> dict[str, float]:
    """Figures for one model: GANs and VAEs are scored on 1,000 samples (100 per class for a
    conditional model) against the held-out split, a VAE's under N(0, I) and under its fitted
    prior (`aigc.prior`), a GAN's checkerboard beside the held-out images'; classifiers by
    held-out accuracy. A model trained on a user's own images is judged by
    :func:`judge_own_images` (`judge`, `class_names`)."""
    dataset = model.config.dataset
    if dataset not in DATASETS:
        return judge_own_images(model, class_names, judge, classifier, seed)
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


@torch.no_grad()
def judge_own_images(
    model: nn.Module,
    class_names: Sequence[str],
    judge: str | None,
    classifier: Classifier | None = None,
    seed: int = 0,
    n: int = 1000,
) -> dict[str, float]:
    """Figures for a model trained on a user's own images, by the shipped classifier of
    `judge` whose classes they are (folders named 0 to 9 are judged by MNIST's): the share of
    samples it takes for the class they were drawn for, and how sure it is. The held-out figures
    of :func:`evaluate` would need held-out images of the user's own, which no file carries.

    Raises:
        ValueError: no judge named, or a class that is not one of the judge's.
    """
    if judge is None:
        raise ValueError(
            "trained on your own images: name the shipped classifier that knows its classes "
            "(--judge mnist for folders named 0 to 9)"
        )
    known = CLASS_NAMES[judge]
    unknown = [name for name in class_names if name not in known]
    if model.config.num_classes and (unknown or len(class_names) != model.config.num_classes):
        raise ValueError(
            f"the {judge} classifier does not know the classes {', '.join(unknown) or '?'}; it "
            f"knows {', '.join(known)}"
        )
    classifier = classifier or load_shipped(f"classifier_{judge}")
    z = sample_latents(n, model.latent_dim, seed)
    k = model.config.num_classes
    labels = torch.arange(n) % k if k else None
    scores = metrics.classify(classifier, generate(model.eval(), z, labels))
    out: dict[str, float] = {}
    if labels is not None:
        wanted = torch.tensor([known.index(name) for name in class_names])[labels]
        out["class_agreement"] = float((scores.labels == wanted.numpy()).mean())
    out["mean_confidence"] = float(scores.confidence.mean())
    out["confident_share"] = float((scores.confidence > CONFIDENT).mean())
    return out
