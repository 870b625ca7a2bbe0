"""The server around the pages: `streamlit run streamlit_app.py` serves an st.App whose hooks
keep tracebacks off visitors' screens, and visitors get no developer menu."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

from streamlit.testing.v1 import AppTest
from streamlit.web.server.app_discovery import discover_asgi_app

ROOT = Path(__file__).resolve().parents[1]


def test_streamlit_run_serves_the_app_with_its_hooks():
    found = discover_asgi_app(ROOT / "streamlit_app.py")
    assert found.is_asgi_app and found.app_name == "app"


def test_the_app_module_leaves_torch_to_the_lifespan_hook():
    """`streamlit run` imports the app's module before it serves anything; torch's import (the
    largest part of a first paint) is started by the lifespan hook beside the boot, so no
    module the app imports at the top may pull it in (morph_panel once did, for a type)."""
    code = "import sys, streamlit_app; print(sorted({'torch', 'onnx'} & set(sys.modules)))"
    assert fresh_python(code) == "[]"


def fresh_python(code: str) -> str:
    """What `code` prints, run by a new interpreter in the project's root (imports counted
    from nothing)."""
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return out.stdout.strip()


def test_visitors_get_no_traceback_and_no_developer_menu():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == "none"
    assert config["client"]["toolbarMode"] == "viewer"


ERROR_SCRIPT = """
import streamlit as st
import streamlit_app
st.session_state.setdefault("lang", "zh")
st.session_state["shown"] = streamlit_app.friendly_error(ValueError("/srv/aigc/secret.py"))
"""


def test_a_page_error_is_told_in_the_visitors_language_without_its_details(caplog):
    at = AppTest.from_string(ERROR_SCRIPT, default_timeout=30).run()
    assert at.session_state["shown"] is True  # Streamlit's own exception box is suppressed
    [message] = at.error
    assert message.value.startswith("页面出了点问题")
    assert "secret" not in message.value
    assert "secret.py" in caplog.text  # the traceback is in the server's log
