"""Interpolate's frame scrubber, through AppTest: the film it pages through is the walk's own
frames, exactly; a release posted to the session's desk reruns nothing and is the frame the
next run rates; in a room the release reruns the page. (Its drag in Chromium:
tests/browser/test_morph_browser.py.)"""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image
from streamlit.testing.v1 import AppTest

from aigc import render, weights
from tests.test_app import needs, page_app
from tests.test_explore_live import panel_data, panels, send
from tests.test_morph_panel import post

pytestmark = needs["gan_mnist"]


def film(at: AppTest) -> dict:
    return panel_data(panels(at)["ip_film"])


def film_frames(data: dict) -> np.ndarray:
    png = base64.b64decode(data["film"].split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(png))).reshape(-1, 28, 28)


def test_the_film_is_the_walks_frames_exactly():
    at = page_app("interpolate").run()
    assert not at.exception
    data = film(at)
    gan = weights.load_shipped("gan_mnist")
    # The page's default walk: seeds 0, 1, 2, 12 steps, slerp, class 3 throughout.
    walk = render.walk(gan, render.seed_points(gan, (0, 1, 2)), 12, True, (3, 3))
    assert data["frames"] == len(walk) == 23 and data["value"] == 1
    assert np.array_equal(film_frames(data), walk)
    assert data["label"].startswith("Frame to rate")


def test_a_posted_frame_reruns_nothing_and_is_the_one_the_next_run_rates():
    at = page_app("interpolate").run()
    token = at.session_state["ip_desk"].token
    assert film(at)["sync_url"] == f"/morph/sync/{token}"
    assert post(token, {"seq": 1, "values": {"frame": [17]}}).status_code == 200
    assert film(at)["value"] == 1  # nothing reran
    at.run()
    assert not at.exception
    assert at.session_state["ip_frame"] == 17 and film(at)["value"] == 17
    post(token, {"seq": 2, "values": {"frame": [999]}})  # past the end: the last frame
    at.run()
    assert film(at)["value"] == 23


def test_a_frame_the_scrubber_cannot_have_sent_changes_nothing():
    at = page_app("interpolate").run()
    token = at.session_state["ip_desk"].token
    for values in ({"frame": [float("nan")]}, {"frame": [1, 2]}, {"frame": "3"}, {"seed": [3]}):
        assert post(token, {"seq": 1, "values": values}).status_code == 400, values
    send(at, "ip_film", released={"frame": ["7"]})  # the rerun path checks the same way
    assert not at.exception and film(at)["value"] == 1


def test_where_no_desk_is_given_the_release_reruns_the_page(monkeypatch):
    """A room's page reruns on a release, so its followers see it."""
    monkeypatch.setattr("aigc.ui.room.code", lambda: "ROOM2345")
    at = page_app("interpolate").run()
    assert film(at)["sync_url"] == "" and "ip_desk" not in at.session_state
    send(at, "ip_film", released={"frame": [5]})
    assert not at.exception and film(at)["value"] == 5
