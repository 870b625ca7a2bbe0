"""Explore's single view with the morph panel, through AppTest: Streamlit's own sliders until
the browser says the panel painted, the panel's sliders after, and back to Streamlit's on a
failure or when asked. A release from the panel must set the same session state and URL as
Streamlit's sliders did, so the server paints the same picture.

AppTest runs no JavaScript: the tests send the panel's state the way its browser side does
(a widget state of JSON for the component's id, which fires its on_*_change callbacks), and
post its releases to the session's desk as morph.js does.
"""

from __future__ import annotations

import base64
import hashlib
import json
from urllib.parse import parse_qs, urlsplit

import pytest
import torch
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.runtime.memory_media_file_storage import _calculate_file_id
from streamlit.testing.v1 import AppTest

from aigc import morph
from aigc.models import GAN, GANConfig
from aigc.ui import morph_panel, pictures
from tests.test_app import app, healthy, images, needs
from tests.test_morph_panel import post

pytestmark = needs["gan_mnist"]


def panels(at: AppTest) -> dict[str, object]:
    """The morph panel's instances on the page, by key (the page's link block among them)."""
    return {el.key: el for el in at.get("bidi_component")}


def live_parts(at: AppTest) -> set[str]:
    """The instances that make the live sliders (not the link block every page has)."""
    return {key for key in panels(at) if key.startswith("ex_morph")}


def panel_data(el) -> dict:
    proto = el.proto
    return json.loads(proto.json or proto.mixed.json)


def send(at: AppTest, key: str, **values: object) -> AppTest:
    """What the panel's `setStateValue` does in a browser: the instance's state, merged
    with what it held, sent as its widget value for the next run."""
    el = panels(at)[key]
    states = at._tree.get_widget_states()  # the other widgets as they are
    merged = {**(el.value or {}), **values}
    states.widgets.append(WidgetState(id=el.proto.id, json_value=json.dumps(merged)))
    return at._run(states)


def live_app(query: dict[str, str] | None = None) -> AppTest:
    """Explore in a session whose browser reported the panel painted."""
    at = app()
    at.query_params.update(query or {})
    at.run()
    return send(at, "ex_morph", ready=True)


def released(at: AppTest, key: str, **changes: list[float]) -> dict[str, list[float]]:
    """The slider inputs as the panel would send them: the inputs it was given, changed."""
    inputs = panel_data(panels(at)[key])["inputs"]
    moved = {
        k: v for k, v in inputs.items() if k in ("offsets", "raw_mask", "raw_values", "amount")
    }
    return moved | changes


def test_until_the_panel_says_it_painted_streamlits_sliders_draw_the_look():
    at = app().run()
    healthy(at)
    assert set(panels(at)) == {"ex_morph", "share_link"}  # the picture, trying the graph
    data = panel_data(panels(at)["ex_morph"])
    assert data["show"] is False and data["report"] is True
    assert data["graph_url"].startswith("/morph/graph/")
    assert morph_panel.SHELF.get(data["graph_url"].rsplit("/", 1)[1].removesuffix(".onnx"))
    assert at.slider(key="ex_pc0") and at.slider(key="ex_blend")


def test_once_painted_the_panel_draws_the_sliders_the_verdict_and_the_link():
    at = live_app()
    assert not at.exception
    assert {"ex_morph", "ex_morph_directions", "ex_morph_amount", "share_link"} <= set(panels(at))
    assert not [s for s in at.slider if s.key and s.key.startswith(("ex_pc", "ex_blend"))]
    assert not images(at), "the panel shows the server's picture itself"
    picture = panel_data(panels(at)["ex_morph"])
    assert picture["show"] is True and picture["png"].startswith("data:image/png;base64,")
    readout = picture["readout"]  # the browser writes it again after each repaint
    assert readout["says"] == "Classifier: **{name}** ({p|.0%} sure)"
    assert readout["real"] == "Discriminator: **{p|.0%}** real"
    assert readout["names"][3] == "3" and readout["label"] is not None
    assert not [m for m in at.markdown if m.value.startswith("Classifier: **")], "said twice"
    assert panel_data(panels(at)["share_link"])["caption"] == "Link to exactly this"
    assert not at.code, "the link is the panel's, which a release rewrites"
    labels = [s["label"] for s in panel_data(panels(at)["ex_morph_directions"])["sliders"]]
    assert labels[0].startswith("Direction 1 · ") and len(labels) == 6


