"""A pad to draw one training image at a time (`draw/draw_pad.js`): dark ink on light paper,
with a mouse, a finger or a pen. "Add" sends the drawing once, as a PNG, and clears the pad.

Our own small component rather than streamlit-drawable-canvas: its buttons speak the page's
language, a drawing costs the server one message when it is added (not a rerun per stroke),
and it brings no 400 kB drawing library. What it sends is checked like any upload: a forged
value is refused in plain words and changes nothing.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Callable
from pathlib import Path

import streamlit as st

from aigc.imaging import ImageInputError
from aigc.ui.i18n import tr

HERE = Path(__file__).with_name("draw")
MAX_DRAWING_BYTES = 256 * 1024  # a 280 px PNG of strokes is 5-20 kB
_PREFIX = "data:image/png;base64,"


@functools.cache
def _component():
    return st.components.v2.component(
        "aigc_draw_pad",
        js=(HERE / "draw_pad.js").read_text(),
        css=(HERE / "draw_pad.css").read_text(),
    )


def drawing_bytes(value: object) -> bytes:
    """The PNG a pad sent ({"png": data URL, "n": count}); ImageInputError for anything the
    pad cannot have sent, before any image decoder sees it."""
    png = value.get("png") if isinstance(value, dict) else None
    if not isinstance(png, str) or not png.startswith(_PREFIX):
        raise ImageInputError(
            "the drawing pad sent something that is not a PNG", "drawing_unusable"
        )
    if len(png) > MAX_DRAWING_BYTES * 4 // 3 + len(_PREFIX) + 4:
        raise ImageInputError("the drawing is larger than a drawing can be", "drawing_unusable")
    try:
        return base64.b64decode(png[len(_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ImageInputError("the drawing is not valid base64", "drawing_unusable") from None


def pad(
    key: str, on_drawn: Callable[[bytes], None], on_refused: Callable[[Exception], None]
) -> None:
    """The pad; `on_drawn` gets each added drawing's PNG before the rerun it starts, and
    `on_refused` the error for a value that is not one."""
    _component()(
        data={
            "add": tr("own_data.add"),
            "clear": tr("own_data.clear"),
            "alt": tr("own_data.pad_alt"),
        },
        key=key,
        on_drawn_change=lambda: _drawn(key, on_drawn, on_refused),
    )


def _drawn(
    key: str, on_drawn: Callable[[bytes], None], on_refused: Callable[[Exception], None]
) -> None:
    value = (st.session_state.get(key) or {}).get("drawn")
    if value is None:
        return
    try:
        png = drawing_bytes(value)
    except ImageInputError as error:
        on_refused(error)
        return
    on_drawn(png)
