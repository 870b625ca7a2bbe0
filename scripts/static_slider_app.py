"""The floor for the bench's interaction figures: N sliders (query parameter ``?sliders=N``,
default 1) and one picture drawn from their values with no model at all, upscaled and
PNG-encoded like the Explore page's image. What a rerun of this page costs is what Streamlit
itself costs; the Explore page's rerun time above it is ours.

    streamlit run scripts/static_slider_app.py   # then open /?sliders=8
"""

from __future__ import annotations

import io

import numpy as np
import streamlit as st
from PIL import Image

SCALE = 12  # 28 px -> 336 px, as the Explore page shows its image
MAX_SLIDERS = 64


def slider_count() -> int:
    try:
        n = int(st.query_params.get("sliders", "1"))
    except ValueError:
        n = 1
    return min(max(n, 1), MAX_SLIDERS)


def picture(values: list[float]) -> np.ndarray:
    """(28, 28) uint8 that changes with every slider: a cheap stand-in for a decoded latent."""
    ramp = np.linspace(0.0, 1.0, 28, dtype=np.float32)
    phase = float(np.sum(np.asarray(values) * np.arange(1, len(values) + 1)))
    image = 0.5 + 0.5 * np.sin(6.0 * np.add.outer(ramp, ramp) + phase)
    return (image * 255).astype(np.uint8)


def png(image: np.ndarray) -> bytes:
    """Nearest-neighbour upscale and PNG-encode, the same work the Explore page's image costs."""
    pil = Image.fromarray(image).resize((28 * SCALE, 28 * SCALE), Image.NEAREST)
    buf = io.BytesIO()
    pil.save(buf, format="PNG")
    return buf.getvalue()


def main() -> None:
    st.title("Static sliders")
    values = [
        st.slider(f"slider {i}", -3.0, 3.0, 0.0, 0.1, key=f"s{i}") for i in range(slider_count())
    ]
    st.image(png(picture(values)), output_format="PNG")


main()