def test_a_release_posted_to_the_desk_reruns_nothing_and_the_next_run_takes_it():
    at = live_app()
    token = at.session_state["ex_desk"].token
    data = panel_data(panels(at)["ex_morph_directions"])
    assert data["sync_url"] == f"/morph/sync/{token}"
    before = dict(at.query_params)
    values = released(at, "ex_morph_directions", offsets=[2.0, -1.5, 0, 0, 0, 0])
    answer = post(token, {"seq": 1, "values": values})
    assert answer.status_code == 200
    query = parse_qs(urlsplit(json.loads(answer.body)["link"]).query)
    assert query == {**{k: [v] for k, v in before.items()}, "pc": ["2,-1.5"]}
    assert dict(at.query_params) == before and at.session_state["ex_pc0"] == 0.0  # no rerun
    at.run()  # the next run, whatever started it, paints and links the released look
    assert not at.exception
    assert at.session_state["ex_pc0"] == 2.0 and at.query_params["pc"] == "2,-1.5"
    assert panel_data(panels(at)["ex_morph"])["inputs"]["offsets"][:2] == [2.0, -1.5]
    assert "pc=2%2C-1.5" in panel_data(panels(at)["share_link"])["link"]
    at.run()
    assert at.session_state["ex_pc0"] == 2.0, "taken once, and kept"


def test_a_posted_release_is_taken_for_the_model_it_was_made_on():
    """Switching GAN -> VAE is a rerun that takes a GAN's posted class blend as a blend."""
    at = live_app()
    token = at.session_state["ex_desk"].token
    post(token, {"seq": 1, "values": released(at, "ex_morph_amount", amount=[0.4])})
    at.session_state["ex_kind"] = "vae"
    at.run()
    assert not at.exception
    assert at.session_state["ex_blend"] == 0.4 and at.session_state["ex_push"] == 0.0


def test_the_desks_link_is_in_the_pages_language():
    at = live_app({"lang": "zh"})
    values = released(at, "ex_morph_directions", offsets=[1.0, 0, 0, 0, 0, 0])
    answer = post(at.session_state["ex_desk"].token, {"seq": 1, "values": values})
    query = parse_qs(urlsplit(json.loads(answer.body)["link"]).query)
    assert query["pc"] == ["1"] and query["lang"] == ["zh"]


def test_another_sessions_desk_is_out_of_reach():
    mine, theirs = live_app(), live_app()
    assert mine.session_state["ex_desk"].token != theirs.session_state["ex_desk"].token
    values = released(mine, "ex_morph_directions", offsets=[2.0, 0, 0, 0, 0, 0])
    assert (
        post("x" + mine.session_state["ex_desk"].token, {"seq": 1, "values": values}).status_code
        == 404
    )
    post(mine.session_state["ex_desk"].token, {"seq": 1, "values": values})
    theirs.run()
    assert theirs.session_state["ex_pc0"] == 0.0


def test_a_release_set_as_state_sets_the_state_and_the_link_of_streamlits_sliders():
    """Where a post cannot go (a classroom; a failed post), the release reruns the page."""
    at = live_app()
    offsets = [2.0, -1.5, 0.0, 0.0, 0.0, 0.0]
    send(at, "ex_morph_directions", released=released(at, "ex_morph_directions", offsets=offsets))
    send(at, "ex_morph_amount", released=released(at, "ex_morph_amount", amount=[0.3]))
    assert not at.exception
    assert at.session_state["ex_pc0"] == 2.0 and at.session_state["ex_pc1"] == -1.5
    assert at.query_params["pc"] == "2,-1.5" and at.query_params["blend"] == "0.3"
    # The same link with Streamlit's sliders paints byte for byte what the panel was given.
    native = app()
    native.query_params.update(at.query_params, sliders="native")
    native.run()
    assert native.slider(key="ex_pc0").value == 2.0
    png = base64.b64decode(panel_data(panels(at)["ex_morph"])["png"].split(",", 1)[1])
    assert images(native) == [media_url(png)]


def media_url(png: bytes) -> str:
    """The URL AppTest gives an `st.image` of these bytes: it names them by their hash."""
    return f"/mock/media/{_calculate_file_id(png, 'image/png')}.png"


def test_raw_dimensions_released_from_the_panel_become_the_links_overrides():
    at = live_app()
    at.session_state["ex_raw_open"] = True  # the raw dimensions' expander
    at.run()
    assert "ex_morph_raw" in panels(at)
    data = panel_data(panels(at)["ex_morph_raw"])
    assert len(data["sliders"]) == 32 and data["sliders"][3]["aria"] == "Raw latent dimension z3"
    mask, values = data["inputs"]["raw_mask"], data["inputs"]["raw_values"]
    mask[3], values[3] = 1.0, 2.5
    send(
        at, "ex_morph_raw", released=released(at, "ex_morph_raw", raw_mask=mask, raw_values=values)
    )
    assert at.session_state["ex_raw"] == {3: 2.5}
    assert at.query_params["raw"] == "3:2.5"


