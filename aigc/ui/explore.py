"""Explore: one image under your fingers (seed, class, principal-direction sliders, raw latent
dimensions), a grid of seeds, GAN vs VAE side by side, and the discriminator's quality gate.

Each view is an ``st.fragment`` holding its controls and its picture, so moving a slider or
clicking a class reruns only that view: one cached call into `aigc.render`, one small PNG.
The page turns widgets into a `Look`; what the look shows is the render path's business.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from aigc import morph, render
from aigc.data import DATASETS, OWN_IMAGES
from aigc.prior import FittedPrior
from aigc.render import DIRECTIONS, MAX_SEED, Look, Steering
from aigc.ui import desks, feedback, models, morph_panel, pictures, room, state, widgets
from aigc.ui.i18n import lang, tr

PAGE = "explore"
MODES = ("single", "grid", "compare", "gate")
PRIORS = widgets.PRIORS
RAW_RANGE = 6.0  # |z_j| > 6 has probability 2e-9 per dimension under N(0, 1)
_LINKED = "link"  # ex_raw_for value meaning "raw overrides came from a link, apply them"
_GROUP = "ex"  # the morph panel's instances on the single view, one group in the browser
_DESK = "ex_desk"  # session state: where the panel posts its releases (desks.Desk)

SCHEMA: state.Schema = {
    "kind": state.ChoiceField("gan", ("gan", "vae")),
    "data": state.ChoiceField("mnist", (*DATASETS, OWN_IMAGES)),
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
    "prior": state.ChoiceField("fitted", PRIORS),
    "both": state.IntField(0, 0, 1),  # the grid beside the same seeds from the other prior
}


def _restore(values: dict) -> None:
    """Put a link's values into the widgets' session state, before any widget is drawn."""
    ss = st.session_state
    for name in ("kind", "data", "mode", "cls", "seed", "to", "blend", "push", "n", "cpush"):
        ss[f"ex_{name}"] = values[name]
    ss["ex_prior"], ss["ex_both"] = values["prior"], bool(values["both"])
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
    values.update(cpush=ss["ex_cpush"], thr=ss["ex_thr"], prior=ss.get("ex_prior", "fitted"))
    values["both"] = int(ss.get("ex_both", False) and ss["ex_mode"] == "grid")
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
    fitted: FittedPrior | None = None  # a VAE's fitted prior, where its seeds land

    @property
    def prior(self) -> str:
        """ "fitted" or "normal" (N(0, I)): the prior's name, in the link and the cache keys."""
        return "normal" if self.fitted is None else "fitted"

    @property
    def conditional(self) -> bool:
        return render.conditional(self.model)

    @property
    def classes(self) -> int:
        return render.classes(self.model)

    @property
    def names(self) -> tuple[str, ...]:
        """What the model's classes are called (a session's own set has its own names)."""
        return widgets.model_class_names(self.model, self.dataset)

    @property
    def judge_names(self) -> tuple[str, ...]:
        """What the classifier's classes are called: its dataset's; none without one."""
        return widgets.class_names(self.dataset) if self.classifier is not None else ()


def page() -> None:
    st.title(tr("explore.title"))
    st.caption(tr("explore.intro"))
    morph_panel.take_asked()
    _take_posted()  # before a link is read: a link opened after the release wins
    state.restore(PAGE, SCHEMA, _restore, first_key="ex_kind")
    kind, dataset, label = widgets.model_picker_ui("ex", ("gan", "vae"), own=True)
    if label is None:
        return
    mode = _mode_ui(kind)
    if kind == "vae" and mode in ("single", "grid"):
        _prior_ui()
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


def _prior_ui() -> None:
    widgets.prior_ui("ex_prior")


def _view(kind: str, dataset: str, label: str) -> View:
    model = models.get_model(label)
    key = models.model_key(label, model)
    steering = pictures.steering(model, key, dataset)
    view = View(kind, dataset, label, model, key, models.classifier(dataset), steering)
    return _with_prior(view, st.session_state.get("ex_prior", "fitted"))


def _with_prior(v: View, prior: str) -> View:
    """The view with its seeds drawn from `prior`: a VAE's fitted prior, or N(0, I)."""
    fitted = v.kind == "vae" and prior == "fitted"
    return replace(v, fitted=pictures.fitted_prior(v.model, v.key, v.dataset) if fitted else None)


