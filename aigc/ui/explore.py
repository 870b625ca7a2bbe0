"""Explore: one image under your fingers (seed, class, principal-direction sliders, raw latent
dimensions), a grid of seeds, GAN vs VAE side by side, and the discriminator's quality gate.

Every slider lives in an ``st.fragment``, so moving one reruns only the picture it drives: one
generator call (cached on the latent), one classifier call, one small PNG.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch
from torch import nn

from aigc import explore_math, imaging, latent
from aigc.data import DATASETS
from aigc.models import Classifier
from aigc.training import to_uint8
from aigc.ui import feedback, models, state, widgets
from aigc.ui.i18n import tr
from aigc.ui.widgets import DIRECTIONS, MAX_SEED, Steering

PAGE = "explore"
MODES = ("single", "grid", "compare", "gate")
RAW_RANGE = 6.0  # |z_j| > 6 has probability 2e-9 per dimension under N(0, 1)
GATE_WANTED = 32
_LINKED = "link"  # ex_raw_for value meaning "raw overrides came from a link, apply them"

SCHEMA: state.Schema = {
    "kind": state.ChoiceField("gan", ("gan", "vae")),
    "data": state.ChoiceField("mnist", DATASETS),
    "model": state.TextField(),
    "mode": state.ChoiceField("single", MODES),
    "cls": state.IntField(3, 0, 9),
    "seed": state.IntField(0, 0, MAX_SEED),
    "pc": state.FloatListField((), -3.0, 3.0, DIRECTIONS),
    "to": state.IntField(8, 0, 9),
    "blend": state.FloatField(0.0, 0.0, 1.0),
    "push": state.FloatField(0.0, -3.0, 3.0),
    "raw": state.SparseField(512, -RAW_RANGE, RAW_RANGE),
    "n": state.IntField(8, 2, 12),
    "cpush": state.FloatField(1.5, 0.0, 3.0),
    "thr": state.FloatField(0.5, 0.0, 1.0),
}


@dataclass(frozen=True)
class View:
    """What the full run settled and every fragment rerun reuses."""

    kind: str
    dataset: str
    label: str
    model: nn.Module
    key: str
    classifier: Classifier | None
    steering: Steering

    @property
    def conditional(self) -> bool:
        return widgets.conditional(self.model)

    @property
    def classes(self) -> int:
        """Classes the model can be asked for (10, unless an uploaded model has fewer)."""
        return min(10, self.model.config.num_classes) or 10


def _restore(values: dict) -> None:
    """Put a link's values into the widgets' session state, before any widget is drawn."""
    ss = st.session_state
    for name in ("kind", "data", "mode", "cls", "seed", "to", "blend", "push", "n", "cpush"):
        ss[f"ex_{name}"] = values[name]
    ss["ex_thr"] = values["thr"]
    if values["model"]:
        widgets.link_model("ex_model", values["model"])
    for i in range(DIRECTIONS):
        ss[f"ex_pc{i}"] = values["pc"][i] if i < len(values["pc"]) else 0.0
    ss["ex_raw"], ss["ex_raw_for"] = values["raw"], _LINKED


def _publish() -> dict[str, str]:
    ss = st.session_state
    names = ("kind", "data", "model", "mode", "cls", "seed", "to", "blend", "push", "n")
    values = {name: ss[f"ex_{name}"] for name in names}
    values.update(cpush=ss["ex_cpush"], thr=ss["ex_thr"])
    pcs = [ss[f"ex_pc{i}"] for i in range(DIRECTIONS)]
    while pcs and pcs[-1] == 0:
        pcs.pop()
    values["pc"] = pcs
    values["raw"] = ss["ex_raw"] if ss["ex_mode"] == "single" else {}
    return state.publish(PAGE, SCHEMA, values)


def page() -> None:
    st.title(tr("explore.title"))
    st.caption(tr("explore.intro"))
    linked = state.incoming(PAGE, SCHEMA)
    if linked is not None:
        _restore(linked)
    elif "ex_kind" not in st.session_state:
        _restore(state.parse(SCHEMA, {})[0])
    kind, dataset, label = widgets.model_picker_ui("ex", ("gan", "vae"))
    if label is None:
        return
    modes = MODES if kind == "gan" else MODES[:-1]
    if st.session_state["ex_mode"] not in modes:
        st.session_state["ex_mode"] = "single"
    mode = st.segmented_control(
        tr("explore.mode"),
        modes,
        format_func=lambda m: tr(f"explore.{m}"),
        key="ex_mode",
        required=True,
        persist_state="session",
    )
    with st.spinner(tr("common.loading")):
        view = _view(kind, dataset, label)
        if mode == "compare":
            other_kind = "vae" if kind == "gan" else "gan"
            others = models.available_models(other_kind, dataset)
            other = _view(other_kind, dataset, others[0]) if others else None
    st.divider()
    if mode == "single":
        _single_view(view)
    elif mode == "grid":
        _grid_view(view)
    elif mode == "compare":
        _compare_view(view, other)
    else:
        _gate_view(view)


def _view(kind: str, dataset: str, label: str) -> View:
    model = models.get_model(label)
    key = models.model_key(label, model)
    return View(
        kind,
        dataset,
        label,
        model,
        key,
        models.classifier(dataset),
        widgets.steering(model, key, dataset),
    )


# --- one image ------------------------------------------------------------------------------


def _single_view(v: View) -> None:
    """The discrete choices (class, seed, target class) rerun the page; the sliders and the
    picture they drive are one fragment, so a slider move reruns only that."""
    widths = [5, 3, 2] if v.conditional else [3, 2, 5]
    slots = iter(st.columns(widths, gap="large", vertical_alignment="bottom"))
    cls = None
    if v.conditional:
        with next(slots):
            cls = widgets.class_ui("ex_cls", v.dataset, v.classes)
    with next(slots):
        seed = widgets.seed_ui("ex_seed")
    with next(slots):
        to = _target_ui(v)
    _single_picture(v, cls, seed, to)


@st.fragment
def _single_picture(v: View, cls: int | None, seed: int, to: int) -> None:
    controls, picture = st.columns([5, 4], gap="large")
    with controls:
        coefficients = _direction_sliders_ui(v)
        amount = _amount_ui(v)
        z = _raw_latent_ui(v, seed)
    z = explore_math.steer(
        z,
        v.steering.directions.vectors,
        coefficients,
        v.steering.class_vectors[to] if v.steering.class_vectors is not None else None,
        amount,
    )
    weights = _weights(v, cls, to, amount)
    frame = widgets.render_image(
        v.model, v.classifier, v.key, widgets.as_bytes(z), widgets.as_bytes(weights)
    )
    with picture:
        widgets.image_ui(frame.png)
        widgets.readout_ui(frame, v.dataset)
        state.share_ui(_publish())
        # Drawn only while open: a form's five elements would cost every slider move.
        rate = st.expander(tr("explore.rate_image"), key="ex_rate_open", on_change="rerun")
        if rate.open:
            with rate:
                feedback.rate_ui(
                    "explore_rating",
                    page=PAGE,
                    model=v.label,
                    dataset=v.dataset,
                    label=cls,
                    seed=seed,
                    latent=z.tolist(),
                )


def _weights(v: View, cls: int | None, to: int, amount: float, n: int = 1) -> torch.Tensor | None:
    """Class weights for a conditional model: the GAN's blend slider mixes in class `to`."""
    if not v.conditional:
        return None
    blend = amount if v.kind == "gan" else 0.0
    return explore_math.class_weights(v.model.config.num_classes, cls, to, blend, n)


