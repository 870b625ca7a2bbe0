"""AppTest drives the Train live, Learn and Feedback pages as a browser session would.

Each page runs from a three-line script (set the language, call ``page()``). A live run is
polled the way the page's fragment polls it: by rerunning until the run has ended.
"""

from __future__ import annotations

import json
import re
import time

import pytest
import torch
from streamlit.testing.v1 import AppTest

from aigc import feedback_store
from aigc.models import GAN, VAE
from aigc.ui import feedback, train_live

PAGE_SCRIPT = """
import streamlit as st
from aigc.ui import {module}
st.session_state.setdefault("lang", "{lang}")
{module}.page()
"""

LINK = "http://localhost:8501/?seed=3&cls=7"
RATE_SCRIPT = f"""
import streamlit as st
from aigc.ui.feedback import Rated, rate_ui
rated = Rated(page="explore", model="gan_mnist", dataset="mnist", label=7, seed=3,
              latent=[0.25, -0.5], link="{LINK}")
rate_ui("rating", rated)
"""

NAV_SCRIPT = """
import streamlit as st
from aigc.ui import train_live
st.session_state.setdefault("lang", "en")
with st.sidebar:
    train_live.sidebar_status()
if st.session_state.get("page") == "other":
    st.write("another page")
else:
    train_live.page()
"""

XSS = "<script>alert('x')</script><b>bold?</b>"


@pytest.fixture(scope="module", autouse=True)
def server():
    """A fresh server-wide run manager on one core (the test machine is shared), and the
    one-off cost of the first optimizer in a process (it imports torch._dynamo: seconds on a
    busy machine) paid up front, so the polls below time training only."""
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIGC_TRAIN_CORES", "1")
        train_live.run_manager.clear()
        yield
        train_live.run_manager().shutdown()
        train_live.run_manager.clear()


@pytest.fixture(autouse=True)
def feedback_db(tmp_path, monkeypatch):
    monkeypatch.setenv("AIGC_FEEDBACK_DB", str(tmp_path / "feedback.sqlite3"))


def app(tmp_path, module: str, lang: str = "en", script: str = PAGE_SCRIPT) -> AppTest:
    path = tmp_path / f"{module}_{lang}.py"
    path.write_text(script.format(module=module, lang=lang))
    return AppTest.from_file(str(path), default_timeout=30)


def poll(at: AppTest, done, timeout: float = 60.0) -> AppTest:
    """Rerun the page (as its fragment would, twice a second) until `done(at)`."""
    deadline = time.monotonic() + timeout
    while not done(at):
        assert time.monotonic() < deadline, "timed out waiting for the run"
        time.sleep(0.25)
        at.run()
        assert not at.exception, at.exception
    return at


def ended(at: AppTest) -> bool:
    return train_live.RESULT in at.session_state


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def rate(at: AppTest, key: str, stars: int) -> None:
    """Open the rating expander `key`, give 1-5 `stars` and send, as a visitor would."""
    at.session_state[f"{key}_open"] = True  # what clicking the expander sends
    at.run()
    at.feedback(key=f"{key}_stars").set_value(stars - 1)  # st.feedback counts from 0
    next(b for b in at.button if b.label == "Send rating").click().run()
    assert not at.exception, at.exception


def test_a_short_vae_run_shows_its_grid_and_joins_the_session_models(tmp_path):
    at = app(tmp_path, "train_live").run()
    assert not at.exception
    at.radio(key="train_kind").set_value("vae")
    at.radio(key="train_budget").set_value("steps")
    at.run()
    at.number_input(key="train_steps").set_value(20)
    at.select_slider(key="train_batch_vae").set_value(32)
    at.button(key="train_start").click().run()
    assert not at.exception
    assert at.radio(key="train_kind").disabled  # settings are locked while it trains
    poll(at, ended)

    assert "Finished: 20 steps" in at.success[0].value
    [grid] = at.image
    assert "step 20" in grid.captions[0]
    models = at.session_state["custom_models"]
    [(label, model)] = models.items()
    assert label.startswith("my VAE (MNIST, ")  # the dataset's name, not its key
    assert isinstance(model, VAE) and not model.training
    assert any(label in m.value for m in at.markdown)
    assert at.download_button(key="train_download").label.startswith("Download")

    timeline = at.select_slider(key=f"timeline_{at.session_state[train_live.RESULT].view.run_id}")
    assert timeline.options == ["step 10", "step 20"]
    latest = grid.value
    numbers = metrics(at)
    assert numbers["Step"] == "20"
    timeline.set_value(10).run()
    assert not at.exception
    assert "step 10" in at.image[0].captions[0]
    assert at.image[0].value != latest  # the grid scrubbed back in time
    first = at.session_state[train_live.RESULT].view.snapshots[0]
    earlier = metrics(at)  # ... and the numbers with it
    assert {k: earlier[k] for k in ("Step", "Images/s", "Elapsed")} == {
        "Step": "10",
        "Images/s": f"{first.images_per_s:,.0f}",
        "Elapsed": f"{first.elapsed:.1f} s",
    }
    assert first.images_per_s > 0

    rate(at, "train_rate", stars=5)  # the snapshot shown, as the session model it became
    [r] = feedback_store.list_ratings()
    assert (r.page, r.model, r.dataset, r.label, r.rating) == (
        "train_live",
        label,
        "mnist",
        None,
        5,
    )

    at.button(key="train_reset").click().run()
    assert not at.image and train_live.RESULT not in at.session_state
    assert label in at.session_state["custom_models"]  # reset keeps the trained model


