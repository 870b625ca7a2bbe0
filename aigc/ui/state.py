"""What a page's URL holds, and how a link is read back.

Each page declares a schema: typed fields with a default and a range. `parse` and `encode` are
pure functions over it, so a hand-edited or truncated link (``?seed=abc&z=1e999``) is clamped
or ignored with a `Notice`, never an exception, and is testable without a server. `incoming`
and `publish` are the two calls that move values between ``st.query_params`` and a page.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import streamlit as st

from aigc.ui import morph_panel, room
from aigc.ui.i18n import lang, tr

MAX_CHARS = 400  # longer values are refused before parsing: no link needs more


@dataclass(frozen=True)
class IntField:
    default: int
    lo: int
    hi: int


@dataclass(frozen=True)
class FloatField:
    default: float
    lo: float
    hi: float


@dataclass(frozen=True)
class ChoiceField:
    default: str
    choices: tuple[str, ...]


@dataclass(frozen=True)
class TextField:
    """Free text checked later against what exists (a model label), so only its length is
    checked here."""

    default: str = ""
    max_chars: int = 80


@dataclass(frozen=True)
class IntListField:
    default: tuple[int, ...]
    lo: int
    hi: int
    max_items: int


@dataclass(frozen=True)
class FloatListField:
    default: tuple[float, ...]
    lo: float
    hi: float
    max_items: int


@dataclass(frozen=True)
class SparseField:
    """A few (index, value) overrides of a vector, written ``3:0.5,7:-1.2``."""

    size: int
    lo: float
    hi: float


Field = (
    IntField | FloatField | ChoiceField | TextField | IntListField | FloatListField | SparseField
)
Schema = Mapping[str, Field]


@dataclass(frozen=True)
class Notice:
    """One query parameter that could not be used as given."""

    key: str
    raw: str
    problem: str  # "not_a_number", "out_of_range", "unknown_choice", "too_long", "too_many"
    used: str  # the value used instead, as it will appear in the URL


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return None if math.isnan(value) else value


def _int(text: str) -> float | None:
    """Whole numbers, also written 1e3 or 42.0; None for anything else. Returned as float so
    an out-of-range value can still be clamped."""
    value = _float(text)
    if value is None or (math.isfinite(value) and value != int(value)):
        return None
    return value


def _clamp(value: float, lo: float, hi: float) -> tuple[float, bool]:
    clamped = min(max(value, lo), hi)
    return clamped, clamped != value


def fmt(value: object) -> str:
    """The URL text of a value: short floats (6 significant digits), comma-separated lists."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dict):
        return ",".join(f"{i}:{fmt(float(v))}" for i, v in sorted(value.items()))
    if isinstance(value, list | tuple):
        return ",".join(fmt(v) for v in value)
    return str(value)


def parse_value(field: Field, raw: str) -> tuple[object, str | None]:
    """One field's value from its URL text, and the problem found (None if it was fine)."""
    text = raw.strip()
    if len(text) > MAX_CHARS:
        return field.default, "too_long"
    if isinstance(field, IntField | FloatField):
        number = _int(text) if isinstance(field, IntField) else _float(text)
        if number is None:
            return field.default, "not_a_number"
        value, clamped = _clamp(number, field.lo, field.hi)
        value = int(value) if isinstance(field, IntField) else value
        return value, "out_of_range" if clamped else None
    if isinstance(field, ChoiceField):
        return (text, None) if text in field.choices else (field.default, "unknown_choice")
    if isinstance(field, TextField):
        return (text, None) if len(text) <= field.max_chars else (field.default, "too_long")
    if isinstance(field, SparseField):
        return _parse_sparse(field, text)
    return _parse_list(field, text)


def _parse_list(field: IntListField | FloatListField, text: str) -> tuple[object, str | None]:
    to_number = _int if isinstance(field, IntListField) else _float
    items, problem = [], None
    parts = [p for p in text.split(",") if p.strip()]
    if len(parts) > field.max_items:
        parts, problem = parts[: field.max_items], "too_many"
    for part in parts:
        number = to_number(part.strip())
        if number is None:
            problem = problem or "not_a_number"
            continue
        value, clamped = _clamp(number, field.lo, field.hi)
        problem = problem or ("out_of_range" if clamped else None)
        items.append(int(value) if isinstance(field, IntListField) else value)
    return tuple(items), problem