def _other_view(v: View) -> View | None:
    """The first model of the other kind on the same dataset, for GAN vs VAE."""
    other_kind = "vae" if v.kind == "gan" else "gan"
    others = models.available_models(other_kind, v.dataset)
    return _view(other_kind, v.dataset, others[0]) if others else None


# --- one image ------------------------------------------------------------------------------


STEPS = {"pc": 0.1, "blend": 0.05, "push": 0.1, "raw": 0.01}  # a slider's step, either kind


def _span(name: str) -> tuple[float, float, float]:
    """(low, high, step) of a slider, for Streamlit's and the panel's alike: the range is the
    link's (SCHEMA), so a slider can reach every value a link can hold, and no further."""
    field = SCHEMA[name]
    return field.lo, field.hi, STEPS[name]


def _with_released(values: dict[str, object], kind: str, released: dict[str, list[float]]):
    """The page's values (as `_values` names them) once the panel's sliders were left at
    `released`, clamped to the sliders' ranges."""
    look = morph.moved(Look(), released)
    pc, raw = SCHEMA["pc"], SCHEMA["raw"]
    pcs = [*values["pc"], *[0.0] * DIRECTIONS][:DIRECTIONS]
    for i, c in enumerate(look.directions[:DIRECTIONS]):
        pcs[i] = min(max(c, pc.lo), pc.hi)
    while pcs and pcs[-1] == 0:
        pcs.pop()
    moved = {**values, "pc": pcs}
    moved["raw"] = {j: min(max(x, raw.lo), raw.hi) for j, x in look.raw if j < raw.size}
    if "amount" in released:
        name = "blend" if kind == "gan" else "push"
        amount = SCHEMA[name]
        moved[name] = min(max(look.amount, amount.lo), amount.hi)
    return moved


def take_released(kind: str, released: dict[str, list[float]]) -> None:
    """The values a person left the panel's sliders at, as the session state Streamlit's
    own sliders keep: the link, the rating, the room and a later fallback to native sliders
    all read them from there."""
    ss = st.session_state
    moved = _with_released(_values(), kind, released)
    for i in range(DIRECTIONS):
        ss[f"ex_pc{i}"] = moved["pc"][i] if i < len(moved["pc"]) else 0.0
    ss["ex_raw"] = moved["raw"]
    for j in range(SCHEMA["raw"].size):  # Streamlit's raw sliders start again from ex_raw
        ss.pop(f"ex_z{j}", None)
    for name in ("blend", "push"):
        ss[f"ex_{name}"] = moved[name]


def _take_posted() -> None:
    """A release the panel posted to its desk since the last run (it came with no rerun),
    into the session state before anything reads it; for the model it was made on."""
    posted = desks.take_posted(_DESK)
    if posted is not None:
        released, kind = posted
        take_released(kind, released)


def _link_after(kind: str, values: dict[str, object]) -> desks.Link:
    """The page's link once the panel's sliders are released, for the desk to answer a post
    with: made now, while the session's address and language can be read."""
    base, language = st.context.url, lang()

    def link(released: dict[str, list[float]]) -> str:
        query = state.share_query(SCHEMA, _with_released(values, kind, released), language)
        return state.link(base, query)

    return link


def _on_released(kind: str, key: str, shapes: dict[str, int]) -> None:
    """A block's on_released_change: runs before the rerun, as a slider's on_change does, so
    the run draws the released look. `shapes` are the inputs the block was given."""
    released = desks.released(st.session_state[key]["released"], shapes)
    if released is not None:  # anything else did not come from the panel: ignored
        take_released(kind, released)


@st.fragment
def _single_view(v: View) -> None:
    """Picture first: beside its sliders on a wide screen, above them on a phone. The direction
    sliders come first among the controls, so at 1280 x 720 they are in view with the picture.

    With the morph panel ("live"), each block of sliders is a panel instance drawn where
    Streamlit's sliders would be, into a slot kept while the rest of the look is read."""
    _take_posted()
    mode = morph_panel.mode()
    slots: dict[str, DeltaGenerator] | None = {} if mode == "live" else None
    picture, controls = st.columns([4, 5], gap="large")
    with controls:
        coefficients = _direction_sliders_ui(v, slots)
        look = _look_ui(v, slots=slots)
        raw = _raw_latent_ui(v, look.seed, slots)
    look = replace(look, directions=coefficients, raw=raw)
    frame = pictures.image(
        v.model, v.classifier, v.steering, v.key, look, _fitted=v.fitted, prior=v.prior
    )
    with picture:
        if mode == "live":
            _panel_ui(v, look, frame, slots)
        else:
            widgets.image_ui(frame.png)
        if morph_panel.failed_here():
            st.caption(tr("explore.live_failed"))
        if mode != "live":  # the panel's picture says it, and again after each repaint
            widgets.readout_ui(frame, v.dataset)
        query = _publish()
        state.share_ui(query, group=_GROUP if mode == "live" else "")
        feedback.image_actions_ui("ex_rate", _rated(v, look, frame.z, query), frame.png, False)
        if mode == "probe":  # last: a first export never holds back the picture above
            _panel_ui(v, look, frame, None)