@pytest.mark.parametrize(
    "forged",
    [
        {"offsets": [9.0] * 5},  # one short
        {"offsets": [float("nan")] * 6},
        {"offsets": ["1"] * 6},
        {"offsets": [1.0] * 6, "extra": [1.0]},
        [1, 2, 3],
    ],
)
def test_a_release_the_panel_cannot_have_sent_changes_nothing(forged):
    at = live_app()
    before = dict(at.query_params)
    payload = forged if isinstance(forged, list) else released(at, "ex_morph_directions") | forged
    send(at, "ex_morph_directions", released=payload)
    assert not at.exception
    assert at.session_state["ex_pc0"] == 0.0 and dict(at.query_params) == before


def test_out_of_range_releases_are_clamped_as_a_link_would_be():
    at = live_app()
    send(
        at,
        "ex_morph_directions",
        released=released(at, "ex_morph_directions", offsets=[7.0, -9.0, 0, 0, 0, 0]),
    )
    assert at.query_params["pc"] == "3,-3"


def test_a_failed_panel_gives_streamlits_sliders_back_with_a_notice():
    at = live_app()
    send(at, "ex_morph", failed="WebAssembly is not defined")
    healthy(at)
    assert not live_parts(at)
    assert at.slider(key="ex_pc0") and at.slider(key="ex_blend")
    assert any("live preview could not start" in c.value for c in at.caption)


@pytest.mark.parametrize("how", ["param", "env"])
def test_native_sliders_when_asked_for(how, monkeypatch):
    assert live_parts(app().run()), "by default the panel is tried"
    at = app()
    if how == "param":
        at.query_params["sliders"] = "native"
    else:
        monkeypatch.setenv("AIGC_SLIDERS", "native")
    at.run()
    healthy(at)
    assert not live_parts(at) and at.slider(key="ex_pc0")
    at.slider(key="ex_pc0").set_value(1.0).run()  # kept for the session, not only one run
    assert not live_parts(at) and at.query_params["pc"] == "1"


def test_the_panels_labels_follow_the_language():
    at = live_app({"lang": "zh"})
    labels = [s["label"] for s in panel_data(panels(at)["ex_morph_directions"])["sliders"]]
    assert labels[0].startswith("方向 1 · ")
    assert panel_data(panels(at)["ex_morph"])["alt"].startswith("图像")


def test_a_shipped_models_graph_is_exported_once_per_server(monkeypatch, request):
    exports = []
    monkeypatch.setattr(morph, "export_onnx", lambda *a: exports.append(a) or b"onnx")
    pictures._shared_graph.clear()
    request.addfinalizer(pictures._shared_graph.clear)  # the stand-in must not outlive it
    first, second = app().run(), app().run()  # two sessions
    second.slider(key="ex_pc0").set_value(1.0).run()
    assert len(exports) == 1
    urls = {panel_data(panels(at)["ex_morph"])["graph_url"] for at in (first, second)}
    assert urls == {f"/morph/graph/{hashlib.sha256(b'onnx').hexdigest()}.onnx"}


def test_a_sessions_own_model_is_exported_once_into_that_session_only(monkeypatch):
    exports = []
    real = morph.export_onnx
    monkeypatch.setattr(morph, "export_onnx", lambda *a: exports.append(a) or real(*a))
    torch.manual_seed(0)
    mine = GAN(GANConfig(z_dim=8, g_width=8, d_width=8)).eval().requires_grad_(False)
    at = app()
    at.session_state["custom_models"] = {"mine": mine}
    at.query_params["model"] = "mine"
    at.run()
    send(at, "ex_morph", ready=True)
    assert not at.exception and at.selectbox(key="ex_model").value == "mine"
    assert len(exports) == 1 and exports[0][0] is mine
    (graph,) = at.session_state["_morph_graphs"].values()
    url = panel_data(panels(at)["ex_morph"])["graph_url"]
    assert url == f"/morph/graph/{hashlib.sha256(graph.onnx).hexdigest()}.onnx"
    assert morph_panel.SHELF.get(graph.digest) is not None  # served to whoever has the digest
    other = app().run()  # another session neither holds nor points at it
    assert "_morph_graphs" not in other.session_state
    assert panel_data(panels(other)["ex_morph"])["graph_url"] != url
