"""The Streamlit pages, driven headless by AppTest, and the pure link and upload handling
behind them. Every page runs without an exception; moving a control changes the picture; a
link reopens the exact picture; bad links and bad weights give a message, never a crash."""

from __future__ import annotations

import json
import re

import pytest
from streamlit.testing.v1 import AppTest

from aigc.checkpoint import WeightsError, to_bytes
from aigc.models import GAN, Classifier, ClassifierConfig, GANConfig
from aigc.ui import models, state
from aigc.weights import shipped_path

TIMEOUT = 60  # the first run of a session loads models and computes their directions

needs = {
    name: pytest.mark.skipif(
        not shipped_path(name).is_file(), reason=f"weights/{name}.safetensors not trained yet"
    )
    for name in ("gan_mnist", "gan_fashion", "vae_mnist", "vae2d_mnist", "classifier_mnist")
}


def app() -> AppTest:
    return AppTest.from_file("../streamlit_app.py", default_timeout=TIMEOUT)


def share_links(at: AppTest) -> list[str]:
    """The links a page offers to share (its morph_panel.link blocks), as they read."""
    links = []
    for el in at.get("bidi_component"):
        data = json.loads(el.proto.json or el.proto.mixed.json)
        if data.get("role") == "link":
            links.append(data["link"])
    return links


def page_app(module: str) -> AppTest:
    """One page on its own: AppTest.switch_page only reaches file-based pages, and ours are
    functions registered with st.navigation."""
    return AppTest.from_string(
        f"from aigc.ui import {module}\n{module}.page()", default_timeout=TIMEOUT
    )


def images(at: AppTest) -> list[str]:
    """The media URLs of every image on the page: they are content hashes, so equal URLs
    mean byte-identical pictures."""
    return [url for image in at.image for url in image.value]


