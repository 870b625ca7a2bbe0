"""The app's pages as ``st.Page`` objects, made in one place: the frame registers them with
``st.navigation``, and a page links to another with ``st.page_link`` on the same object (a
function page is matched by its url path, so the two must agree)."""

from __future__ import annotations

import importlib

import streamlit as st

from aigc.ui.i18n import tr

ICONS = {
    "explore": "🎛️",
    "interpolate": "🎞️",
    "latent_map": "🗺️",
    "own_data": "✏️",
    "train_live": "🏋️",
    "learn": "📖",
    "feedback": "💬",
    "review": "⚖️",
    "classroom": "🧑‍🏫",
}
GROUPS = {
    "play": ("explore", "interpolate", "latent_map"),
    "build": ("own_data", "train_live", "learn", "feedback", "review", "classroom"),
}
DEFAULT = "explore"
LINKED = frozenset({"explore", "interpolate", "latent_map"})  # pages whose state is in the URL


def page(name: str) -> st.Page:
    """The page `name` (a module of aigc.ui with a ``page()`` function), titled in the
    session's language. Imported when asked for: pages link to each other."""
    module = importlib.import_module(f"aigc.ui.{name}")
    return st.Page(
        module.page,
        title=tr(f"pages.{name}"),
        icon=ICONS[name],
        url_path=name.replace("_", "-"),
        default=name == DEFAULT,
    )


def name_of(current: st.Page) -> str:
    """The module name of the page st.navigation picked (the default page's path is empty)."""
    return current.url_path.replace("-", "_") or DEFAULT


def navigation() -> dict[str, list[st.Page]]:
    """Every page, by section, as ``st.navigation`` takes them."""
    return {tr(f"pages.{group}"): [page(name) for name in names] for group, names in GROUPS.items()}
