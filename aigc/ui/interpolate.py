"""Interpolate: walk a straight (lerp) or great-circle (slerp) path through several latent
points, from seeds or, with a VAE, from encoded images (a dataset image or your own photo),
and watch it as a strip and as an animation you can download."""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch
from torch import nn

from aigc import explore_math, imaging, latent
from aigc.data import DATASETS
from aigc.imaging import ImageInputError
from aigc.training import to_uint8
from aigc.ui import models, state, widgets
from aigc.ui.i18n import tr
from aigc.ui.widgets import MAX_SEED

PAGE = "interpolate"
MAX_POINTS = 8
SOURCES = ("seeds", "data", "upload")

SCHEMA: state.Schema = {
    "kind": state.ChoiceField("gan", ("gan", "vae")),
    "data": state.ChoiceField("mnist", DATASETS),
    "model": state.TextField(),
    "src": state.ChoiceField("seeds", SOURCES),
    "seeds": state.IntListField((0, 1, 2), 0, MAX_SEED, MAX_POINTS),
    "idx": state.IntListField((0, 1), 0, 9999, MAX_POINTS),
    "cls": state.IntField(3, 0, 9),
    "end": state.IntField(3, 0, 9),
    "interp": state.ChoiceField("slerp", ("lerp", "slerp")),
    "steps": state.IntField(12, 2, 32),
    "ms": state.IntField(80, 20, 1000),
}


def _restore(values: dict) -> None:
    ss = st.session_state
    for name in ("kind", "data", "src", "cls", "end", "interp", "steps", "ms"):
        ss[f"ip_{name}"] = values[name]
    if values["model"]:
        widgets.link_model("ip_model", values["model"])
    ss["ip_seeds"] = ", ".join(map(str, values["seeds"]))
    ss["ip_idx"] = ", ".join(map(str, values["idx"]))


def _publish(seeds: tuple[int, ...], idx: tuple[int, ...]) -> dict[str, str]:
    ss = st.session_state
    names = ("kind", "data", "model", "src", "cls", "end", "interp", "steps", "ms")
    values = {name: ss[f"ip_{name}"] for name in names}
    values.update(seeds=seeds, idx=idx)
    return state.publish(PAGE, SCHEMA, values)


def page() -> None:
    st.title(tr("pages.interpolate"))
    st.caption(tr("interpolate.intro"))
    linked = state.incoming(PAGE, SCHEMA)
    if linked is not None:
        _restore(linked)
    elif "ip_kind" not in st.session_state:
        _restore(state.parse(SCHEMA, {})[0])
    kind, dataset, label = widgets.model_picker_ui("ip", ("gan", "vae"))
    if label is None:
        return
    with st.spinner(tr("common.loading")):
        model = models.get_model(label)
        key = models.model_key(label, model)
        x, y = models.heldout(dataset)
    st.divider()
    _path_view(model, key, kind, dataset, x, y)


def _number_list_ui(
    key: str, field: state.IntListField, label: str, help: str, shown: bool
) -> tuple[int, ...]:
    """A comma-separated list box, parsed like a link: bad entries are dropped with a warning.
    A list the current source does not use is not drawn, but its value is kept for the URL."""
    if not shown:
        return state.parse_value(field, st.session_state[key])[0]
    text = st.text_input(label, key=key, help=help, persist_state="session")
    values, problem = state.parse_value(field, text)
    if problem:
        st.warning(tr("interpolate.bad_list"))
    return values


def _add_seed() -> None:
    current = st.session_state.get("ip_seeds", "")
    st.session_state["ip_seeds"] = ", ".join(
        filter(None, [current.strip(", "), str(random.randrange(MAX_SEED))])
    )


