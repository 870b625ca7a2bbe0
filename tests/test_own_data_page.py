"""Your data, through AppTest as a browser session would use it: draw on the pad, upload a ZIP
of class folders or loose photos, see the set with its counts, fix or delete images, then train
on it live on the Train live page (the pad's drawing in Chromium: tests/browser/)."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
from PIL import Image, ImageDraw
from streamlit.components.v2.bidi_component.main import _make_trigger_id
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.testing.v1 import AppTest

from aigc import own_set
from aigc.ui import own_data, train_live
from tests.test_app_train import ended, poll, server  # noqa: F401  (a fresh run manager)
from tests.test_hostile_zips import archive, digits
from tests.test_image_folder import as_jpeg

SCRIPT = """
import streamlit as st
from aigc.ui import {module}
st.session_state.setdefault("lang", "{lang}")
{module}.page()
"""


def page(tmp_path, lang: str = "en", module: str = "own_data") -> AppTest:
    path = tmp_path / f"{module}_{lang}.py"
    path.write_text(SCRIPT.format(module=module, lang=lang))
    return AppTest.from_file(str(path), default_timeout=60).run()


def drawing(stroke: str = "bar") -> str:
    """What the pad sends: its 280 px canvas, dark ink on white, as a PNG data URL."""
    img = Image.new("RGBA", (280, 280), "white")
    d = ImageDraw.Draw(img)
    if stroke == "bar":
        d.line([(140, 50), (140, 230)], fill="#111", width=22)
    else:
        d.ellipse((70, 40, 210, 240), outline="#111", width=22)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def draw(at: AppTest, value: object) -> AppTest:
    """The pad's "Add": its trigger value, as the browser sends it."""
    pad = next(e for e in at.get("bidi_component") if e.key == "od_pad")
    states = at._tree.get_widget_states()
    payload = json.dumps([{"event": "drawn", "value": value}])
    states.widgets.append(
        WidgetState(id=_make_trigger_id(pad.proto.id, "events"), json_trigger_value=payload)
    )
    return at._run(states)


def the_set(at: AppTest):
    return at.session_state[own_data.SET] if own_data.SET in at.session_state else None  # noqa: SIM401 (no .get here)


def upload(at: AppTest, files: dict[str, bytes], loose_class: str = "") -> AppTest:
    uploader = next(u for u in at.get("file_uploader") if u.key.startswith("od_upload"))
    for name, data in files.items():
        uploader.upload(name, data)
    at.text_input(key="od_loose_class").set_value(loose_class)
    at.button(key="od_add_files").click().run()
    assert not at.exception, at.exception
    return at


def test_drawings_join_the_set_under_the_typed_class_and_the_page_says_what_is_missing(tmp_path):
    at = page(tmp_path)
    assert not at.exception and the_set(at) is None
    for _ in range(2):
        at = draw(at, {"png": drawing("bar"), "n": 1})
    at.text_input(key="od_class").set_value("my 0").run()
    at = draw(at, {"png": drawing("ring"), "n": 2})
    assert not at.exception
    images = the_set(at)
    assert images.counts() == {"0": 2, "my 0": 1}
    assert "“my 0”: 1 images" in at.success[0].value
    # what the model sees: ink bright on dark, centred, like MNIST
    seen = images.images[images.labels == images.class_names.index("my 0")][0]
    assert seen[0].max() == 0 and seen[14].max() > 200
    [short] = [w.value for w in at.warning]
    assert "17 more" in short and "0 (8 more)" in short, "each class needs ten"


def test_a_forged_drawing_is_refused_in_the_page_language_and_changes_nothing(tmp_path):
    at = draw(page(tmp_path, "zh"), {"png": drawing(), "n": 1})
    before = the_set(at)
    for forged in ("not a dict", {"png": "data:image/png;base64,!!!"}, {"png": "x" * 10}):
        at = draw(at, forged)
        assert not at.exception
        assert at.error and "画板" in at.error[0].value
        assert the_set(at) is before


def test_a_zip_of_class_folders_and_loose_photos_fill_the_set_and_a_bomb_changes_nothing(tmp_path):
    at = page(tmp_path)
    at = upload(at, {"set.zip": archive(digits(n=10))})
    assert the_set(at).counts() == {"0": 10, "1": 10}
    assert "Ready to train on." in [s.value for s in at.success]
    photos = {f"seven_{i}.jpg": as_jpeg("1", shift=i) for i in range(3)}
    at = upload(at, photos | {"notes.png": b"not an image"}, loose_class="7")
    assert the_set(at).counts() == {"0": 10, "1": 10, "7": 3}
    assert "notes.png" in at.warning[0].value, "the file left out is named"
    kept = the_set(at)
    bomb = archive({"0/a.png": b"\0" * 8_000_000})
    at = upload(at, {"bomb.zip": bomb})
    assert the_set(at) is kept and "bomb.zip" in at.error[0].value


