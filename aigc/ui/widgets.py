"""Pieces the explore pages share: the model picker, the seed and class inputs, the image
readouts, and the cached renderers behind every picture.

Renderers are ``st.cache_data`` functions of (model key, latent bytes, class weights): the
model is passed as ``_model`` so it is never hashed, and the key names it exactly (see
`models.model_key`). Inference runs on one thread: at batch size 1, two OpenMP threads on a
2-core machine shared with training wait on each other (measured 6 ms vs 180 ms).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch
from torch import nn

from aigc import imaging, latent, metrics
from aigc.data import DATASETS
from aigc.models import GAN, VAE, Classifier
from aigc.training import to_uint8
from aigc.ui import models
from aigc.ui.i18n import texts, tr

MAX_SEED = 2**31 - 1
DIRECTIONS = 6  # principal directions offered as sliders
SCALE = 12  # 28 px -> 336 px, nearest-neighbour: crisp pixels at the size shown


def class_names(dataset: str) -> tuple[str, ...]:
    """The dataset's class names in the session's language (looked up once per call: widgets
    format every option on every rerun)."""
    return texts(f"classes.{dataset}")


@contextmanager
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def as_bytes(t: torch.Tensor | None) -> bytes | None:
    """A tensor as float32 bytes: a cheap, exact cache key for a latent or class weights."""
    return None if t is None else t.detach().float().contiguous().numpy().tobytes()


def _tensor(b: bytes | None, rows: int) -> torch.Tensor | None:
    return None if b is None else torch.frombuffer(bytearray(b), dtype=torch.float32).view(rows, -1)


def conditional(model: nn.Module) -> bool:
    return bool(model.config.num_classes)


# --- cached computation -------------------------------------------------------------------


@dataclass(frozen=True)
class Frame:
    """One rendered image and what the judges say about it."""

    png: bytes
    label: int | None  # the classifier's class, None without a classifier
    confidence: float
    realness: float | None  # GANs only


@dataclass(frozen=True)
class Mosaic:
    png: bytes
    labels: np.ndarray  # (N,) classifier's classes, empty without a classifier
    frames: np.ndarray  # (N, 28, 28) uint8


@st.cache_data(show_spinner=False, max_entries=4096)
def render_image(
    _model: nn.Module,
    _classifier: Classifier | None,
    key: str,
    z: bytes,
    weights: bytes | None,
    scale: int = SCALE,
) -> Frame:
    """Decode one latent (its float32 bytes) and judge it; cached on (key, z, weights)."""
    zt, wt = _tensor(z, 1), _tensor(weights, 1)
    with one_thread():
        x = latent.generate(_model, zt, wt)  # (1, 1, 28, 28)
        label, confidence = None, 0.0
        if _classifier is not None:
            scores = metrics.classify(_classifier, x)
            label, confidence = int(scores.labels[0]), float(scores.confidence[0])
        realness = None
        if isinstance(_model, GAN):
            with torch.no_grad():
                realness = float(_model.realness(x, wt.argmax(1) if wt is not None else None)[0])
    return Frame(imaging.png_bytes(to_uint8(x)[0], scale), label, confidence, realness)


@st.cache_data(show_spinner=False, max_entries=512)
def render_mosaic(
    _model: nn.Module,
    _classifier: Classifier | None,
    key: str,
    zs: bytes,
    weights: bytes | None,
    rows: int,
    cols: int,
    scale: int = 4,
) -> Mosaic:
    """Decode a batch of latents into one grid image; cached on (key, latents, weights)."""
    n = rows * cols
    with one_thread():
        x = latent.generate(_model, _tensor(zs, n), _tensor(weights, n))
        labels = (
            metrics.classify(_classifier, x).labels
            if _classifier is not None
            else np.zeros(0, np.int64)
        )
    frames = to_uint8(x)
    return Mosaic(imaging.png_bytes(imaging.grid(frames, cols), scale), labels, frames)


@dataclass(frozen=True)
class Steering:
    """A model's slider directions: principal directions, and (VAEs) class attribute vectors."""

    directions: latent.Directions
    class_vectors: torch.Tensor | None