def _direction_sliders_ui(v: View) -> list[float]:
    st.markdown(f"**{tr('explore.directions')}**", help=tr("explore.directions_help"))
    ratio = v.steering.directions.variance_ratio
    cols = st.columns(2)
    coefficients = []
    for i, share in enumerate(ratio):
        with cols[i % 2]:
            coefficients.append(
                st.slider(
                    tr("explore.pc", i=i + 1, p=float(share)),
                    -3.0,
                    3.0,
                    step=0.1,
                    key=f"ex_pc{i}",
                    persist_state="session",
                )
            )
    return coefficients


def _moves_class(v: View) -> bool:
    """Whether the model has a class to move towards: a conditional GAN blends its class
    input; a VAE is pushed along an attribute vector."""
    return v.kind == "vae" or v.conditional


def _target_ui(v: View) -> int:
    """The class to blend into (GANs) or push towards (VAEs)."""
    if not _moves_class(v):
        return 0
    if st.session_state["ex_to"] >= v.classes:
        st.session_state["ex_to"] = 0
    return st.selectbox(
        tr("explore.blend_to" if v.kind == "gan" else "explore.push_to"),
        range(v.classes),
        format_func=widgets.class_names(v.dataset).__getitem__,
        key="ex_to",
        persist_state="session",
    )


