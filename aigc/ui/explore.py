"""Explore: one image under your fingers (seed, class, principal-direction sliders, raw latent
dimensions), a grid of seeds, GAN vs VAE side by side, and the discriminator's quality gate.

Each view is an ``st.fragment`` holding its controls and its picture, so moving a slider or
clicking a class reruns only that view: one cached call into `aigc.render`, one small PNG.
The page turns widgets into a `Look`; what the look shows is the render path's business.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import streamlit as st

from aigc import render
from aigc.data import DATASETS
from aigc.render import DIRECTIONS, MAX_SEED, Look, Steering
from aigc.ui import feedback, models, pictures, state, widgets
from aigc.ui.i18n import tr

PAGE = "explore"
MODES = ("single", "grid", "compare", "gate")
RAW_RANGE = 6.0  # |z_j| > 6 has probability 2e-9 per dimension under N(0, 1)
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


def _values() -> dict[str, object]:
    """The page's state as the schema names it, from the widgets' session state."""
    ss = st.session_state
    names = ("kind", "data", "model", "mode", "cls", "seed", "to", "blend", "push", "n")
    values = {name: ss[f"ex_{name}"] for name in names}
    values.update(cpush=ss["ex_cpush"], thr=ss["ex_thr"])
    pcs = [ss[f"ex_pc{i}"] for i in range(DIRECTIONS)]
    while pcs and pcs[-1] == 0:
        pcs.pop()
    values["pc"] = pcs
    values["raw"] = ss["ex_raw"] if ss["ex_mode"] == "single" else {}
    return values


def _publish() -> dict[str, str]:
    return state.publish(PAGE, SCHEMA, _values())


@dataclass(frozen=True)
class View:
    """What the full run settled and every fragment rerun reuses."""

    kind: str
    dataset: str
    label: str
    model: render.Model
    key: str
    classifier: render.Model | None
    steering: Steering

    @property
    def conditional(self) -> bool:
        return render.conditional(self.model)

    @property
    def classes(self) -> int:
        return render.classes(self.model)


def page() -> None:
    st.title(tr("explore.title"))
    st.caption(tr("explore.intro"))
    state.restore(PAGE, SCHEMA, _restore, first_key="ex_kind")
    kind, dataset, label = widgets.model_picker_ui("ex", ("gan", "vae"))
    if label is None:
        return
    mode = _mode_ui(kind)
    with st.spinner(tr("common.loading")):
        view = _view(kind, dataset, label)
        other = _other_view(view) if mode == "compare" else None
    if mode == "single":
        _single_view(view)
    elif mode == "grid":
        _grid_view(view)
    elif mode == "compare":
        _compare_view(view, other)
    else:
        _gate_view(view)


def _mode_ui(kind: str) -> str:
    """The view picker; a VAE has no quality gate (no discriminator), and a link or a switch
    from a GAN that asked for one is told so instead of silently losing it."""
    modes = MODES if kind == "gan" else MODES[:-1]
    if st.session_state.get("ex_mode") not in modes:
        st.toast(tr("explore.gate_only_gan"), icon="ℹ️")
    return widgets.segments_ui(tr("explore.mode"), modes, "ex_mode", lambda m: tr(f"explore.{m}"))


def _view(kind: str, dataset: str, label: str) -> View:
    model = models.get_model(label)
    key = models.model_key(label, model)
    steering = pictures.steering(model, key, dataset)
    return View(kind, dataset, label, model, key, models.classifier(dataset), steering)


def _other_view(v: View) -> View | None:
    """The first model of the other kind on the same dataset, for GAN vs VAE."""
    other_kind = "vae" if v.kind == "gan" else "gan"
    others = models.available_models(other_kind, v.dataset)
    return _view(other_kind, v.dataset, others[0]) if others else None


# --- one image ------------------------------------------------------------------------------


@st.fragment
def _single_view(v: View) -> None:
    """Picture first: beside its sliders on a wide screen, above them on a phone. The direction
    sliders come first among the controls, so at 1280 x 720 they are in view with the picture."""
    picture, controls = st.columns([4, 5], gap="large")
    with controls:
        coefficients = _direction_sliders_ui(v)
        look = _look_ui(v)
        raw = _raw_latent_ui(v, look.seed)
    look = replace(look, directions=coefficients, raw=raw)
    frame = pictures.image(v.model, v.classifier, v.steering, v.key, look)
    with picture:
        widgets.image_ui(frame.png)
        widgets.readout_ui(frame, v.dataset)
        query = _publish()
        state.share_ui(query)
        feedback.image_actions_ui("ex_rate", _rated(v, look, frame.z, query), frame.png, False)


def _look_ui(v: View, amount: bool = True) -> Look:
    """Class, seed, and the class to move towards with how far: the look's discrete part."""
    cls = widgets.class_ui("ex_cls", v.dataset, v.classes) if v.conditional else None
    seed = widgets.seed_ui("ex_seed")
    if not render.moves_class(v.model):
        return Look(seed=seed, label=cls)
    target = _target_ui(v)
    return Look(seed=seed, label=cls, target=target, amount=_amount_ui(v) if amount else 0.0)


