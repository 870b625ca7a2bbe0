"""The live recipe: seeded model building, and one setup shared by the Train page and the bench."""

from __future__ import annotations

import torch

from aigc import metrics, recipes
from aigc.bench.live import live_run
from aigc.latent import generate, sample_latents
from aigc.recipes import LIVE_SNAPSHOT_EVERY, new_model


def test_new_model_is_seeded_and_leaves_the_global_stream_alone(small_mnist):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a = new_model("gan", small_mnist, conditional=True, seed=7)
    assert torch.equal(torch.rand(3), expected)
    b = new_model("gan", small_mnist, conditional=True, seed=7)
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key])
    vae = new_model("vae", small_mnist, conditional=False, seed=7)
    assert vae.config.num_classes == 0


class RecordingManager:
    """Stands in for the RunManager: keeps what the page would have queued."""

    def submit(self, model, images, config, *, scorer=None) -> str:
        self.model, self.images, self.config = model, images, config
        return "run-id"


def test_the_bench_times_the_run_the_page_queues():
    page = RecordingManager()
    assert recipes.submit_live(page, "vae", "mnist", seed=3, lr=2e-3, seconds=5.0) == "run-id"
    bench = live_run("vae", page.images, 3, lr=2e-3, seconds=5.0)
    assert bench.config == page.config
    assert page.config.snapshot_every == LIVE_SNAPSHOT_EVERY["vae"] and page.config.seed == 3
    for key, value in page.model.state_dict().items():
        assert torch.equal(bench.model.state_dict()[key], value), key


def test_the_live_gan_starts_without_the_checkerboard_of_transposed_convolutions(small_mnist):
    real = metrics.checkerboard_energy(small_mnist.tensors()[0])
    z, labels = sample_latents(100, 32, 0), torch.arange(100) % 10
    live, old = (
        metrics.checkerboard_energy(
            generate(new_model("gan", small_mnist, seed=0, **kw).eval(), z, labels)
        )
        for kw in ({}, {"upsample": "transposed"})
    )
    assert live < 2 * real < 10 * real < old