def _panel_ui(
    v: View, look: Look, frame: render.Frame, slots: dict[str, DeltaGenerator] | None
) -> None:
    """The panel's picture (hidden while it is only being tried) and its slider blocks."""
    graph = pictures.graph(v.model, v.classifier, v.steering, v.key, v.dataset)
    inputs = morph.morph_inputs(v.model, v.steering, look, v.fitted)
    live = slots is not None
    shapes = {name: len(inputs[name]) for name in morph.SLIDER_INPUTS if name in inputs}
    desk = None
    if live and room.code() is None:  # a room's page must rerun on a release: others watch it
        desk = desks.desk(_DESK)
        desk.offer(shapes, _link_after(v.kind, _values()), v.kind)
    morph_panel.picture(
        _GROUP,
        graph,
        inputs,
        png=frame.png,
        alt=tr("explore.live_alt"),
        show=live,
        report=not live,
        key="ex_morph",
        readout=morph_panel.readout(frame, v.judge_names),
    )
    for name, slot in (slots or {}).items():
        key = f"ex_morph_{name}"
        with slot:
            morph_panel.sliders(
                _GROUP,
                graph,
                inputs,
                _panel_sliders(v, name),
                columns={"directions": 2, "raw": 4}.get(name, 1),
                key=key,
                on_released=lambda key=key: _on_released(v.kind, key, shapes),
                sync=desk,
            )


def _panel_sliders(v: View, block: str) -> list[morph_panel.Slider]:
    """The panel's sliders of one block, labelled as Streamlit's own are."""
    if block == "directions":
        return [
            morph_panel.Slider("offsets", i, tr("explore.pc", i=i + 1, p=p), *_span("pc"))
            for i, p in enumerate(v.steering.variance_ratio)
        ]
    if block == "amount":
        name = "blend" if v.kind == "gan" else "push"
        help_text = tr(f"explore.{name}_help")
        return [
            morph_panel.Slider("amount", 0, tr(f"explore.{name}"), *_span(name), help=help_text)
        ]
    return [
        morph_panel.Slider("raw_values", j, f"z{j}", *_span("raw"), aria=tr("explore.z_aria", j=j))
        for j in range(v.model.latent_dim)
    ]


def _look_ui(v: View, amount: bool = True, slots: dict[str, DeltaGenerator] | None = None) -> Look:
    """Class, seed, and the class to move towards with how far: the look's discrete part."""
    cls = widgets.class_ui("ex_cls", v.dataset, v.classes, names=v.names) if v.conditional else None
    seed = widgets.seed_ui("ex_seed")
    if not render.moves_class(v.model):
        return Look(seed=seed, label=cls)
    target = _target_ui(v)
    return Look(seed=seed, label=cls, target=target, amount=_amount_ui(v, slots) if amount else 0.0)


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