def _rated(v: View, look: Look, z: tuple[float, ...], query: dict[str, str]) -> feedback.Rated:
    return feedback.Rated(
        page=PAGE,
        model=v.label,
        dataset=v.dataset,
        label=look.label,
        seed=look.seed,
        latent=z,
        link=state.link(st.context.url, query),
    )


def _direction_sliders_ui(v: View) -> tuple[float, ...]:
    """One row per pair of sliders, so a narrow screen stacks them in order 1, 2, 3, ..."""
    st.markdown(f"**{tr('explore.directions')}**", help=tr("explore.directions_help"))
    ratio = v.steering.variance_ratio
    coefficients = []
    for row in range(0, len(ratio), 2):
        for col, i in zip(st.columns(2), range(row, min(row + 2, len(ratio))), strict=False):
            coefficients.append(
                col.slider(
                    tr("explore.pc", i=i + 1, p=ratio[i]),
                    -3.0,
                    3.0,
                    step=0.1,
                    key=f"ex_pc{i}",
                    persist_state="session",
                )
            )
    return tuple(coefficients)


def _target_ui(v: View) -> int:
    """The class to blend into (GANs) or push towards (VAEs)."""
    widgets.keep_choice("ex_to", range(v.classes), 0)
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
    gan = v.kind == "gan"
    return st.slider(
        tr("explore.blend" if gan else "explore.push"),
        *((0.0, 1.0) if gan else (-3.0, 3.0)),
        step=0.05 if gan else 0.1,
        key="ex_blend" if gan else "ex_push",
        help=tr("explore.blend_help" if gan else "explore.push_help"),
        persist_state="session",
    )


def _raw_latent_ui(v: View, seed: int) -> tuple[tuple[int, float], ...]:
    """The user's edits of the seed's z (`ex_raw`: index -> value), each coordinate on a slider
    while the expander is open. The sliders exist only while it is open: every session-state
    key costs each slider call a little, and a GAN has 32 of them."""
    ss = st.session_state
    dim = v.model.latent_dim
    if ss.get("ex_raw_for") != (v.key, seed):  # a new seed or model starts from its own z
        if ss.get("ex_raw_for") != _LINKED:
            ss["ex_raw"] = {}
        ss["ex_raw_for"] = (v.key, seed)
        for j in range(dim):
            ss.pop(f"ex_z{j}", None)
    edits = {j: x for j, x in ss["ex_raw"].items() if j < dim}
    raw = st.expander(tr("explore.raw"), key="ex_raw_open", on_change="rerun")
    if raw.open:
        base = render.base_latent(v.model, seed)
        with raw:
            st.caption(tr("explore.raw_caption"))
            cols = st.columns(4)
            for j in range(dim):
                ss.setdefault(f"ex_z{j}", edits.get(j, base[j]))
                cols[j % 4].slider(
                    f"z{j}", -RAW_RANGE, RAW_RANGE, step=0.01, key=f"ex_z{j}", format="%.2f"
                )
        values = [ss[f"ex_z{j}"] for j in range(dim)]
        edits = {j: x for j, x in enumerate(values) if abs(x - base[j]) > 1e-6}
    ss["ex_raw"] = edits
    return tuple(sorted(edits.items()))


