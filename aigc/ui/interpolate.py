"""Interpolate: walk a straight (lerp) or great-circle (slerp) path through several latent
points, from seeds or, with a VAE, from encoded images (dataset images picked from a gallery by
class, or your own photo), and watch it as a strip and as an animation you can download."""

from __future__ import annotations

import random

import numpy as np
import streamlit as st

from aigc import imaging, render
from aigc.data import DATASETS, OWN_IMAGES
from aigc.imaging import ImageInputError
from aigc.prior import FittedPrior
from aigc.render import MAX_SEED, Animation
from aigc.ui import desks, feedback, models, morph_panel, pictures, room, state, widgets
from aigc.ui.i18n import error_text, tr

PAGE = "interpolate"
MAX_POINTS = 8
SOURCES = ("seeds", "data", "upload")
GALLERY = 8  # examples shown per class
DEFAULT_CLASSES = (3, 8)  # a path's default endpoints: the first example of each
_DESK = "ip_desk"  # session state: where the frame scrubber posts its releases
_FRAME = {"frame": 1}  # what the scrubber releases: the frame's number, 1-based

SCHEMA: state.Schema = {
    "kind": state.ChoiceField("gan", ("gan", "vae")),
    "data": state.ChoiceField("mnist", (*DATASETS, OWN_IMAGES)),
    "model": state.TextField(),
    "src": state.ChoiceField("seeds", SOURCES),
    "seeds": state.IntListField((0, 1, 2), 0, MAX_SEED, MAX_POINTS),
    "idx": state.IntListField((), 0, 9999, MAX_POINTS),
    "cls": state.IntField(3, 0, 9),
    "end": state.IntField(3, 0, 9),
    "interp": state.ChoiceField("slerp", ("lerp", "slerp")),
    "steps": state.IntField(12, 2, 32),
    "ms": state.IntField(80, 20, 1000),
    "prior": state.ChoiceField("fitted", widgets.PRIORS),
}


def _restore(values: dict) -> None:
    ss = st.session_state
    for name in ("kind", "data", "src", "cls", "end", "interp", "steps", "ms", "prior"):
        ss[f"ip_{name}"] = values[name]
    if values["model"]:
        widgets.link_model("ip_model", values["model"])
    ss["ip_seeds"] = ", ".join(map(str, values["seeds"]))
    ss["ip_idx"] = ", ".join(map(str, values["idx"]))


def _publish(seeds: tuple[int, ...], idx: tuple[int, ...]) -> dict[str, str]:
    ss = st.session_state
    names = ("kind", "data", "model", "src", "cls", "end", "interp", "steps", "ms")
    values = {name: ss[f"ip_{name}"] for name in names}
    values.update(seeds=seeds, idx=idx, prior=ss.get("ip_prior", "fitted"))
    return state.publish(PAGE, SCHEMA, values)


def page() -> None:
    st.title(tr("pages.interpolate"))
    st.caption(tr("interpolate.intro"))
    state.restore(PAGE, SCHEMA, _restore, first_key="ip_kind")
    kind, dataset, label = widgets.model_picker_ui("ip", ("gan", "vae"), own=True)
    if label is None:
        return
    with st.spinner(tr("common.loading")):
        model = models.get_model(label)
        key = models.model_key(label, model)
    st.divider()
    _path_view(model, key, label, kind, dataset)


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


def _source_ui(kind: str, dataset: str) -> str:
    """Seeds, and for a VAE of a shipped dataset its held-out images or a photo of one's own
    (a model of one's own set walks between seeds: its set is not a gallery here)."""
    own = dataset == OWN_IMAGES
    sources = SOURCES if kind == "vae" and not own else SOURCES[:1]
    source = widgets.segments_ui(
        tr("interpolate.src"), sources, "ip_src", lambda s: tr(f"interpolate.{s}")
    )
    if own:
        st.caption(tr("interpolate.own_seeds"))
    elif kind == "gan":
        st.caption(tr("interpolate.only_vae"))
    return source