def _amount_ui(v: View) -> float:
    """How far towards the target class: a blend weight in [0, 1] for GANs, a multiple of
    the attribute vector for VAEs (negative pushes away)."""
    if not _moves_class(v):
        return 0.0
    gan = v.kind == "gan"
    return st.slider(
        tr("explore.blend" if gan else "explore.push"),
        *((0.0, 1.0) if gan else (-3.0, 3.0)),
        step=0.05 if gan else 0.1,
        key="ex_blend" if gan else "ex_push",
        help=tr("explore.blend_help" if gan else "explore.push_help"),
        persist_state="session",
    )


def _raw_latent_ui(v: View, seed: int) -> torch.Tensor:
    """The seed's latent with the user's edits (`ex_raw`: index -> value), each coordinate on a
    slider while the expander is open. The sliders exist only while it is open: every
    session-state key costs each slider call a little, and a GAN has 32 of them."""
    ss = st.session_state
    dim = v.model.latent_dim
    base = latent.latent_for_seed(seed, dim).tolist()
    if ss.get("ex_raw_for") != (v.key, seed):  # a new seed or model starts from its own z
        if ss.get("ex_raw_for") != _LINKED:
            ss["ex_raw"] = {}
        ss["ex_raw_for"] = (v.key, seed)
        for j in range(dim):
            ss.pop(f"ex_z{j}", None)
    edits = {j: x for j, x in ss["ex_raw"].items() if j < dim}
    raw = st.expander(tr("explore.raw"), key="ex_raw_open", on_change="rerun")
    if raw.open:
        with raw:
            st.caption(tr("explore.raw_caption"))
            cols = st.columns(4)
            for j in range(dim):
                ss.setdefault(f"ex_z{j}", edits.get(j, base[j]))
                with cols[j % 4]:
                    st.slider(
                        f"z{j}", -RAW_RANGE, RAW_RANGE, step=0.01, key=f"ex_z{j}", format="%.2f"
                    )
        values = [ss[f"ex_z{j}"] for j in range(dim)]
        edits = {j: x for j, x in enumerate(values) if abs(x - base[j]) > 1e-6}
    ss["ex_raw"] = edits
    return torch.tensor([edits.get(j, x) for j, x in enumerate(base)])


# --- grid, comparison, quality gate ---------------------------------------------------------


def _seeds(seed: int, n: int) -> list[int]:
    return [(seed + i) % (MAX_SEED + 1) for i in range(n)]


