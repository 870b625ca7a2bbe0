"""Malformed links on every page: each is clamped with a notice, never a crash, and the URL
then holds only clamped values."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from aigc.weights import shipped_path

needs_gan = pytest.mark.skipif(
    not shipped_path("gan_mnist").is_file(), reason="weights/gan_mnist.safetensors not trained"
)

PAGE_SCRIPT = """
import streamlit as st
from aigc.ui import {module}
st.session_state.setdefault("lang", "en")
{module}.page()
"""


def page_app(tmp_path: Path, module: str) -> AppTest:
    path = tmp_path / f"{module}.py"
    path.write_text(PAGE_SCRIPT.format(module=module))
    return AppTest.from_file(str(path), default_timeout=60)


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


HOSTILE_QUERY = {
    "seed": "abc",
    "z": "1e999,nan",
    "cls": "-7",
    "to": "1e999",
    "n": "nan",
    "steps": "-1e999",
    "ms": "-0",
    "blend": "1e309",
    "push": "-inf",
    "thr": "NaN",
    "ext": "inf",
    "pc": "nan,inf,-inf,1e999",
    "raw": "511:1e999,-1:3,1e999:1,x:y,5:nan",
    "seeds": ",".join(["-3"] * 120),  # too many items, all out of range
    "idx": "1e999," * 300,  # too long to parse at all
    "kind": "<script>alert(1)</script>",
    "data": "imagenet",
    "model": "../../etc/passwd",
    "mode": "gate;drop table",
    "src": "file:///etc/passwd",
    "interp": "🙂",
}


@pytest.mark.parametrize(
    ("module", "draws"),
    [
        pytest.param("explore", True, marks=needs_gan),
        pytest.param("interpolate", True, marks=needs_gan),
        pytest.param(
            "latent_map",
            True,
            marks=pytest.mark.skipif(
                not shipped_path("vae2d_mnist").is_file(), reason="no vae2d_mnist"
            ),
        ),
        ("train_live", False),
        ("learn", False),
        ("feedback", False),
    ],
)
def test_malformed_links_are_clamped_with_a_notice_on_every_page(
    tmp_path, monkeypatch, module, draws
):
    monkeypatch.setenv("AIGC_FEEDBACK_DB", str(tmp_path / "feedback.sqlite3"))
    at = page_app(tmp_path, module)
    at.query_params.update(HOSTILE_QUERY)
    at.run()
    no_exception(at)
    if draws:
        assert at.image, "the page drew nothing"
        notices = " ".join(t.value for t in at.toast)
        assert "Link parameter" in notices
        assert "<script>" not in "".join(m.value for m in at.markdown)
        for key, value in at.query_params.items():  # the URL now holds only clamped values
            text = value if isinstance(value, str) else ",".join(value)
            assert "nan" not in text.lower() and "inf" not in text.lower(), (key, text)
        at.run()  # a rerun after the link was rewritten stays clean
        no_exception(at)