@st.cache_resource(show_spinner=False, max_entries=64)
def steering(_model: nn.Module, key: str, dataset: str) -> Steering:
    """Directions per model, computed once per server for shipped models and once per session
    model (the key is its token)."""
    with one_thread():
        if isinstance(_model, VAE):
            x, y = models.heldout(dataset)
            return Steering(
                latent.principal_directions(_model, k=DIRECTIONS, data=x, labels=y),
                latent.class_vectors(_model, x, y),
            )
        return Steering(latent.principal_directions(_model, k=DIRECTIONS), None)


# --- widgets ------------------------------------------------------------------------------


def model_picker_ui(prefix: str, kinds: tuple[str, ...]) -> tuple[str, str, str | None]:
    """Kind, dataset and weights pickers; returns (kind, dataset, model label or None)."""
    cols = st.columns([1, 2, 3], vertical_alignment="bottom")
    with cols[0]:
        kind = st.segmented_control(
            tr("common.model"),
            kinds,
            format_func=str.upper,
            key=f"{prefix}_kind",
            required=True,
            persist_state="session",
        )
    with cols[1]:
        dataset = dataset_ui(f"{prefix}_data")
    with cols[2]:
        label = model_select_ui(f"{prefix}_model", models.available_models(kind, dataset))
    if label is None:
        st.info(tr("widgets.no_models", kind=kind.upper(), dataset=models.dataset_name(dataset)))
    return kind, dataset, label


def dataset_ui(key: str) -> str:
    return st.segmented_control(
        tr("common.dataset"),
        DATASETS,
        format_func=models.dataset_name,
        key=key,
        required=True,
        persist_state="session",
    )


def model_select_ui(key: str, options: list[str]) -> str | None:
    """A weights selectbox over `options`. A label that is not among them (the kind or dataset
    changed, or a link names a model this session lacks) gives way to the first option; a
    linked one with a notice (`link_model` marks it)."""
    if not options:
        return None
    wanted = st.session_state.get(key)
    linked = st.session_state.pop(f"{key}_linked", False)
    if wanted not in options:
        if linked:
            st.toast(tr("widgets.unavailable", label=wanted, used=models.model_title(options[0])))
        st.session_state[key] = options[0]
    return st.selectbox(
        tr("common.weights"),
        options,
        format_func=models.model_title,
        key=key,
        persist_state="session",
    )


def link_model(key: str, label: str) -> None:
    """Select the model a link names; `model_select_ui` says so if it is not available."""
    st.session_state[key] = label
    st.session_state[f"{key}_linked"] = True


def _roll(key: str) -> None:
    st.session_state[key] = random.randrange(MAX_SEED)


def seed_ui(key: str) -> int:
    """A seed box with a 🎲 button beside it."""
    box, dice = st.columns([4, 1], vertical_alignment="bottom")
    with dice:
        st.button("🎲", key=f"{key}_dice", help=tr("widgets.dice"), on_click=_roll, args=(key,))
    with box:
        return int(
            st.number_input(
                tr("common.seed"),
                min_value=0,
                max_value=MAX_SEED,
                step=1,
                key=key,
                help=tr("common.seed_help"),
                persist_state="session",
            )
        )


def class_ui(key: str, dataset: str, count: int = 10, label: str | None = None) -> int:
    """Class pills; `count` is the model's number of classes (an uploaded model may have
    fewer than the dataset)."""
    if st.session_state.get(key, 0) >= count:
        st.session_state[key] = 0
    return st.pills(
        label or tr("common.class"),
        range(count),
        format_func=class_names(dataset).__getitem__,
        key=key,
        required=True,
        wrap=True,
        persist_state="session",
    )


def image_ui(png: bytes) -> None:
    """A PNG shown at its own pixel size: no browser or server rescaling, so no blur."""
    st.image(png, output_format="PNG", width="content")


def readout_ui(frame: Frame, dataset: str) -> None:
    """The classifier's verdict and, for GANs, the discriminator's, beside an image: one
    element, since every element costs each slider move a message."""
    lines = []
    if frame.label is not None:
        name = class_names(dataset)[frame.label]
        lines.append(tr("widgets.says", name=name, p=frame.confidence))
    if frame.realness is not None:
        lines.append(tr("widgets.real", p=frame.realness))
    if lines:
        st.markdown("  \n".join(lines), help=tr("widgets.readout_help"))
