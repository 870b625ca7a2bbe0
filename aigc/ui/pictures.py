"""The render path behind every picture on the pages, cached.

Each function is `aigc.render`'s, wrapped in ``st.cache_data`` on (model key, look): the model,
classifier and steering are passed with a leading underscore so they are never hashed, and the
key names the model exactly (see `models.model_key`). The same look is the same bytes in every
session, so a shared link, the bench and the CLI all see what the page shows.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from aigc import morph, prior, render
from aigc.data import OWN_IMAGES
from aigc.prior import FittedPrior
from aigc.render import Animation, Frame, Gate, Look, Mosaic, PriorDraw, Steering
from aigc.ui import models
from aigc.ui.morph_panel import Graph


@st.cache_resource(show_spinner=False, max_entries=64)
def steering(_model: models.Model, key: str, dataset: str) -> Steering:
    """Directions per model, computed once per server for shipped models and once per session
    model (the key is its token). Shared read-only."""
    return render.steering(_model, models.reference_images(_model, dataset))


@st.cache_resource(show_spinner=False, max_entries=len(models.SHIPPED))
def _shared_graph(
    _model: models.Model,
    _classifier: models.Model | None,
    _steering: Steering,
    key: str,
    dataset: str,
) -> Graph:
    return Graph.of(morph.export_onnx(_model, _steering, _classifier))


def graph(
    model: models.Model, classifier: models.Model | None, steering: Steering, key: str, dataset: str
) -> Graph:
    """The model with its slider directions and the dataset's classifier as the browser's
    ONNX graph (`aigc.morph`), exported once: per server for a shipped model, per session for a session's own (kept in
    its session state, so no other session's cache holds its weights)."""
    if key in models.SHIPPED:
        return _shared_graph(model, classifier, steering, key, dataset)
    own = st.session_state.setdefault("_morph_graphs", {})
    if (key, dataset) not in own:
        live = {models.model_key(label, m) for label, m in models.session_models().items()}
        for gone in [k for k in own if k[0] not in live]:  # models the session let go of
            del own[gone]
        own[(key, dataset)] = Graph.of(morph.export_onnx(model, steering, classifier))
    return own[(key, dataset)]


@st.cache_data(show_spinner=False, max_entries=4096)
def image(
    _model: models.Model,
    _classifier: models.Model | None,
    _steering: Steering,
    key: str,
    look: Look,
    scale: int = render.SCALE,
    _fitted: FittedPrior | None = None,
    prior: str = "normal",
) -> Frame:
    """`render.image`; `prior` names the prior `_fitted` is (or "normal"), for the cache."""
    return render.image(_model, _classifier, _steering, look, scale, _fitted)


@st.cache_data(show_spinner=False, max_entries=512)
def grid(
    _model: models.Model,
    _classifier: models.Model | None,
    _steering: Steering,
    key: str,
    look: Look,
    side: int,
    scale: int,
    _fitted: FittedPrior | None = None,
    prior: str = "normal",
) -> Mosaic:
    """`render.grid`, drawn from N(0, I) or, `prior` "fitted", from a VAE's `_fitted` prior
    (`fitted_prior`; the name keys the cache)."""
    return render.grid(_model, _classifier, _steering, look, side, scale, _fitted)


@st.cache_resource(show_spinner=False, max_entries=64)
def fitted_prior(_model: models.Model, key: str, dataset: str) -> FittedPrior:
    """A VAE's prior fitted to the training codes of its dataset (`aigc.prior`), once per
    server for a shipped model and once per session model (the key is its token); for one
    trained on a session's own set, to that set's codes."""
    if dataset == OWN_IMAGES:
        return prior.fit_to(_model, *models.reference_images(_model, dataset))
    return prior.for_dataset(_model, dataset)


@st.cache_data(show_spinner=False, max_entries=4096)
def point_image(
    _model: models.Model,
    _classifier: models.Model | None,
    key: str,
    z: tuple[float, ...],
    label: int | None,
    scale: int,
) -> Frame:
    return render.point_image(_model, _classifier, z, label, scale)


@st.cache_data(show_spinner=False, max_entries=256)
def manifold(
    _model: models.Model, key: str, n: int, extent: float, label: int | None, scale: int
) -> Mosaic:
    """The decoder's whole 2-D latent space on an even n x n grid over [-extent, extent]^2."""
    return render.decode_points(_model, None, render.manifold(n, extent), label, n, scale)


@st.cache_data(show_spinner=False, max_entries=256)
def gate(_model: models.Model, key: str, threshold: float, seed: int, label: int | None) -> Gate:
    return render.gate(_model, threshold, seed, label)


@st.cache_data(show_spinner=False, max_entries=256)
def animation(
    _model: models.Model,
    key: str,
    points: tuple[tuple[float, ...], ...],
    steps: int,
    spherical: bool,
    ms: int,
    classes_from_to: tuple[int, int] | None,
) -> Animation:
    return render.animation(_model, points, steps, spherical, ms, classes_from_to)


@st.cache_data(show_spinner=False, max_entries=256)
def path_frame(
    _model: models.Model,
    _classifier: models.Model | None,
    key: str,
    points: tuple[tuple[float, ...], ...],
    steps: int,
    spherical: bool,
    index: int,
    classes_from_to: tuple[int, int] | None,
) -> Frame:
    return render.path_frame(_model, _classifier, points, steps, spherical, index, classes_from_to)


@st.cache_data(show_spinner=False, max_entries=32)
def encoded(_model: models.Model, key: str, dataset: str) -> np.ndarray:
    """(N, D) posterior means of the held-out images: where they lie in latent space."""
    x, y = models.heldout(dataset)
    return render.encode(_model, x, y)


@st.cache_data(show_spinner=False, max_entries=64)
def prior_draw(
    _model: models.Model,
    _classifier: models.Model | None,
    key: str,
    dataset: str,
    look: Look,
    n: int,
    prior: str,
    map_codes: bool,
) -> PriorDraw:
    """`render.prior_draw` from N(0, I) (`prior` "normal") or the VAE's fitted prior, with
    its holes among the held-out codes where `map_codes`."""
    fitted = fitted_prior(_model, key, dataset) if prior == "fitted" else None
    codes = encoded(_model, key, dataset) if map_codes else None
    return render.prior_draw(_model, _classifier, look, n, fitted, codes)


@st.cache_data(show_spinner=False, max_entries=8)
def heldout_sure(_classifier: models.Model, dataset: str) -> float:
    """The share of held-out images the dataset's classifier is sure of."""
    return render.sure_share(_classifier, models.heldout(dataset)[0])


@st.cache_data(show_spinner=False, max_entries=32)
def dimension_kl(_model: models.Model, key: str, dataset: str) -> np.ndarray:
    x, y = models.heldout(dataset)
    return render.dimension_kl(_model, x, y)


@st.cache_data(show_spinner=False, max_entries=64)
def dataset_images(dataset: str, indices: tuple[int, ...], cols: int, scale: int) -> bytes:
    """Held-out images by index, as one PNG (the gallery and the path's endpoints)."""
    x, _ = models.heldout(dataset)
    return render.thumbnails(x[list(indices)], cols, scale)