def test_pause_then_stop_keeps_the_model_so_far(tmp_path):
    at = app(tmp_path, "train_live").run()
    at.number_input(key="train_seconds").set_value(120)  # a GAN, conditional, by default
    at.run()
    at.button(key="train_start").click().run()
    poll(at, lambda at: len(at.image) == 1)  # the first snapshot is in
    at.button(key="train_pause").click().run()
    poll(at, lambda at: any("Paused" in w.value for w in at.warning))
    assert at.button(key="train_resume")
    rate(at, "train_rate", stars=3)  # a live run's snapshot: not a session model yet
    [r] = feedback_store.list_ratings()
    assert (r.page, r.model, r.rating) == ("train_live", "GAN · MNIST (Train live)", 3)
    at.button(key="train_stop").click().run()
    poll(at, ended)
    assert "Stopped at step" in at.info[0].value
    [(label, model)] = at.session_state["custom_models"].items()
    assert label.startswith("my GAN (MNIST, ") and isinstance(model, GAN)


def test_a_run_that_ends_on_another_page_still_lands_in_the_session(tmp_path):
    at = app(tmp_path, "nav", script=NAV_SCRIPT).run()
    at.radio(key="train_kind").set_value("vae")
    at.run()
    at.number_input(key="train_seconds").set_value(3)  # long enough to switch pages mid-run
    at.button(key="train_start").click().run()
    at.session_state["page"] = "other"  # the user opens another page
    at.run()
    assert not at.image  # the Train live page is not drawn ...
    assert at.sidebar.caption[0].value.startswith("Training: ")  # ... but the run is watched
    poll(at, ended)
    [label] = at.session_state["custom_models"]
    assert label.startswith("my VAE (MNIST, ")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_queued_run_is_told_its_place_and_how_long_it_will_wait(tmp_path, monkeypatch, lang):
    """Two people press Train on a server that trains one run at a time: the second is told
    her place and the seconds left in the first run's budget, in her language."""
    monkeypatch.setenv("AIGC_MAX_RUNS", "1")
    train_live.run_manager().shutdown()
    train_live.run_manager.clear()
    first, second = app(tmp_path, "train_live", "en").run(), app(tmp_path, "train_live", lang).run()
    try:
        first.number_input(key="train_seconds").set_value(30).run()
        first.button(key="train_start").click().run()
        poll(first, lambda at: len(at.image) == 1)  # it trains, and has shown its speed
        second.button(key="train_start").click().run()
        [told] = [i.value for i in second.info]
        wait = int(re.search(r"(\d+) (s|秒)", told).group(1))
        assert {"en": "number 1 in the queue", "zh": "排队第 1 位"}[lang] in told
        assert 15 <= wait <= 30  # what is left of the first run's 30 s
    finally:
        train_live.run_manager().shutdown()
        train_live.run_manager.clear()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_learn_renders_the_diagram_and_the_formulas(tmp_path, lang):
    at = app(tmp_path, "learn", lang).run()
    assert not at.exception
    assert at.title[0].value == {"en": "Learn", "zh": "学习"}[lang]
    [diagram] = at.get("graphviz_chart")
    assert "digraph" in diagram.proto.spec
    latex = " ".join(x.value for x in at.latex)
    assert r"\max(0,\, 1 - d(x))" in latex and "reconstruction" in latex and "KL" in latex
    text = " ".join(m.value for m in at.markdown)
    curve = "G 损失" if lang == "zh" else "G loss"
    assert curve in " ".join(i.value for i in at.info)
    assert "D(G(z))" in text


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_learn_asks_only_for_settings_train_live_offers_and_links_to_it(tmp_path, lang):
    at = app(tmp_path, "learn", lang).run()
    text = " ".join(m.value for m in at.markdown)
    offered = {f"{lr:g}" for lr in train_live.LEARNING_RATES}
    rates = set(re.findall(r"\b0\.\d+\b", text))
    assert rates and rates <= offered, rates - offered  # no "set it to 0.01" the slider lacks
    assert f"{train_live.DEFAULT_SECONDS} " in text
    links = {(link.proto.page, link.proto.query_string) for link in at.get("page_link")}
    assert ("train-live", "") in links
    assert ("", "mode=gate") in links  # Explore (the default page) in its Quality gate view
    assert ("", "kind=vae&mode=grid&n=6&both=1") in links  # the two priors side by side
    assert {"en": "hole", "zh": "空洞"}[lang] in text  # the prior-hole lesson


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_loop_diagram_describes_training_not_the_quality_gate(tmp_path, lang):
    at = app(tmp_path, "learn", lang).run()
    [diagram] = at.get("graphviz_chart")
    spec = diagram.proto.spec
    assert "verdict -> D" in spec and "verdict -> G" in spec  # every verdict teaches both
    assert "regenerate" not in spec and "重新生成" not in spec and "out" not in spec.split()


