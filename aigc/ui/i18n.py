"""English / 中文: the texts live in catalogue files (`locales/<lang>.toml`), one per language,
keyed ``section.name``; `tr` picks the session's language.

The catalogues are data so that a translator edits one file and a test can check that every
key exists in every language. A key missing in one language falls back to English so a new
label never shows up blank; a key missing everywhere raises, so a typo fails the tests.
"""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path

import streamlit as st

LANGUAGES = ("en", "zh")
LOCALES = Path(__file__).with_name("locales")


@functools.cache
def catalogue(language: str) -> dict[str, str | list[str]]:
    """Every text of one language, flat: {"explore.title": "Explore the latent space", ...}."""
    with open(LOCALES / f"{language}.toml", "rb") as f:
        sections = tomllib.load(f)
    return {
        f"{section}.{key}": text
        for section, table in sections.items()
        for key, text in table.items()
    }


def language_name(language: str) -> str:
    """A language's name in itself ("中文"), whatever language the page is in."""
    return catalogue(language)["common.language_name"]


def lang() -> str:
    value = st.session_state.get("lang", "en")
    return value if value in LANGUAGES else "en"


def tr(key: str, **fmt: object) -> str:
    """The text for `key` in the session's language, with `fmt` filled into its {fields}."""
    text = catalogue(lang()).get(key) or catalogue("en")[key]
    return text.format(**fmt) if fmt else text


def texts(key: str) -> tuple[str, ...]:
    """A list of texts (class names) in the session's language."""
    return tuple(catalogue(lang()).get(key) or catalogue("en")[key])


def language_ui() -> str:
    """The language switch, kept in the URL (``?lang=zh``) so that a reload or a shared link
    opens in the language it was made in. A link's language wins over the session's only
    when the link changed it, so switching in the page is not undone by the old URL."""
    ss = st.session_state
    linked = st.query_params.get("lang")
    if linked in LANGUAGES and linked != ss.get("_lang_in_url"):
        ss["lang"] = linked
    # Streamlit drops a widget's key on some page switches (st.switch_page from a follower's
    # rerun): the language the session last wrote into the URL is kept apart from it.
    ss.setdefault("lang", ss.get("_lang_in_url", "en"))
    st.sidebar.selectbox(tr("common.language"), LANGUAGES, format_func=language_name, key="lang")
    url_language(ss["lang"])
    return ss["lang"]


def url_language(language: str) -> None:
    """Write the language into the URL, leaving it out for English, the default."""
    st.session_state["_lang_in_url"] = language
    if language == "en":
        st.query_params.pop("lang", None)
    elif st.query_params.get("lang") != language:
        st.query_params["lang"] = language


def error_text(error: Exception) -> str:
    """A core error in the session's language, in plain words.

    Errors raised for users (:class:`aigc.errors.InputError`) carry a `code` naming their
    catalogue entry (``errors.<code>``) and the `fields` that fill it; any other error, or a
    code with no entry, shows its own English line rather than nothing (tests/test_i18n.py
    checks that every code the core raises has its entry).
    """
    code = getattr(error, "code", None)
    if not code or f"errors.{code}" not in catalogue("en"):
        return str(error)
    return tr(f"errors.{code}", **getattr(error, "fields", {}))