def test_the_editor_relabels_and_deletes_and_nothing_changes_until_applied(tmp_path):
    at = upload(page(tmp_path), {"set.zip": archive(digits(n=10))})
    at.session_state["od_fix_open"] = True  # what opening the expander sends
    at.run()
    editor = f"od_editor_{at.session_state[own_data.VERSION]}"
    before = the_set(at)
    at.session_state[editor] = {
        "edited_rows": {0: {"class": "1"}, 1: {"delete": True}, 2: {"class": "no such class"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    assert the_set(at) is before, "not before apply"
    at.button(key="od_apply").click().run()
    assert not at.exception
    assert the_set(at).counts() == {"0": 8, "1": 11}
    assert own_set.names_of(before)[2] == "0"  # the forged class left that image as it was


def test_train_live_trains_on_the_set_and_shows_its_class_names(tmp_path):
    at = upload(page(tmp_path), {"set.zip": archive(digits(n=10))})
    drawn = the_set(at)
    train = AppTest.from_file(str(tmp_path / "own_data_en.py"), default_timeout=60)
    train.session_state[own_data.SET] = drawn
    (tmp_path / "own_data_en.py").write_text(SCRIPT.format(module="train_live", lang="en"))
    train.run()
    choice = train.selectbox(key="train_dataset")
    assert "Your own set (20 images; classes: 2)" in choice.options
    choice.set_value("custom")
    train.radio(key="train_budget").set_value("steps")
    train.run()
    train.number_input(key="train_steps").set_value(10)
    train.button(key="train_start").click().run()
    assert not train.exception
    poll(train, ended)
    [grid] = train.image
    assert "Rows, top to bottom: 0, 1." in grid.captions[0]
    result = train.session_state[train_live.RESULT]
    assert result.model.config.num_classes == 2 and result.model.config.dataset == "custom"
    assert result.live.scored, "digits are scored by the MNIST classifier"
    assert np.array_equal(the_set(train).images, drawn.images), "training copied, not changed"


NAV = """
import streamlit as st
from aigc.ui import explore, interpolate, own_data, train_live
st.session_state.setdefault("lang", "en")
pages = {{"train": train_live, "explore": explore, "interpolate": interpolate}}
pages[st.session_state.get("page", "train")].page()
"""


def test_a_model_trained_on_the_set_opens_on_explore_and_interpolate_by_the_sets_names(tmp_path):
    path = tmp_path / "nav.py"
    path.write_text(NAV.format())
    at = AppTest.from_file(str(path), default_timeout=60)
    drawn = upload(page(tmp_path), {"set.zip": archive(digits(n=10))})
    at.session_state[own_data.SET] = the_set(drawn)
    at.run()
    assert not at.exception
    for kind in ("gan", "vae"):
        at.radio(key="train_kind").set_value(kind)
        at.selectbox(key="train_dataset").set_value("custom")
        at.radio(key="train_budget").set_value("steps")
        at.run()
        at.number_input(key="train_steps").set_value(10)
        at.button(key="train_start").click().run()
        poll(at, ended)
    at.session_state["page"] = "explore"
    at.run()
    assert not at.exception
    assert "mnist" in at.query_params.get("data", "mnist")  # the shipped datasets come first
    at.button_group(key="ex_data").set_value("custom").run()
    assert not at.exception, at.exception
    assert at.image, "the own GAN's picture"
    assert at.button_group(key="ex_cls").options == ["0", "1"], "the set's own class names"
    at.button_group(key="ex_kind").set_value("vae").run()
    assert not at.exception, at.exception
    assert at.image, "the own VAE's picture, drawn from a prior fitted to the set"
    at.session_state["page"] = "interpolate"
    at.run()
    at.button_group(key="ip_data").set_value("custom").run()
    assert not at.exception, at.exception
    assert any(url.endswith(".gif") for image in at.image for url in image.value), "a walk"
    assert at.button_group(key="ip_src").options == ["Seeds"], "its set is no gallery here"
    at.button_group(key="ip_kind").set_value("gan").run()
    assert not at.exception, at.exception
    assert at.button_group(key="ip_end").options == ["0", "1"], "the set's class names"
