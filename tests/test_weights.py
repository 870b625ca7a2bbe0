"""Every shipped weights file loads, matches the manifest, and clears a (loose) quality floor."""

import hashlib

import pytest

from aigc.evaluation import evaluate
from aigc.weights import SHIPPED, load_shipped, manifest, shipped_path


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_file_matches_its_manifest_entry(name):
    entry = manifest()[name]
    assert hashlib.sha256(shipped_path(name).read_bytes()).hexdigest() == entry["sha256"]
    assert entry["provenance"]["command"].startswith("python -m aigc train")
    model = load_shipped(name)
    assert not model.training


FLOORS = {
    "classifier_mnist": {"test_accuracy": (">=", 0.97)},
    "classifier_fashion": {"test_accuracy": (">=", 0.83)},
    "gan_mnist": {"class_agreement": (">=", 0.95), "class_entropy_ratio": (">=", 0.95)},
    "gan_fashion": {"class_agreement": (">=", 0.85), "class_entropy_ratio": (">=", 0.95)},
    "vae_mnist": {"heldout_nats": ("<=", 100.0), "class_entropy_ratio": (">=", 0.9)},
    "vae_fashion": {"heldout_nats": ("<=", 245.0), "fitted_class_entropy_ratio": (">=", 0.93)},
    "vae2d_mnist": {"heldout_nats": ("<=", 185.0)},
    "vae2d_fashion": {"heldout_nats": ("<=", 300.0)},
}


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_clears_its_quality_floor(name):
    figures = evaluate(load_shipped(name))
    for key, (op, bound) in FLOORS[name].items():
        value = figures[key]
        assert value >= bound if op == ">=" else value <= bound, (
            f"{name}: {key}={value:.4g}, floor {op} {bound}"
        )