def _mosaic_scale(side: int) -> int:
    """Upscale so a side x side mosaic is about 600 px wide, never blurred."""
    return max(1, 600 // (side * 30 + 2))


def _agreement_ui(labels: np.ndarray, wanted: int | None, dataset: str) -> None:
    if not len(labels):
        return
    if wanted is not None:
        k = int((labels == wanted).sum())
        st.caption(tr("explore.agree", k=k, n=len(labels), p=k / len(labels)))
        return
    counts = np.bincount(labels, minlength=10)
    top = np.argsort(counts)[::-1][:4]
    names = widgets.class_names(dataset)
    summary = ", ".join(f"{names[c]} ×{counts[c]}" for c in top if counts[c])
    st.caption(tr("explore.classes_seen", summary=summary))


@st.fragment
def _grid_view(v: View) -> None:
    controls, picture = st.columns([2, 3], gap="large")
    with controls:
        cls = widgets.class_ui("ex_cls", v.dataset, v.classes) if v.conditional else None
        seed = widgets.seed_ui("ex_seed")
        side = st.slider(tr("common.grid_size"), 2, 12, key="ex_n", persist_state="session")
        to = _target_ui(v)
        amount = _amount_ui(v)
    n = side * side
    zs = explore_math.seed_latents(_seeds(seed, n), v.model.latent_dim)
    if v.steering.class_vectors is not None:
        zs = explore_math.steer(
            zs, v.steering.directions.vectors, [], v.steering.class_vectors[to], amount
        )
    mosaic = widgets.render_mosaic(
        v.model,
        v.classifier,
        v.key,
        widgets.as_bytes(zs),
        widgets.as_bytes(_weights(v, cls, to, amount, n)),
        side,
        side,
        _mosaic_scale(side),
    )
    with picture:
        widgets.image_ui(mosaic.png)
        wanted = (to if v.kind == "gan" and amount > 0.5 else cls) if v.conditional else None
        _agreement_ui(mosaic.labels, wanted, v.dataset)
        state.share_ui(_publish())


@st.fragment
def _compare_view(v: View, other: View | None) -> None:
    if other is None:
        st.info(tr("explore.need_both"))
        return
    gan, vae = (v, other) if v.kind == "gan" else (other, v)
    controls, left, right = st.columns([3, 4, 4], gap="large")
    with controls:
        cls = widgets.class_ui("ex_cls", v.dataset, v.classes)
        seed = widgets.seed_ui("ex_seed")
        push = st.slider(
            tr("explore.cpush"), 0.0, 3.0, step=0.1, key="ex_cpush", persist_state="session"
        )
        st.caption(tr("explore.compare_caption"))
    seeds = _seeds(seed, 16)
    for column, w in ((left, gan), (right, vae)):
        zs = explore_math.seed_latents(seeds, w.model.latent_dim)
        if w.steering.class_vectors is not None:
            zs = explore_math.steer(
                zs, w.steering.directions.vectors, [], w.steering.class_vectors[cls], push
            )
        mosaic = widgets.render_mosaic(
            w.model,
            w.classifier,
            w.key,
            widgets.as_bytes(zs),
            widgets.as_bytes(_weights(w, cls, cls, 0.0, 16)),
            4,
            4,
            5,
        )
        with column:
            st.subheader(models.model_title(w.label))
            widgets.image_ui(mosaic.png)
            _agreement_ui(mosaic.labels, cls, v.dataset)
    state.share_ui(_publish())


@dataclass(frozen=True)
class Gate:
    accepted_png: bytes | None
    rejected_png: bytes | None
    rate: float
    tries: int


def _gate_png(images: torch.Tensor) -> bytes | None:
    if not len(images):
        return None
    return imaging.png_bytes(imaging.grid(to_uint8(images[:GATE_WANTED]), 8), 3)


@st.cache_data(show_spinner=False, max_entries=256)
def _judge(_gan: nn.Module, key: str, threshold: float, seed: int, label: int | None) -> Gate:
    with widgets.one_thread():
        judged = latent.rejection_sample(_gan, GATE_WANTED, threshold, seed=seed, label=label)
    return Gate(
        _gate_png(judged.accepted),
        _gate_png(judged.rejected),
        judged.acceptance_rate,
        judged.tries,
    )


@st.fragment
def _gate_view(v: View) -> None:
    controls, accepted, rejected = st.columns([3, 4, 4], gap="large")
    with controls:
        cls = widgets.class_ui("ex_cls", v.dataset, v.classes) if v.conditional else None
        seed = widgets.seed_ui("ex_seed")
        threshold = st.slider(
            tr("explore.threshold"),
            0.0,
            1.0,
            step=0.05,
            key="ex_thr",
            help=tr("explore.threshold_help"),
            persist_state="session",
        )
        with st.spinner(tr("explore.judging")):
            gate = _judge(v.model, v.key, threshold, seed, cls)
        st.metric(tr("explore.rate"), f"{gate.rate:.0%}")
        st.metric(tr("explore.tries"), gate.tries)
    for column, title, png in (
        (accepted, "accepted", gate.accepted_png),
        (rejected, "rejected", gate.rejected_png),
    ):
        with column:
            st.subheader(tr(f"explore.{title}"))
            if png is None:
                st.caption(tr("explore.none"))
            else:
                widgets.image_ui(png)
    state.share_ui(_publish())