@st.fragment
def _path_view(model: render.Model, key: str, label: str, kind: str, dataset: str) -> None:
    _take_frame()
    controls, output = st.columns([2, 3], gap="large")
    with controls:
        source = _source_ui(kind, dataset)
        seeds = _number_list_ui(
            "ip_seeds",
            SCHEMA["seeds"],
            tr("interpolate.seed_list"),
            tr("interpolate.seed_list_help"),
            shown=source == "seeds",
        )
        if source == "seeds":
            st.button("🎲 " + tr("interpolate.add_seed"), on_click=_add_seed)
        fitted = _prior_ui(model, key, dataset) if kind == "vae" and source == "seeds" else None
        idx = _dataset_points_ui(dataset, shown=source != "seeds") if dataset in DATASETS else ()
        upload = (
            st.file_uploader(
                tr("interpolate.your_image"), type=["png", "jpg", "jpeg"], key="ip_upload"
            )
            if source == "upload"
            else None
        )
        ramp = _class_ramp_ui(model, dataset)
        spherical = _spherical_ui()
        steps = st.slider(tr("interpolate.steps"), 2, 32, key="ip_steps", persist_state="session")
        ms = st.slider(
            tr("interpolate.ms"), 20, 1000, step=10, key="ip_ms", persist_state="session"
        )
    with output:
        points = _points_ui(model, dataset, source, seeds, idx, upload, ramp, fitted)
        if points is not None:
            with st.spinner(tr("interpolate.working")):
                anim = pictures.animation(model, key, points, steps, spherical, ms, ramp)
            _animation_ui(anim)
    with controls:
        query = _publish(seeds, idx)
        state.share_ui(query)
    if points is not None:
        with output:
            number = _frame_ui(anim, query)
            _rate_frame_ui(
                model, key, label, dataset, points, steps, spherical, ramp, query, number
            )


def _prior_ui(model: render.Model, key: str, dataset: str) -> FittedPrior | None:
    """Explore's choice for a VAE's seeds (its fitted prior by default, N(0, I) one click
    away), so a seed is the same picture on both pages."""
    chosen = widgets.prior_ui("ip_prior")
    return pictures.fitted_prior(model, key, dataset) if chosen == "fitted" else None


def _class_ramp_ui(model: render.Model, dataset: str) -> tuple[int, int] | None:
    if not render.conditional(model):
        return None
    count, names = render.classes(model), widgets.model_class_names(model, dataset)
    start = widgets.class_ui("ip_cls", dataset, count, tr("interpolate.start_class"), names)
    end = widgets.class_ui("ip_end", dataset, count, tr("interpolate.end_class"), names)
    return start, end


