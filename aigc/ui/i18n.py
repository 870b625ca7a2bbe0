"""English / 中文: every page keeps its own text table; `tr` picks the session's language.

Tables look like ``{"title": {"en": "Explore", "zh": "探索"}}``; a key missing in Chinese
falls back to English so a new label never shows up blank.
"""

from __future__ import annotations

import streamlit as st

LANGUAGES = {"en": "English", "zh": "中文"}


def lang() -> str:
    value = st.session_state.get("lang", "en")
    return value if value in LANGUAGES else "en"


def tr(table: dict[str, dict[str, str]], key: str, **fmt: object) -> str:
    entry = table[key]
    text = entry.get(lang()) or entry["en"]
    return text.format(**fmt) if fmt else text
