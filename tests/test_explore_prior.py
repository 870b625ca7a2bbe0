"""Explore draws a VAE's seeds from its fitted prior by default (aigc.prior), says why, offers
N(0, I), and on the grid shows both side by side on demand: the prior-hole lesson."""

from __future__ import annotations

from aigc import prior, render, weights
from aigc.data import load_shipped
from tests.test_app import app, healthy, images, needs, page_app
from tests.test_explore_live import panel_data, panels, send

pytestmark = needs["vae_mnist"]


def vae_app(**query: str):
    at = app()
    at.query_params.update({"kind": "vae", **query})
    return at.run()


def prior_control(at):
    """The "Draw z from" control, or None where the page has none."""
    found = [b for b in at.get("button_group") if b.key == "ex_prior"]
    return found[0] if found else None


def test_a_vae_opens_on_its_fitted_prior_and_n01_is_one_click_away():
    at = vae_app()
    healthy(at)
    control = prior_control(at)
    assert control.value == "fitted" and "hole" in control.proto.help
    fitted_picture = images(at)
    assert "prior" not in at.query_params  # the default
    control.set_value("normal").run()
    healthy(at)
    assert images(at) != fitted_picture, "the same seed, another prior, another picture"
    assert at.query_params["prior"] == "normal"


def test_a_link_to_n01_opens_on_it_and_a_gan_has_no_prior_to_choose():
    at = vae_app(prior="normal")
    healthy(at)
    assert prior_control(at).value == "normal"
    assert prior_control(app().run()) is None


def test_the_live_panel_starts_each_seed_where_the_fitted_prior_puts_it():
    at = send(vae_app(), "ex_morph", ready=True)
    assert not at.exception
    vae = weights.load_shipped("vae_mnist")
    fit = prior.fit_to(vae, *load_shipped("mnist", "train").tensors())
    z_base = panel_data(panels(at)["ex_morph"])["inputs"]["z_base"]
    assert z_base == list(render.base_latent(vae, 0, fit))
    assert z_base != list(render.base_latent(vae, 0))


def test_the_grid_shows_both_priors_side_by_side_on_demand():
    at = vae_app(mode="grid", n="4")
    healthy(at)
    assert len(images(at)) == 1
    at.toggle(key="ex_both").set_value(True).run()
    healthy(at)
    assert len(images(at)) == 2
    captions = " ".join(c.value for c in at.caption)
    assert "where the codes lie (fitted)" in captions and "N(0, I)" in captions
    assert at.query_params["both"] == "1"
    linked = vae_app(mode="grid", n="4", both="1")  # Learn's link opens on both
    assert len(images(linked)) == 2


@needs["vae_mnist"]
def test_interpolate_walks_a_vaes_seeds_where_explore_draws_them_and_n01_on_demand():
    at = page_app("interpolate")
    at.query_params.update({"kind": "vae"})
    at.run()
    healthy(at)
    control = next(b for b in at.get("button_group") if b.key == "ip_prior")
    assert control.value == "fitted"
    fitted_walk = images(at)
    control.set_value("normal").run()
    healthy(at)
    assert images(at) != fitted_walk, "the same seeds, another prior, another path"
    assert at.query_params["prior"] == "normal"
    at.segmented_control(key="ip_src").set_value("data").run()
    assert not [b for b in at.get("button_group") if b.key == "ip_prior"], "encoded images"