@st.fragment
def _path_view(
    model: nn.Module, key: str, kind: str, dataset: str, x: torch.Tensor, y: torch.Tensor
) -> None:
    controls, output = st.columns([2, 3], gap="large")
    with controls:
        sources = SOURCES if kind == "vae" else SOURCES[:1]
        if st.session_state["ip_src"] not in sources:
            st.session_state["ip_src"] = "seeds"
        source = st.segmented_control(
            tr("interpolate.src"),
            sources,
            format_func=lambda s: tr(f"interpolate.{s}"),
            key="ip_src",
            required=True,
            persist_state="session",
        )
        if kind == "gan":
            st.caption(tr("interpolate.only_vae"))
        seeds = _number_list_ui(
            "ip_seeds",
            SCHEMA["seeds"],
            tr("interpolate.seed_list"),
            tr("interpolate.seed_list_help"),
            shown=source == "seeds",
        )
        if source == "seeds":
            st.button("🎲 " + tr("interpolate.add_seed"), on_click=_add_seed)
        idx = _number_list_ui(
            "ip_idx",
            SCHEMA["idx"],
            tr("interpolate.idx_list"),
            tr("interpolate.idx_list_help", n=len(x)),
            shown=source != "seeds",
        )
        idx = tuple(min(i, len(x) - 1) for i in idx)
        upload = (
            st.file_uploader(
                tr("interpolate.your_image"), type=["png", "jpg", "jpeg"], key="ip_upload"
            )
            if source == "upload"
            else None
        )
        cls = end = None
        if widgets.conditional(model):
            count = min(10, model.config.num_classes)
            cls = widgets.class_ui("ip_cls", dataset, count, tr("interpolate.start_class"))
            end = widgets.class_ui("ip_end", dataset, count, tr("interpolate.end_class"))
        spherical = (
            st.segmented_control(
                tr("interpolate.interp"),
                ("slerp", "lerp"),
                key="ip_interp",
                required=True,
                help=tr("interpolate.interp_help"),
                persist_state="session",
            )
            == "slerp"
        )
        steps = st.slider(tr("interpolate.steps"), 2, 32, key="ip_steps", persist_state="session")
        ms = st.slider(
            tr("interpolate.ms"), 20, 1000, step=10, key="ip_ms", persist_state="session"
        )

    with output:
        points = _points_ui(model, source, seeds, idx, upload, x, y, cls)
        if points is not None:
            zs = latent.path(points, steps, spherical)
            weights = (
                explore_math.class_ramp(model.config.num_classes, cls, end, len(zs))
                if cls is not None
                else None
            )
            with st.spinner(tr("interpolate.working")):
                anim = _animate(
                    model, key, widgets.as_bytes(zs), widgets.as_bytes(weights), len(zs), ms
                )
            _animation_ui(anim)
    with controls:
        state.share_ui(_publish(seeds, idx))


def _points_ui(
    model: nn.Module,
    source: str,
    seeds: tuple[int, ...],
    idx: tuple[int, ...],
    upload,
    x: torch.Tensor,
    y: torch.Tensor,
    cls: int | None,
) -> torch.Tensor | None:
    """The path's latent points (K, D), with thumbnails of the images they encode; None (and a
    message) when there are not two usable points."""
    if source == "seeds":
        points = explore_math.seed_latents(seeds, model.latent_dim) if seeds else None
    else:
        images, labels = x[list(idx)], y[list(idx)]
        if source == "upload":
            digit = _digit_ui(upload)
            if digit is not None:
                images = torch.cat([torch.from_numpy(digit)[None, None], images])
                labels = torch.cat([torch.tensor([cls or 0]), labels])
        if len(images):
            st.caption(tr("interpolate.endpoints"))
            st.image(
                imaging.png_bytes(imaging.grid(to_uint8(images), len(images)), 3),
                output_format="PNG",
            )
        with widgets.one_thread():
            points = latent.encode_images(model, images, labels) if len(images) else None
    if points is None or len(points) < 2:
        st.info(tr("interpolate.need_two"))
        return None
    return points


def _digit_ui(upload) -> np.ndarray | None:
    """The user's image as a (28, 28) digit, or None (with a message) when there is none or it
    cannot be used; the path then runs through the dataset images alone."""
    if upload is None:
        st.info(tr("interpolate.upload_first"))
        return None
    try:
        return imaging.prepare_digit(imaging.open_upload(upload.getvalue(), upload.name))
    except ImageInputError as e:
        st.error(str(e))
        return None


@dataclass(frozen=True)
class Animation:
    gif: bytes
    strip: bytes
    frames: int


@st.cache_data(show_spinner=False, max_entries=256)
def _animate(
    _model: nn.Module, key: str, zs: bytes, weights: bytes | None, n: int, ms: int
) -> Animation:
    """Decode the path's latents into a bouncing GIF and a PNG strip; cached on the latents."""
    z = torch.frombuffer(bytearray(zs), dtype=torch.float32).view(n, -1)
    w = (
        None
        if weights is None
        else torch.frombuffer(bytearray(weights), dtype=torch.float32).view(n, -1)
    )
    with widgets.one_thread():
        frames = to_uint8(latent.generate(_model, z, w))
    cols = min(n, 12)
    return Animation(
        imaging.gif_bytes(frames, scale=8, ms_per_frame=ms),
        imaging.png_bytes(imaging.grid(frames, cols), 3),
        n,
    )


def _animation_ui(anim: Animation) -> None:
    st.caption(tr("interpolate.animation"))
    st.image(anim.gif, width="content")
    st.caption(tr("interpolate.strip", n=anim.frames))
    widgets.image_ui(anim.strip)
    gif, png = st.columns(2)
    gif.download_button(
        tr("interpolate.gif"), anim.gif, file_name="interpolation.gif", mime="image/gif", icon="🎞️"
    )
    png.download_button(
        tr("interpolate.png"), anim.strip, file_name="interpolation.png", mime="image/png", icon="🖼️"
    )