def healthy(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert images(at), "no picture on the page"


# --- links: pure parsing ------------------------------------------------------------------

SCHEMA = {
    "seed": state.IntField(0, 0, 2**31 - 1),
    "a": state.FloatField(0.0, -3.0, 3.0),
    "kind": state.ChoiceField("gan", ("gan", "vae")),
    "pc": state.FloatListField((), -3.0, 3.0, 3),
    "seeds": state.IntListField((0, 1), 0, 100, 4),
    "raw": state.SparseField(8, -6.0, 6.0),
    "model": state.TextField(max_chars=10),
}


def test_parse_fills_defaults_and_reads_good_values():
    values, notices = state.parse(
        SCHEMA, {"seed": "42", "a": "-1.5", "kind": "vae", "pc": "0.5,-1", "raw": "3:0.25"}
    )
    assert notices == []
    assert values["seed"] == 42 and values["a"] == -1.5 and values["kind"] == "vae"
    assert values["pc"] == (0.5, -1.0) and values["raw"] == {3: 0.25}
    assert values["seeds"] == (0, 1) and values["model"] == ""


@pytest.mark.parametrize(
    ("key", "raw", "problem", "value"),
    [
        ("seed", "abc", "not_a_number", 0),
        ("seed", "1e999", "out_of_range", 2**31 - 1),
        ("seed", "-5", "out_of_range", 0),
        ("seed", "4.5", "not_a_number", 0),
        ("seed", "9" * 5000, "too_long", 0),
        ("a", "nan", "not_a_number", 0.0),
        ("a", "1e999", "out_of_range", 3.0),
        ("a", "-inf", "out_of_range", -3.0),
        ("kind", "diffusion", "unknown_choice", "gan"),
        ("pc", "1,x,2", "not_a_number", (1.0, 2.0)),
        ("pc", "1,2,3,4,5", "too_many", (1.0, 2.0, 3.0)),
        ("seeds", "5,500", "out_of_range", (5, 100)),
        ("raw", "99:1,2:7", "out_of_range", {2: 6.0}),
        ("raw", "a:b", "not_a_number", {}),
        ("model", "x" * 11, "too_long", ""),
    ],
)
def test_malformed_values_are_clamped_or_dropped_with_a_notice(key, raw, problem, value):
    values, notices = state.parse(SCHEMA, {key: raw})
    assert values[key] == value
    assert [(n.key, n.problem) for n in notices] == [(key, problem)]


def test_repeated_keys_use_the_last_and_unknown_keys_are_ignored():
    values, notices = state.parse(SCHEMA, {"seed": ["1", "2"], "embed": "true", "zzz": "1"})
    assert values["seed"] == 2 and notices == []


def test_encode_leaves_out_defaults_and_round_trips():
    values = {"seed": 7, "a": 0.0, "kind": "gan", "pc": (1.5,), "raw": {1: -0.25}}
    query = state.encode(SCHEMA, values)
    assert query == {"seed": "7", "pc": "1.5", "raw": "1:-0.25"}
    back, notices = state.parse(SCHEMA, query)
    assert notices == [] and {k: back[k] for k in values} == values


def test_link_joins_address_and_query():
    assert state.link("http://h/explore", {"seed": "7", "pc": "1,2"}) == (
        "http://h/explore?seed=7&pc=1%2C2"
    )
    assert state.link("http://h:8501", {"seed": "7"}) == "http://h:8501/?seed=7"
    assert state.link(None, {}) == "?"


# --- your own weights: the upload handler -------------------------------------------------


def test_pickles_are_refused_by_name_and_never_opened():
    with pytest.raises(WeightsError, match="pickle") as info:
        models.load_upload(b"\x80\x04\x95 anything: never unpickled", "model.pt")
    assert (info.value.code, info.value.fields) == ("weights_wrong_suffix", {"name": "model.pt"})
    with pytest.raises(WeightsError, match="pickle"):
        models.load_upload(b"", "weights.pkl")


def test_broken_safetensors_gives_a_weights_error():
    with pytest.raises(WeightsError, match="broken.safetensors"):
        models.load_upload(b"not a weights file at all", "broken.safetensors")


def test_good_weights_load_frozen_and_a_classifier_is_refused():
    model = models.load_upload(to_bytes(GAN(GANConfig(dataset="fashion"))), "mine.safetensors")
    assert isinstance(model, GAN) and not model.training
    assert not any(p.requires_grad for p in model.parameters())
    with pytest.raises(WeightsError, match="classifier") as info:
        models.load_upload(to_bytes(Classifier(ClassifierConfig())), "clf.safetensors")
    assert info.value.code == "weights_classifier"


def test_the_uploader_offers_only_safetensors_and_says_why_pickles_are_refused():
    at = AppTest.from_string("from aigc.ui import models\nmodels.upload_ui()").run()
    [uploader] = at.sidebar.get("file_uploader")
    assert list(uploader.proto.type) == [".safetensors"]
    assert "pickle" in uploader.proto.help.lower() and "run" in uploader.proto.help


@pytest.mark.parametrize(
    ("lang", "said"),
    [
        (
            "en",
            "This is not a weights file saved by this app (it is not in the safetensors format).",
        ),
        ("zh", "这不是本应用保存的权重文件（它不是 safetensors 格式）。"),
    ],
)
def test_an_upload_error_is_in_plain_words_in_the_page_language(lang, said):
    script = "import streamlit as st\nfrom aigc.ui import models\nmodels.upload_ui()"
    at = AppTest.from_string(script)
    at.session_state["lang"] = lang
    at.run()
    noise = bytes(range(256)) * 8  # random-looking bytes under a weights file's name
    at.file_uploader(key="weights_upload").upload("noise.safetensors", noise).run()
    assert not at.exception
    [error] = at.error
    assert "noise.safetensors" in error.value and said in error.value, error.value
    assert "header" not in error.value and "bytes" not in error.value
    at.session_state["lang"] = "zh" if lang == "en" else "en"  # the saved error translates
    at.run()
    assert said not in at.error[0].value


def test_a_full_session_refuses_another_upload_unopened(monkeypatch):
    at = AppTest.from_string("from aigc.ui import models\nmodels.upload_ui()").run()
    at.session_state["custom_models"] = {
        f"mine {i}": None for i in range(models.MAX_SESSION_MODELS)
    }
    monkeypatch.setattr(models, "load_upload", lambda *a: pytest.fail("the file was opened"))
    at.file_uploader(key="weights_upload").upload("mine.safetensors", to_bytes(GAN(GANConfig())))
    at.run()
    assert not at.exception
    assert f"already holds {models.MAX_SESSION_MODELS} models" in at.error[0].value
    assert len(at.session_state["custom_models"]) == models.MAX_SESSION_MODELS


# --- the app, headless --------------------------------------------------------------------


@needs["gan_mnist"]
def test_explore_runs_and_a_slider_changes_the_image():
    at = app().run()
    healthy(at)
    before = images(at)
    at.slider(key="ex_pc0").set_value(2.0).run()
    healthy(at)
    assert images(at) != before
    assert at.query_params["pc"] == "2"


@needs["gan_mnist"]
def test_same_seed_gives_the_same_image():
    at = app().run()
    at.number_input(key="ex_seed").set_value(5).run()
    five = images(at)
    at.number_input(key="ex_seed").set_value(6).run()
    assert images(at) != five
    at.number_input(key="ex_seed").set_value(5).run()
    assert images(at) == five


@needs["gan_fashion"]
@needs["vae_mnist"]
def test_switching_kind_dataset_and_view_works():
    at = app().run()
    first = images(at)
    at.segmented_control(key="ex_data").set_value("fashion").run()
    healthy(at)
    assert images(at) != first and at.selectbox(key="ex_model").value == "gan_fashion"
    at.segmented_control(key="ex_data").set_value("mnist").run()
    at.segmented_control(key="ex_kind").set_value("vae").run()
    healthy(at)
    assert at.selectbox(key="ex_model").value == "vae_mnist"
    assert not at.toast, "switching kind is not a broken link"
    for mode in ("grid", "compare"):
        at.segmented_control(key="ex_mode").set_value(mode).run()
        healthy(at)
    at.segmented_control(key="ex_kind").set_value("gan").run()
    at.segmented_control(key="ex_mode").set_value("gate").run()
    healthy(at)
    assert any(m.label == "Acceptance rate" for m in at.metric)


@needs["gan_mnist"]
def test_a_link_reopens_the_exact_image():
    by_hand = app().run()
    by_hand.pills(key="ex_cls").set_value(7).run()
    by_hand.number_input(key="ex_seed").set_value(42).run()
    by_hand.slider(key="ex_pc1").set_value(-1.5).run()
    by_hand.slider(key="ex_blend").set_value(0.3).run()
    by_hand.session_state["ex_raw_open"] = True  # the raw-dimension sliders' expander
    by_hand.run()
    by_hand.slider(key="ex_z3").set_value(2.5).run()
    link = dict(by_hand.query_params)
    assert link["seed"] == "42" and link["cls"] == "7" and link["raw"] == "3:2.5"

    opened = app()
    for key, value in link.items():
        opened.query_params[key] = value
    opened.run()
    healthy(opened)
    assert images(opened) == images(by_hand)
    assert opened.number_input(key="ex_seed").value == 42
    assert not opened.toast


@needs["gan_mnist"]
def test_malformed_link_gives_a_notice_and_still_draws():
    at = app()
    at.query_params.update(seed="abc", pc="1e999", kind="diffusion", model="no-such-model")
    at.run()
    healthy(at)
    notices = " ".join(t.value for t in at.toast)
    assert "seed" in notices and "pc" in notices and "kind" in notices
    assert "no-such-model" in notices
    assert at.number_input(key="ex_seed").value == 0
    assert at.slider(key="ex_pc0").value == 3.0


@needs["gan_mnist"]
def test_bad_weights_upload_shows_an_error_and_the_page_keeps_working():
    at = app().run()
    # The uploader takes only .safetensors names: a pickle can only arrive renamed.
    at.file_uploader(key="weights_upload").upload("evil.safetensors", b"\x80\x04\x95 pickle")
    at.run()
    healthy(at)
    assert "pickle" in at.error[0].value
    at.file_uploader(key="weights_upload").set_value(
        ("mine.safetensors", to_bytes(GAN(GANConfig())), "application/octet-stream")
    ).run()
    healthy(at)
    assert not at.error and at.success
    assert any(label.startswith("⬆ mine") for label in at.selectbox(key="ex_model").options)


@needs["gan_mnist"]
@needs["vae_mnist"]
def test_interpolate_runs_for_seeds_and_encoded_images():
    at = page_app("interpolate").run()
    healthy(at)
    assert any(url.endswith(".gif") for url in images(at))
    before = images(at)
    at.slider(key="ip_steps").set_value(5).run()
    healthy(at)
    assert images(at) != before
    at.segmented_control(key="ip_kind").set_value("vae").run()
    at.segmented_control(key="ip_src").set_value("data").run()
    healthy(at)
    at.segmented_control(key="ip_src").set_value("upload").run()
    at.file_uploader(key="ip_upload").upload("photo.png", b"not an image").run()
    healthy(at)  # the path still runs through the dataset images
    assert "not a PNG or JPEG" in at.error[0].value


@needs["vae2d_mnist"]
def test_latent_map_runs_and_the_sliders_decode_another_point():
    at = page_app("latent_map").run()
    healthy(at)
    assert len(at.get("vega_lite_chart")) == 2, "the scatter map and the KL bar chart"
    before = images(at)
    at.slider(key="lm_z1").set_value(1.5).run()
    healthy(at)
    assert images(at)[0] != before[0]
    assert at.query_params["z"] == "1.5,0"


@needs["vae2d_mnist"]
def test_latent_map_clamps_an_absurd_link():
    at = page_app("latent_map")
    at.query_params["z"] = "1e999,abc"
    at.run()
    healthy(at)
    assert at.slider(key="lm_z1").value == 4.0
    assert any("z" in t.value for t in at.toast)


def test_no_shared_model_can_be_trained():
    """Shipped models are frozen: a session cannot change what other sessions see."""
    name = next((n for n in ("gan_mnist", "classifier_mnist") if shipped_path(n).is_file()), None)
    if name is None:
        pytest.skip("no shipped weights yet")
    model = models.shared_model(name)
    assert not model.training
    assert not any(p.requires_grad for p in model.parameters())


@needs["gan_mnist"]
def test_a_gate_nothing_passes_says_how_real_the_best_sample_was():
    """At threshold 1.0 no sample passes: the page says what the best one scored, so the
    learner knows how far to lower it, instead of a bare "None"."""
    at = app()
    at.query_params.update({"mode": "gate", "thr": "1"})
    at.run()
    assert not at.exception
    [hint] = [c.value for c in at.caption if "scored" in c.value]
    best = float(re.search(r"scored (\d+)%", hint).group(1))
    assert 0 < best < 100


@needs["vae_mnist"]
def test_a_vae_link_to_the_gate_says_why_it_shows_one_image():
    at = app()
    at.query_params.update({"kind": "vae", "model": "vae_mnist", "mode": "gate"})
    at.run()
    assert not at.exception
    assert at.segmented_control(key="ex_mode").value == "single"
    assert [t.value for t in at.toast] == [
        "The quality gate needs a GAN: its discriminator is the judge."
    ]


@needs["vae_mnist"]
def test_the_interpolation_gallery_adds_images_of_the_picked_class_and_clears():
    at = AppTest.from_string(
        "import streamlit as st\nfrom aigc.ui import interpolate\ninterpolate.page()",
        default_timeout=TIMEOUT,
    )
    at.query_params.update({"kind": "vae", "model": "vae_mnist", "src": "data"})
    at.run()
    assert not at.exception
    labels = interpolate_labels(at)
    assert labels == [3, 8], "the defaults are two different things"
    at.pills(key="ip_gallery_cls").set_value(5).run()
    at.button[[b.label for b in at.button].index("Add to the path")].click().run()
    assert interpolate_labels(at) == [3, 8, 5]
    at.button[[b.label for b in at.button].index("Clear the path")].click().run()
    assert not at.exception
    assert interpolate_labels(at) == []
    assert any("at least two points" in i.value for i in at.info)


def interpolate_labels(at: AppTest) -> list[int]:
    from aigc.ui import models as ui_models

    _, y = ui_models.heldout("mnist")
    text = at.text_input(key="ip_idx").value
    return [int(y[int(i)]) for i in text.split(",") if i.strip()]