def test_the_feedback_page_lists_a_stored_rating_as_plain_text(tmp_path):
    at = app(tmp_path, "feedback").run()
    assert not at.exception
    assert at.info[0].value == "No ratings yet."
    feedback_store.add_rating(
        page="explore", model="gan_mnist", dataset="mnist", label=3, seed=9, rating=5, comment=XSS
    )
    at.run()
    assert not at.exception
    table = at.dataframe[0].value
    assert table["comment"].tolist() == [XSS]
    assert table["rating"].tolist() == [5]
    assert at.download_button(key="feedback_csv")
    assert not at.get("html")  # nothing is rendered as HTML


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_feedback_page_names_pages_models_and_classes_and_links_each_image(tmp_path, lang):
    link = "http://localhost:8501/?seed=9"
    for page, model, dataset, label in (
        ("explore", "gan_mnist", "mnist", 3),
        ("interpolate", "vae_fashion", "fashion", 7),
        ("train_live", "my GAN (MNIST, 08:15)", "mnist", None),
    ):
        feedback_store.add_rating(
            page=page, model=model, dataset=dataset, label=label, rating=4, link=link
        )
    feedback_store.add_rating(
        page="explore", model="gan_mnist", dataset="mnist", rating=2, link="javascript:alert(1)"
    )
    at = app(tmp_path, "feedback", lang).run()
    assert not at.exception
    [frame] = at.dataframe
    table = frame.value
    names = {
        "en": (["Explore", "Train live", "Interpolate", "Explore"], "GAN · MNIST (shipped)"),
        "zh": (["探索", "现场训练", "插值", "探索"], "GAN · MNIST(内置)"),
    }[lang]
    assert table["page"].tolist() == names[0]
    assert table["model"].tolist() == [
        names[1],
        "my GAN (MNIST, 08:15)",  # a session model's label, as it was
        {"en": "VAE · Fashion-MNIST (shipped)", "zh": "VAE · Fashion-MNIST(内置)"}[lang],
        names[1],
    ]
    assert table["label"].tolist()[2:] == [{"en": "Sneaker", "zh": "运动鞋"}[lang], "3"]
    assert table["link"].fillna("").tolist() == ["", link, link, link]  # web links only
    columns = json.loads(frame.proto.columns)
    assert columns["link"]["type_config"]["type"] == "link"
    assert all(columns[name].get("width") for name in feedback.COLUMN_WIDTHS if name != "scale")
    [chart] = at.get("vega_lite_chart")
    # The summary names models the same way (its rows travel as Arrow bytes).
    assert f"{names[1]} (n=2)".encode() in chart.proto.SerializeToString()


def test_the_ratings_csv_opens_in_a_spreadsheet_as_utf8(tmp_path):
    feedback_store.add_rating(
        page="explore", model="gan_mnist", dataset="mnist", rating=5, comment="=1+1 很好"
    )
    data = feedback_store.csv_file()
    assert data.startswith(b"\xef\xbb\xbf")  # the byte-order mark Excel looks for
    text = data.decode("utf-8-sig")
    assert text == feedback_store.to_csv()
    assert "'=1+1 很好" in text  # the formula is still defused


def test_rate_ui_saves_stars_and_comment(tmp_path):
    at = app(tmp_path, "rate", script=RATE_SCRIPT).run()
    [box] = at.expander
    assert box.label == "Rate this image" and not at.button  # closed: no form drawn
    at.session_state["rating_open"] = True  # what clicking the expander sends
    at.run()
    assert not at.exception
    said = [box.label for box in at.expander] + [m.value for m in [*at.markdown, *at.caption]]
    assert said.count("Rate this image") == 1  # the expander says it; nothing inside repeats it
    at.button[0].click().run()  # no stars picked yet
    assert at.warning and feedback_store.list_ratings() == []
    at.feedback(key="rating_stars").set_value(3)
    at.text_input(key="rating_comment").input(XSS)
    at.button[0].click().run()
    assert not at.exception
    [r] = feedback_store.list_ratings()
    assert (r.page, r.model, r.label, r.seed, r.rating, r.comment, r.link) == (
        "explore",
        "gan_mnist",
        7,
        3,
        4,
        XSS,
        LINK,
    )
