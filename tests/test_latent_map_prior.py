"""The prior-hole lesson on the latent map: N(0, I)'s samples over the held-out codes, some in
the holes between them, the fitted prior's where the codes are; and, for the 16-D VAE whose
holes cannot be drawn, how many samples of each prior the classifier is sure of."""

from __future__ import annotations

import json
import re

import numpy as np
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df

from aigc import explore_math, prior, render
from aigc.ui import latent_map
from aigc.weights import load_shipped
from tests.test_app import healthy, images, needs, page_app


def test_a_point_far_from_every_code_is_in_a_hole_and_one_among_them_is_not():
    codes = np.stack(np.meshgrid(np.arange(10.0), np.arange(10.0)), -1).reshape(-1, 2)
    holes = explore_math.in_holes(np.array([[4.5, 4.5], [3.0, 3.1], [20.0, 0.0]]), codes)
    assert holes.tolist() == [False, False, True]


@needs["vae2d_mnist"]
def test_the_fitted_prior_puts_fewer_samples_in_holes_than_n01_from_the_same_seeds():
    vae = load_shipped("vae2d_mnist")
    codes = render.encode(vae, *[t.numpy() for t in _heldout()])
    look = render.Look(seed=0)
    normal = render.prior_draw(vae, None, look, 300, None, codes)
    fitted = render.prior_draw(vae, None, look, 300, prior.for_dataset(vae, "mnist"), codes)
    assert normal.confident is None  # no classifier, no verdict
    assert fitted.holes < normal.holes / 2, (fitted.holes, normal.holes)
    assert not np.allclose(normal.points, fitted.points)


def _heldout():
    from aigc.data import load_shipped as load_images

    return load_images("mnist", "test").tensors()


def _chart_rings(at) -> int:
    """How many prior samples the map draws (the layer of rings)."""
    chart = at.get("vega_lite_chart")[0].proto
    rows = {d.name: len(convert_arrow_bytes_to_pandas_df(d.data.data)) for d in chart.datasets}
    for layer in json.loads(chart.spec)["layer"]:
        if layer.get("mark", {}).get("color") == latent_map.RINGS:
            return rows[layer["data"]["name"]]
    return 0


@needs["vae2d_mnist"]
def test_the_map_shows_a_priors_samples_over_the_codes_and_counts_its_holes_in_both_languages():
    at = page_app("latent_map").run()
    healthy(at)
    assert _chart_rings(at) == 0, "a clean map until a prior is asked for"
    before = len(images(at))
    at.button_group(key="lm_prior").set_value("normal").run()
    healthy(at)
    assert _chart_rings(at) == 300
    assert len(images(at)) == before + 1, "the first samples, decoded"
    caption = next(c.value for c in at.caption if "magenta rings" in c.value)
    normal_share, fitted_share = (int(x) for x in re.findall(r"(\d+)%", caption)[0:3:2])
    assert fitted_share < normal_share, caption
    assert at.query_params["prior"] == "normal", "the link keeps what the map shows"
    at.button_group(key="lm_prior").set_value("fitted").run()
    healthy(at)
    assert _chart_rings(at) == 300
    at.session_state["lang"] = "zh"
    at.run()
    healthy(at)
    assert any("品红色圆圈" in c.value for c in at.caption)


@needs["vae_mnist"]
@needs["vae2d_mnist"]
def test_the_16d_section_counts_how_many_samples_of_each_prior_the_classifier_is_sure_of():
    at = page_app("latent_map").run()
    healthy(at)
    shares = {}
    for c in at.caption:
        m = re.fullmatch(r"(from N\(0, I\)|from the fitted prior): (\d+)%", c.value)
        if m:
            shares[m[1]] = int(m[2])
    assert set(shares) == {"from N(0, I)", "from the fitted prior"}
    assert shares["from the fitted prior"] > shares["from N(0, I)"] + 10, shares
