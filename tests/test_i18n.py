"""The catalogues: every text exists in every language with the same fields, and every key the
code asks for exists, so switching to 中文 never shows a blank or an English fallback."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from aigc.ui import i18n

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [ROOT / "streamlit_app.py", *sorted((ROOT / "aigc" / "ui").rglob("*.py"))]


def fields(text: str | list[str]) -> set[str]:
    if isinstance(text, list):
        return {f"[{len(text)}]"}
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def keys_in_code() -> tuple[set[str], set[str]]:
    """(literal keys, prefixes of f-string keys) passed to `tr` anywhere in the UI code."""
    literal, prefixes = set(), set()

    def collect(arg: ast.expr) -> None:
        if isinstance(arg, ast.Constant):
            literal.add(arg.value)
        elif isinstance(arg, ast.JoinedStr) and isinstance(arg.values[0], ast.Constant):
            prefixes.add(arg.values[0].value)
        elif isinstance(arg, ast.IfExp):
            collect(arg.body)
            collect(arg.orelse)

    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("tr", "texts"):
                collect(node.args[0])
    return literal, prefixes


@pytest.mark.parametrize("language", [lang for lang in i18n.LANGUAGES if lang != "en"])
def test_every_text_exists_in_every_language_with_the_same_fields(language):
    english, other = i18n.catalogue("en"), i18n.catalogue(language)
    assert sorted(set(english) ^ set(other)) == []
    for key, text in english.items():
        assert other[key], key
        assert fields(other[key]) == fields(text), key


def test_every_key_the_code_asks_for_exists():
    english = i18n.catalogue("en")
    literal, prefixes = keys_in_code()
    assert sorted(literal - set(english)) == []
    for prefix in prefixes:
        assert any(key.startswith(prefix) for key in english), prefix


def codes_raised() -> dict[str, set[str]]:
    """{code: the fields given with it} for every error the package raises with a literal code
    (``WeightsError("one line", "weights_pickle", name=...)``), and each class's default."""
    from aigc import checkpoint, classroom, errors, image_folder, imaging, review, store

    classes = {errors.InputError, checkpoint.WeightsError, imaging.ImageInputError}
    classes |= {image_folder.ImageFolderError}
    classes |= {store.StoreUnavailable, classroom.RoomError, review.ReviewError}
    raised = {cls.default_code: set() for cls in classes}
    names = {cls.__name__ for cls in classes}
    for path in sorted((ROOT / "aigc").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) in names
                and len(node.args) > 1
                and isinstance(node.args[1], ast.Constant)
            ):
                given = {kw.arg for kw in node.keywords}
                raised.setdefault(node.args[1].value, set()).update(given)
    return raised


def test_every_error_code_the_package_raises_has_its_text():
    """A page shows `i18n.error_text(e)`: each code needs its entry, filled by the fields that
    come with it, or the page would fall back to the English line."""
    english = i18n.catalogue("en")
    raised = codes_raised()
    assert {"weights_pickle", "weights_not_safetensors", "image_not_png_jpeg"} <= set(raised)
    for code, given in raised.items():
        assert f"errors.{code}" in english, code
        assert fields(english[f"errors.{code}"]) <= given, code
    unused = {key.removeprefix("errors.") for key in english if key.startswith("errors.")}
    assert sorted(unused - set(raised)) == []


def test_no_catalogue_is_written_in_python():
    """Texts in .py files drift from the catalogues and escape the test above."""
    for path in SOURCES:
        assert not re.search(r'"zh"\s*:', path.read_text()), path


def test_a_link_opens_in_its_language_and_keeps_it():
    from streamlit.testing.v1 import AppTest

    from tests.test_app import share_links

    at = AppTest.from_file("../streamlit_app.py", default_timeout=60)
    at.query_params["lang"] = "zh"
    at.run()
    assert not at.exception
    assert at.selectbox(key="lang").value == "zh"
    assert at.title[0].value == "探索潜在空间"
    assert any("lang=zh" in link for link in share_links(at)), "the shared link drops the language"
    at.query_params["seed"] = "abc"  # a malformed link's notice is in the link's language
    at.run()
    assert [t.value for t in at.toast] == ["链接参数 seed='abc' 不是数字;改用 '0'。"]
    at.selectbox(key="lang").select("en").run()  # the old URL must not switch it back
    assert at.title[0].value == "Explore the latent space"
    assert "lang" not in at.query_params


PAGE_IN_CHINESE = """
import streamlit as st
st.session_state.setdefault("lang", "zh")
from aigc.ui import {module}
{module}.page()
"""
ELEMENTS = ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error")
ELEMENTS += ("success", "toast", "metric", "expander")
WIDGETS = ("slider", "select_slider", "selectbox", "radio", "button", "number_input")
WIDGETS += ("text_input", "toggle", "checkbox", "segmented_control", "pills", "download_button")
ENGLISH = re.compile(r"[A-Za-z]{3,}[ ,.:;]+[A-Za-z]{3,}")  # two English words in a row


def visible_texts(at) -> list[str]:
    texts = []
    for kind in ELEMENTS:
        for element in getattr(at, kind):
            texts += [getattr(element, a) for a in ("value", "label") if hasattr(element, a)]
    for kind in WIDGETS:
        for widget in getattr(at, kind):
            texts += [widget.label, getattr(widget, "help", None)]
            texts += [str(o) for o in getattr(widget, "options", None) or ()]
    return [t for t in texts if isinstance(t, str)]


@pytest.mark.parametrize(
    "module, link",
    [
        ("explore", {}),
        ("explore", {"mode": "grid"}),
        ("explore", {"mode": "compare", "kind": "vae"}),
        ("explore", {"mode": "gate"}),
        ("explore", {"mode": "gate", "kind": "vae"}),  # told that a VAE has no gate
        ("interpolate", {}),
        ("interpolate", {"kind": "vae", "src": "data"}),
        ("interpolate", {"kind": "vae", "src": "upload"}),
        ("latent_map", {}),
        ("train_live", {}),
        ("learn", {}),
        ("feedback", {}),
        ("classroom", {}),
    ],
)
def test_every_visible_text_is_chinese_in_chinese(module, link):
    """Names (GAN, MNIST, z₁) may stay as they are; an English phrase means a string was
    built outside the catalogues."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_string(PAGE_IN_CHINESE.format(module=module), default_timeout=60)
    at.query_params.update(link)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    english = [t for t in visible_texts(at) if ENGLISH.search(t)]
    assert english == []
