"""The latent map's two sliders as the morph panel, through AppTest: Streamlit's sliders
until the browser says the panel painted; then the panel's, whose graph paints what the
server paints for the point; a release reruns the page (the map's cross, the nearest image)
with the point it was left at. (Its drag in Chromium: tests/browser/test_morph_browser.py.)"""

from __future__ import annotations

import base64
import gzip
import io

import numpy as np
import pytest
from PIL import Image

from aigc import morph
from aigc.ui import morph_panel
from tests.test_app import needs, page_app
from tests.test_explore_live import panel_data, panels, send

ort = pytest.importorskip("onnxruntime")
pytestmark = needs["vae2d_mnist"]


def live_map():
    at = page_app("latent_map").run()
    assert not at.exception and "lm_morph" in panels(at)  # the hidden picture, trying
    assert at.slider(key="lm_z1"), "Streamlit's sliders until the panel painted"
    return send(at, "lm_morph", ready=True)


def slider_inputs(block: dict, **changes: list[float]) -> dict[str, list[float]]:
    """What the block sends back on a release: its slider inputs, changed."""
    return {k: v for k, v in block["inputs"].items() if k in morph.SLIDER_INPUTS} | changes


def test_once_painted_the_panel_moves_the_point_and_paints_the_servers_picture():
    at = live_map()
    assert not at.exception and {"lm_morph", "lm_morph_z"} <= set(panels(at))
    assert not [s for s in at.slider if s.key in ("lm_z1", "lm_z2")]
    picture, block = panel_data(panels(at)["lm_morph"]), panel_data(panels(at)["lm_morph_z"])
    assert [s["label"] for s in block["sliders"]] == ["z₁", "z₂"]
    assert block["sync_url"] == "", "a release reruns the page: the map and its neighbour follow"
    send(at, "lm_morph_z", released=slider_inputs(block, raw_values=[1.5, -0.5]))
    assert not at.exception and at.query_params["z"] == "1.5,-0.5"
    # The graph the browser was sent, at the inputs it is now sent, paints the server's picture.
    picture = panel_data(panels(at)["lm_morph"])
    digest = picture["graph_url"].rsplit("/", 1)[1].removesuffix(".onnx")
    session = ort.InferenceSession(gzip.decompress(morph_panel.SHELF.get(digest)))
    feeds = {k: np.asarray([v], np.float32) for k, v in picture["inputs"].items()}
    pixels = session.run(["pixels"], feeds)[0][0]
    png = base64.b64decode(picture["png"].split(",", 1)[1])
    server = np.asarray(Image.open(io.BytesIO(png)).convert("L"))[4::8, 4::8]
    assert np.abs(pixels.astype(int) - server).max() <= 2


def test_a_release_past_the_map_is_clamped_to_it():
    at = live_map()
    block = panel_data(panels(at)["lm_morph_z"])
    send(at, "lm_morph_z", released=slider_inputs(block, raw_values=[9.0, -9.0]))
    assert not at.exception and at.query_params["z"] == "4,-4"