def _parse_sparse(field: SparseField, text: str) -> tuple[dict[int, float], str | None]:
    values: dict[int, float] = {}
    problem = None
    for part in (p for p in text.split(",") if p.strip()):
        index_text, _, value_text = part.partition(":")
        index, number = _int(index_text.strip()), _float(value_text.strip())
        if index is None or number is None:
            problem = problem or "not_a_number"
            continue
        if not 0 <= index < field.size:
            problem = problem or "out_of_range"
            continue
        value, clamped = _clamp(number, field.lo, field.hi)
        problem = problem or ("out_of_range" if clamped else None)
        values[int(index)] = value
    return values, problem


def _default(field: Field) -> object:
    return {} if isinstance(field, SparseField) else field.default


def parse(
    schema: Schema, params: Mapping[str, str | Sequence[str]]
) -> tuple[dict[str, object], list[Notice]]:
    """Every field of the schema from query parameters: defaults for the missing ones, clamped
    or default values (each with a Notice) for the unusable ones; unknown keys are ignored."""
    values = {key: _default(field) for key, field in schema.items()}
    notices = []
    for key, field in schema.items():
        if key not in params:
            continue
        raw = params[key]
        raw = raw if isinstance(raw, str) else (raw[-1] if raw else "")  # a repeated key: last
        values[key], problem = parse_value(field, raw)
        if problem:
            notices.append(Notice(key, raw[:40], problem, fmt(values[key])))
    return values, notices


def encode(schema: Schema, values: Mapping[str, object]) -> dict[str, str]:
    """The query parameters for values, leaving out the ones at their default so links stay
    short (parse fills them back in)."""
    return {
        key: fmt(values[key])
        for key, field in schema.items()
        if key in values and fmt(values[key]) != fmt(_default(field))
    }


def link(base_url: str | None, query: Mapping[str, str]) -> str:
    """The shareable link: the page's address (a bare host gets its "/") plus the query."""
    base = base_url or ""
    if base and not urlsplit(base).path:
        base += "/"
    return f"{base}?{urlencode(query)}" if query else base or "?"


def notice_text(notice: Notice) -> str:
    return tr(f"state.{notice.problem}", param=notice.key, raw=notice.raw, used=notice.used)


def _written() -> dict[str, dict[str, str]]:
    return st.session_state.setdefault("_url_written", {})


def incoming(page: str, schema: Schema) -> dict[str, object] | None:
    """The link's values when the URL carries state for this page that the page did not write
    itself (a shared link being opened), else None. Problems are shown as toasts."""
    params = {key: st.query_params.get_all(key) for key in schema if key in st.query_params}
    if not params or {k: v[-1] for k, v in params.items()} == _written().get(page):
        return None
    values, notices = parse(schema, params)
    for notice in notices:
        st.toast(notice_text(notice), icon="⚠️")
    return values


def restore(
    page: str, schema: Schema, put: Callable[[dict[str, object]], None], first_key: str
) -> None:
    """Before a page draws its widgets: a shared link's values, or the defaults on the
    session's first visit (when `first_key` is not in session state yet), go to `put`, which
    writes them into the widgets' session state."""
    linked = incoming(page, schema)
    if linked is not None:
        put(linked)
    elif first_key not in st.session_state:
        put(parse(schema, {})[0])


def share_query(
    schema: Schema, values: Mapping[str, object], language: str | None = None
) -> dict[str, str]:
    """The query of a link to `values`, in the session's language (the frame's, kept in every
    page's link; English, the default, is left out), or in `language` where no session state
    can be read (a route)."""
    query = encode(schema, values)
    language = language or lang()
    return {**query, "lang": language} if language != "en" else query


def publish(page: str, schema: Schema, values: Mapping[str, object]) -> dict[str, str]:
    """Write the page's state into the URL (only when it changed) and return the query."""
    own = encode(schema, values)
    _written()[page] = own
    query = share_query(schema, values)
    address = {**query, **room.url_params()}
    if st.query_params.to_dict() != address:
        st.query_params.from_dict(address)
    room.on_publish(page.replace("-", "_"), own)  # after the URL: it may rerun the app
    return query


def share_ui(query: Mapping[str, str], group: str = "") -> None:
    """The link that reopens this exact view, with a copy button: the morph panel's link
    block, which the `group`'s live sliders rewrite as they are released. (Not `st.code`:
    its syntax highlighter, 1.6 MB, was most of what a new tab loads before its picture.)"""
    morph_panel.link(group, link(st.context.url, query), key="share_link")
