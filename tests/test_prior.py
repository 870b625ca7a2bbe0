"""A VAE's fitted prior (`aigc.prior`): reproducible, it samples where the codes lie, and the
shipped VAEs' samples under it are more often recognisable than under N(0, I)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aigc import prior
from aigc.cli import main
from aigc.evaluation import evaluate
from aigc.weights import load_shipped, shipped_path


def _clusters(n: int = 600) -> tuple[torch.Tensor, torch.Tensor]:
    """Codes in two tight clusters far from the origin, where N(0, I) puts little mass."""
    gen = torch.Generator().manual_seed(0)
    centres = torch.tensor([[4.0, 4.0], [-4.0, 3.0]])
    which = torch.arange(n) % 2
    return centres[which] + 0.2 * torch.randn(n, 2, generator=gen), centres


def test_the_same_codes_and_seed_give_the_same_prior():
    codes, _ = _clusters()
    a, b, c = prior.fit(codes, 4), prior.fit(codes, 4), prior.fit(codes, 4, seed=1)
    assert all(torch.equal(x, y) for x, y in zip(vars(a).values(), vars(b).values(), strict=True))
    assert not torch.equal(a.means, c.means), "the seed picks where EM starts"
    assert float(a.weights.sum()) == pytest.approx(1.0)


def test_its_samples_lie_where_the_codes_are_and_the_normal_ones_do_not():
    codes, centres = _clusters()
    fitted = prior.fit(codes, 4)
    noise = torch.randn(500, 2, generator=torch.Generator().manual_seed(5))
    z = fitted.latents(noise, prior.picks(list(range(500))))
    near = lambda points: torch.cdist(points, centres).min(1).values  # noqa: E731
    assert float(near(z).median()) < 0.5 < float(near(noise).median())
    assert float(fitted.log_density(z).mean()) > float(fitted.log_density(noise).mean()) + 5
    share = float((torch.cdist(z, centres).argmin(1) == 0).float().mean())
    assert 0.4 < share < 0.6, "both clusters drawn in proportion"


def test_a_seed_names_one_latent_under_it():
    codes, _ = _clusters()
    fitted = prior.fit(codes, 4)
    noise = torch.randn(3, 2, generator=torch.Generator().manual_seed(9))
    picks = prior.picks([7, 8, 9])
    assert torch.equal(fitted.latents(noise, picks), fitted.latents(noise, prior.picks([7, 8, 9])))
    assert torch.equal(prior.picks([7]), prior.picks([7, 8])[:1])


@pytest.mark.skipif(not shipped_path("vae_mnist").is_file(), reason="shipped VAE missing")
def test_the_shipped_vaes_samples_are_more_recognisable_under_the_fitted_prior():
    figures = evaluate(load_shipped("vae_mnist"))
    assert figures["fitted_confident_share"] > figures["confident_share"] + 0.1
    assert figures["fitted_frechet_distance"] < figures["frechet_distance"]
    assert figures["fitted_class_entropy_ratio"] >= 0.95, "no class lost"


@pytest.mark.skipif(not shipped_path("vae_mnist").is_file(), reason="shipped VAE missing")
@pytest.mark.parametrize(
    "args",
    [
        ["sample", "--model", "vae", "--n", "16", "--seed", "3"],
        ["interpolate", "--model", "vae", "--seeds", "3", "4", "--steps", "3"],
    ],
    ids=["sample", "interpolate"],
)
def test_the_cli_draws_from_the_fitted_prior_unless_asked_for_the_normal_one(tmp_path, args):
    outs = {}
    for asked in ("default", "fitted", "normal"):
        out = tmp_path / f"{asked}.npy"
        extra = [] if asked == "default" else ["--prior", asked]
        assert main([*args, *extra, "--out", str(out)]) == 0
        outs[asked] = np.load(out)
    assert np.array_equal(outs["default"], outs["fitted"])
    assert not np.array_equal(outs["fitted"], outs["normal"])


def test_a_gan_has_no_fitted_prior_to_ask_for(tmp_path):
    with pytest.raises(SystemExit) as info:
        main(["sample", "--model", "gan", "--prior", "fitted", "--out", str(tmp_path / "x.png")])
    assert "VAEs" in str(info.value)