def _direction_sliders_ui(
    v: View, slots: dict[str, DeltaGenerator] | None = None
) -> tuple[float, ...]:
    """One row per pair of sliders, so a narrow screen stacks them in order 1, 2, 3, ...
    With `slots`, the morph panel will draw them: a slot is kept, the values are the state's."""
    st.markdown(f"**{tr('explore.directions')}**", help=tr("explore.directions_help"))
    ratio = v.steering.variance_ratio
    if slots is not None:
        slots["directions"] = st.container()
        return tuple(st.session_state[f"ex_pc{i}"] for i in range(len(ratio)))
    coefficients = []
    lo, hi, step = _span("pc")
    for row in range(0, len(ratio), 2):
        for col, i in zip(st.columns(2), range(row, min(row + 2, len(ratio))), strict=False):
            coefficients.append(
                col.slider(
                    tr("explore.pc", i=i + 1, p=ratio[i]),
                    lo,
                    hi,
                    step=step,
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
        format_func=v.names.__getitem__,
        key="ex_to",
        persist_state="session",
    )


def _amount_ui(v: View, slots: dict[str, DeltaGenerator] | None = None) -> float:
    """How far towards the target class: a blend weight in [0, 1] for GANs, a multiple of
    the attribute vector for VAEs (negative pushes away)."""
    gan = v.kind == "gan"
    if slots is not None:
        slots["amount"] = st.container()
        return st.session_state["ex_blend" if gan else "ex_push"]
    lo, hi, step = _span("blend" if gan else "push")
    return st.slider(
        tr("explore.blend" if gan else "explore.push"),
        lo,
        hi,
        step=step,
        key="ex_blend" if gan else "ex_push",
        help=tr("explore.blend_help" if gan else "explore.push_help"),
        persist_state="session",
    )


def _raw_latent_ui(
    v: View, seed: int, slots: dict[str, DeltaGenerator] | None = None
) -> tuple[tuple[int, float], ...]:
    """The user's edits of the seed's z (`ex_raw`: index -> value), each coordinate on a slider
    while the expander is open. The sliders exist only while it is open: every session-state
    key costs each slider call a little, and a GAN has 32 of them. With `slots`, the morph
    panel draws them, and `ex_raw` is what it released."""
    ss = st.session_state
    dim = v.model.latent_dim
    if ss.get("ex_raw_for") != (v.key, v.prior, seed):  # a new seed, model or prior: its own z
        if ss.get("ex_raw_for") != _LINKED:
            ss["ex_raw"] = {}
        ss["ex_raw_for"] = (v.key, v.prior, seed)
        for j in range(dim):
            ss.pop(f"ex_z{j}", None)
    edits = {j: x for j, x in ss["ex_raw"].items() if j < dim}
    raw = st.expander(tr("explore.raw"), key="ex_raw_open", on_change="rerun")
    if raw.open:
        with raw:
            st.caption(tr("explore.raw_caption"))
            if slots is not None:
                slots["raw"] = st.container()
            else:
                edits = _raw_sliders_ui(v, seed, edits)
    ss["ex_raw"] = edits
    return tuple(sorted(edits.items()))


def _raw_sliders_ui(v: View, seed: int, edits: dict[int, float]) -> dict[int, float]:
    """Streamlit's slider per coordinate, four to a row; returns the edits they hold."""
    ss = st.session_state
    base = render.base_latent(v.model, seed, v.fitted)
    cols = st.columns(4)
    for j in range(v.model.latent_dim):
        ss.setdefault(f"ex_z{j}", edits.get(j, base[j]))
        lo, hi, step = _span("raw")
        cols[j % 4].slider(f"z{j}", lo, hi, step=step, key=f"ex_z{j}", format="%.2f")
    values = [ss[f"ex_z{j}"] for j in range(v.model.latent_dim)]
    return {j: x for j, x in enumerate(values) if abs(x - base[j]) > 1e-6}


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
        both = v.kind == "vae" and st.toggle(tr("explore.prior_both"), key="ex_both")
    views = [v]
    if both:  # the prior-hole lesson: the same decoder and seeds, from the other prior
        views.append(_with_prior(v, "normal" if v.prior == "fitted" else "fitted"))
    with picture:
        for column, w in zip(st.columns(len(views)), views, strict=True):
            mosaic = pictures.grid(
                w.model, w.classifier, w.steering, w.key, look, side,
                _mosaic_scale(side * len(views)), _fitted=w.fitted, prior=w.prior,
            )  # fmt: skip
            with column:
                if both:
                    st.caption(tr("explore.prior") + ": " + tr(f"explore.prior_{w.prior}"))
                widgets.image_ui(mosaic.png)
                wanted = render.wanted_class(w.model, look)
                _agreement_ui(render.agreement(mosaic.labels, wanted), w.dataset)
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
    frame = pictures.image(
        v.model, v.classifier, v.steering, v.key, cell_look, _fitted=v.fitted, prior=v.prior
    )
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
        cls = widgets.class_ui("ex_cls", v.dataset, v.classes, names=v.names)
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
        mosaic = pictures.grid(
            w.model, w.classifier, w.steering, w.key, look, 4, 5, _fitted=w.fitted, prior=w.prior
        )
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
        cls = (
            widgets.class_ui("ex_cls", v.dataset, v.classes, names=v.names)
            if v.conditional
            else None
        )
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