# --- grid, comparison, quality gate ---------------------------------------------------------


def _mosaic_scale(side: int) -> int:
    """Upscale so a side x side mosaic is about 600 px wide, never blurred."""
    return max(1, 600 // (side * 30 + 2))


def _agreement_ui(agreement: render.Agreement, dataset: str) -> None:
    if not agreement.total:
        return
    if agreement.wanted is not None:
        k, n = agreement.agreeing, agreement.total
        st.caption(tr("explore.agree", k=k, n=n, p=k / n))
        return
    names = widgets.class_names(dataset)
    summary = ", ".join(f"{names[c]} ×{count}" for c, count in agreement.top)
    st.caption(tr("explore.classes_seen", summary=summary))


@st.fragment
def _grid_view(v: View) -> None:
    picture, controls = st.columns([3, 2], gap="large")
    with controls:
        look = _look_ui(v)
        side = st.slider(tr("common.grid_size"), 2, 12, key="ex_n", persist_state="session")
    mosaic = pictures.grid(
        v.model, v.classifier, v.steering, v.key, look, side, _mosaic_scale(side)
    )
    with picture:
        widgets.image_ui(mosaic.png)
        wanted = render.wanted_class(v.model, look)
        _agreement_ui(render.agreement(mosaic.labels, wanted), v.dataset)
        query = _publish()
        state.share_ui(query)
    with controls:
        _rate_cell_ui(v, look, side)


def _rate_cell_ui(v: View, look: Look, side: int) -> None:
    """Rate one cell of the grid: it is the single image of seed + (its number - 1), and its
    link opens that image on its own."""
    cell = st.number_input(
        tr("explore.cell"), 1, side * side, key="ex_cell", help=tr("explore.cell_help")
    )
    cell_look = replace(look, seed=(look.seed + cell - 1) % (MAX_SEED + 1))
    frame = pictures.image(v.model, v.classifier, v.steering, v.key, cell_look)
    values = {**_values(), "mode": "single", "seed": cell_look.seed, "pc": [], "raw": {}}
    query = state.share_query(SCHEMA, values)
    feedback.image_actions_ui("ex_rate_cell", _rated(v, cell_look, frame.z, query), frame.png)


@st.fragment
def _compare_view(v: View, other: View | None) -> None:
    if other is None:
        st.info(tr("explore.need_both"))
        return
    gan, vae = (v, other) if v.kind == "gan" else (other, v)
    controls, left, right = st.columns(3, gap="large")
    with controls:
        cls = widgets.class_ui("ex_cls", v.dataset, v.classes)
        seed = widgets.seed_ui("ex_seed")
        push = st.slider(
            tr("explore.cpush"), 0.0, 3.0, step=0.1, key="ex_cpush", persist_state="session"
        )
        st.caption(tr("explore.compare_caption"))
    looks = (
        (gan, Look(seed=seed, label=cls)),
        (vae, Look(seed=seed, label=cls, target=cls, amount=push)),
    )
    for column, (w, look) in zip((left, right), looks, strict=True):
        mosaic = pictures.grid(w.model, w.classifier, w.steering, w.key, look, 4, 5)
        with column:
            st.subheader(models.model_title(w.label))
            widgets.image_ui(mosaic.png)
            _agreement_ui(render.agreement(mosaic.labels, cls), v.dataset)
    with controls:
        state.share_ui(_publish())


@st.fragment
def _gate_view(v: View) -> None:
    controls, accepted, rejected = st.columns(3, gap="large")
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
            gate = pictures.gate(v.model, v.key, threshold, seed, cls)
        st.metric(tr("explore.rate"), f"{gate.rate:.0%}")
        st.metric(tr("explore.tries"), gate.tries)
    for column, title, png in (
        (accepted, "accepted", gate.accepted_png),
        (rejected, "rejected", gate.rejected_png),
    ):
        with column:
            st.subheader(tr(f"explore.{title}"))
            if png is not None:
                widgets.image_ui(png)
            elif title == "accepted":
                st.caption(tr("explore.none_accepted", n=gate.tries, t=threshold, best=gate.best))
            else:
                st.caption(tr("explore.none_rejected"))
    with controls:
        state.share_ui(_publish())