def _spherical_ui() -> bool:
    return (
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


def _default_indices(labels: np.ndarray) -> tuple[int, ...]:
    """The first held-out example of each default class: two different things to morph."""
    return tuple(int(np.flatnonzero(labels == c)[0]) for c in DEFAULT_CLASSES)


def _dataset_points_ui(dataset: str, shown: bool) -> tuple[int, ...]:
    """The held-out images the path runs through (their indices, as the link keeps them),
    added from a gallery of each class's first examples rather than by blind index."""
    x, y = models.heldout(dataset)
    labels = np.asarray(y)
    if st.session_state["ip_idx"] == "":  # a link without images, not a cleared path
        st.session_state["ip_idx"] = ", ".join(map(str, _default_indices(labels)))
    if shown:
        _gallery_ui(dataset, labels)
    idx = _number_list_ui(
        "ip_idx",
        SCHEMA["idx"],
        tr("interpolate.idx_list"),
        tr("interpolate.idx_list_help", n=len(x)),
        shown=shown,
    )
    return tuple(min(i, len(x) - 1) for i in idx)


def _gallery_ui(dataset: str, labels: np.ndarray) -> None:
    """Pick a class, see its first examples, add one to the path."""
    st.markdown(f"**{tr('interpolate.gallery')}**", help=tr("interpolate.gallery_help"))
    st.session_state.setdefault("ip_gallery_cls", DEFAULT_CLASSES[0])
    cls = widgets.class_ui("ip_gallery_cls", dataset, 10)
    examples = tuple(int(i) for i in np.flatnonzero(labels == cls)[:GALLERY])
    st.image(pictures.dataset_images(dataset, examples, len(examples), 2), output_format="PNG")
    pick, add, clear = st.columns([3, 2, 2], vertical_alignment="bottom")
    with pick:
        number = st.number_input(tr("interpolate.example"), 1, len(examples), key="ip_example")
    add.button(
        tr("interpolate.add_image"), on_click=_add_index, args=(examples[number - 1],), icon="➕"
    )
    clear.button(tr("interpolate.clear"), on_click=_clear_indices, icon="🗑️")


def _add_index(index: int) -> None:
    ss = st.session_state
    current = [part.strip() for part in ss["ip_idx"].split(",") if part.strip()]
    ss["ip_idx"] = ", ".join([*current, str(index)][-MAX_POINTS:])


def _clear_indices() -> None:
    st.session_state["ip_idx"] = " "  # not empty: an empty list would bring back the defaults


def _points_ui(
    model: render.Model,
    dataset: str,
    source: str,
    seeds: tuple[int, ...],
    idx: tuple[int, ...],
    upload,
    ramp: tuple[int, int] | None,
    fitted: FittedPrior | None,
) -> tuple[tuple[float, ...], ...] | None:
    """The path's latent points (K, D), with thumbnails of the images they encode; None (and a
    message) when there are not two usable points. Seeds name their latents as on Explore:
    under a VAE's `fitted` prior where one is given."""
    if source == "seeds":
        points = render.seed_points(model, seeds, fitted) if seeds else np.zeros((0, 0))
    else:
        x, y = models.heldout(dataset)
        images, labels = np.asarray(x[list(idx)]).reshape(-1, 28, 28), np.asarray(y[list(idx)])
        if source == "upload":
            digit = _digit_ui(upload)
            if digit is not None:
                images = np.concatenate([digit[None].astype(np.float32) / 255, images])
                labels = np.concatenate([[ramp[0] if ramp else 0], labels])
        if len(images):
            st.caption(tr("interpolate.endpoints"))
            st.image(render.thumbnails(images), output_format="PNG")
        points = render.encode(model, images, labels) if len(images) else np.zeros((0, 0))
    if len(points) < 2:
        st.info(tr("interpolate.need_two"))
        return None
    return tuple(tuple(p) for p in points.tolist())


def _digit_ui(upload) -> np.ndarray | None:
    """The user's image as a (28, 28) digit, or None (with a message) when there is none or it
    cannot be used; the path then runs through the dataset images alone."""
    if upload is None:
        st.info(tr("interpolate.upload_first"))
        return None
    try:
        return imaging.prepare_upload(upload.getvalue(), upload.name)
    except ImageInputError as e:
        st.error(error_text(e))
        return None


def _animation_ui(anim: Animation) -> None:
    st.caption(tr("interpolate.animation"))
    st.image(anim.gif, width="content")
    st.caption(tr("interpolate.strip", n=anim.frames))
    widgets.image_ui(anim.strip)
    files = (("gif", anim.gif, "image/gif", "🎞️"), ("png", anim.strip, "image/png", "🖼️"))
    for col, (kind, data, mime, icon) in zip(st.columns(2), files, strict=True):
        name = f"interpolation.{kind}"
        col.download_button(tr(f"interpolate.{kind}"), data, file_name=name, mime=mime, icon=icon)


def _take_frame() -> None:
    """The frame the scrubber posted to its desk since the last run (no rerun came with it)."""
    posted = desks.take_posted(_DESK)
    if posted is not None:
        st.session_state["ip_frame"] = round(posted[0]["frame"][0])


def _frame_released() -> None:
    """The scrubber's on_released_change, where it reruns the page (a room, a failed post)."""
    released = desks.released(st.session_state["ip_film"]["released"], _FRAME)
    if released is not None:  # anything else did not come from the scrubber: ignored
        st.session_state["ip_frame"] = round(released["frame"][0])


def _frame_ui(anim: Animation, query: dict[str, str]) -> int:
    """The frame to rate or send, picked by dragging along the walk's frames, which the
    browser shows as they are dragged over (the film: no model, no server in the drag). Its
    release reruns nothing, except in a room, whose followers watch the page."""
    number = min(max(int(st.session_state.get("ip_frame", 1)), 1), anim.frames)
    desk = None
    if room.code() is None:
        desk = desks.desk(_DESK)
        link = state.link(st.context.url, query)  # the frame is not in the link
        desk.offer(_FRAME, lambda _: link)
    morph_panel.film(
        anim.film,
        anim.frames,
        number,
        label=tr("interpolate.frame"),
        alt=tr("interpolate.frame_alt"),
        key="ip_film",
        on_released=_frame_released,
        sync=desk,
    )
    return number


def _rate_frame_ui(
    model: render.Model,
    key: str,
    label: str,
    dataset: str,
    points: tuple[tuple[float, ...], ...],
    steps: int,
    spherical: bool,
    ramp: tuple[int, int] | None,
    query: dict[str, str],
    number: int,
) -> None:
    """Rate one frame of the walk: the `number`th along the strip."""
    classifier = models.classifier(dataset)
    frame = pictures.path_frame(model, classifier, key, points, steps, spherical, number - 1, ramp)
    rated = feedback.Rated(
        page=PAGE,
        model=label,
        dataset=dataset,
        label=ramp[0] if ramp else None,
        seed=None,
        latent=frame.z,
        link=state.link(st.context.url, query),
    )
    feedback.image_actions_ui("ip_rate", rated, frame.png)
