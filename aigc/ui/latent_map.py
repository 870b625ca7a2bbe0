"""Latent map: a VAE with a 2-D latent space drawn as a map. Every held-out image is a dot at
its encoding, coloured by class; click a dot (or move the two sliders) to decode that point.
The two sliders are the morph panel's where the browser can run it (`morph_panel.mode`): the
decoded digit morphs while they are dragged, and the release reruns the page, which moves
the map's cross and finds the nearest held-out image.
Beside it, the decoder's whole manifold on a grid, and, for the 16-D VAE, how much information
each latent dimension carries."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from aigc import explore_math, metrics, morph, render
from aigc.data import DATASETS
from aigc.render import Look
from aigc.ui import desks, models, morph_panel, pictures, state, widgets
from aigc.ui.i18n import tr

if TYPE_CHECKING:
    import altair as alt

PAGE = "latent-map"
LIMIT = 4.0  # the map and the sliders cover [-4, 4]^2
STEP = 0.05  # the sliders' step, either kind
_GROUP = "lm"  # the morph panel's instances on this page, one group in the browser
PRIORS = ("none", "normal", "fitted")  # whose samples the map shows over the codes
PRIOR_SAMPLES = 300
RINGS = (
    "#e040fb"  # the prior's samples: magenta reads on a light and a dark theme, and no class has it
)

SCHEMA: state.Schema = {
    "data": state.ChoiceField("mnist", DATASETS),
    "model": state.TextField(),
    "z": state.FloatListField((0.0, 0.0), -LIMIT, LIMIT, 2),
    "cls": state.IntField(0, 0, 9),
    "n": state.IntField(12, 4, 20),
    "ext": state.FloatField(2.5, 0.5, LIMIT),
    "prior": state.ChoiceField("none", PRIORS),
}


def _restore(values: dict) -> None:
    ss = st.session_state
    for name in ("data", "cls", "n", "ext", "prior"):
        ss[f"lm_{name}"] = values[name]
    if values["model"]:
        widgets.link_model("lm_model", values["model"])
    z = (*values["z"], 0.0, 0.0)
    ss["lm_z1"], ss["lm_z2"] = z[0], z[1]


def _publish() -> dict[str, str]:
    ss = st.session_state
    names = ("data", "model", "cls", "n", "ext")
    values = {name: ss[f"lm_{name}"] for name in names} | {"prior": ss.get("lm_prior", "none")}
    values["z"] = (ss["lm_z1"], ss["lm_z2"])
    return state.publish(PAGE, SCHEMA, values)


def page() -> None:
    st.title(tr("pages.latent_map"))
    st.caption(tr("latent_map.intro"))
    morph_panel.take_asked()
    state.restore(PAGE, SCHEMA, _restore, first_key="lm_data")
    top = st.columns([2, 3], vertical_alignment="bottom")
    with top[0]:
        dataset = widgets.dataset_ui("lm_data")
    with st.spinner(tr("common.loading")):
        vaes = {label: models.get_model(label) for label in models.available_models("vae", dataset)}
        clf = models.classifier(dataset)
    with top[1]:
        label = widgets.model_select_ui(
            "lm_model", [lb for lb, m in vaes.items() if m.latent_dim == 2]
        )
    if label is None:
        st.info(tr("latent_map.no_2d"))
    else:
        model = vaes[label]
        key = models.model_key(label, model)
        with st.spinner(tr("latent_map.encoding")):
            encoded = pictures.encoded(model, key, dataset)
        _map_view(model, key, dataset, encoded, clf)
    st.divider()
    wide = [(lb, m) for lb, m in vaes.items() if m.latent_dim > 2]
    if wide:
        _kl_ui(*wide[0], dataset)
    else:
        st.caption(tr("latent_map.no_16d"))


def _on_pick(encoded: np.ndarray) -> None:
    """A click on the map moves the sliders to the clicked image's encoding (a callback, so it
    runs before the rerun draws the sliders). The selection names the dot by its "index"."""
    event = st.session_state.get("lm_map")
    points = event["selection"]["pick"] if event else []
    if (
        points
        and isinstance(points[0].get("index"), int)
        and 0 <= points[0]["index"] < len(encoded)
    ):
        z1, z2 = np.clip(encoded[points[0]["index"]], -LIMIT, LIMIT).tolist()
        st.session_state["lm_z1"], st.session_state["lm_z2"] = z1, z2


def _chart(
    encoded: np.ndarray,
    names: list[str],
    order: tuple[str, ...],
    point: tuple[float, float],
    samples: np.ndarray | None,
) -> alt.LayerChart:
    """The held-out encodings coloured by class (legend in class order), with a point-selection
    parameter "pick" for clicks, a cross at the decoded point, and a prior's `samples` (N, 2)
    as hollow rings over them."""
    # altair and pandas load here, not at import: ~1 s the Explore page's first paint need not wait
    import altair as alt
    import pandas as pd

    data = pd.DataFrame({"z1": encoded[:, 0], "z2": encoded[:, 1], "class": names})
    data["index"] = np.arange(len(data))
    pick = alt.selection_point(name="pick", on="click", nearest=True, fields=["index"])
    axis = alt.Scale(domain=[-LIMIT, LIMIT])
    dots = (
        alt.Chart(data)
        .mark_circle(size=30, opacity=0.75)
        .encode(
            x=alt.X("z1:Q", scale=axis, title="z₁"),
            y=alt.Y("z2:Q", scale=axis, title="z₂"),
            color=alt.Color("class:N", sort=list(order), title=None),
            tooltip=[
                "index:Q",
                "class:N",
                alt.Tooltip("z1:Q", format=".2f"),
                alt.Tooltip("z2:Q", format=".2f"),
            ],
        )
        .add_params(pick)
    )
    marker = (
        alt.Chart(pd.DataFrame({"z1": [point[0]], "z2": [point[1]]}))
        .mark_point(shape="cross", size=400, filled=True, color="#ff4b4b", strokeWidth=1)
        .encode(x="z1:Q", y="z2:Q")
    )
    chart = dots + marker
    if samples is not None:
        drawn = pd.DataFrame({"z1": samples[:, 0], "z2": samples[:, 1]})
        rings = (
            alt.Chart(drawn)
            .mark_point(shape="circle", size=45, color=RINGS, opacity=0.9, strokeWidth=1.5)
            .encode(x="z1:Q", y="z2:Q")
        )
        chart = dots + rings + marker
    return chart.properties(width=460, height=460)


@st.fragment
def _map_view(
    model: render.Model, key: str, dataset: str, encoded: np.ndarray, clf: render.Model | None
) -> None:
    y = np.asarray(models.heldout(dataset)[1])
    order = widgets.class_names(dataset)
    names = [order[c] for c in y.tolist()]
    chart_col, point_col = st.columns([3, 2], gap="large")
    with point_col:
        z, cls = _point_ui(model, key, dataset, encoded, names, clf)
    with chart_col:
        shown = widgets.segments_ui(
            tr("latent_map.prior"), PRIORS, "lm_prior", lambda p: tr(f"latent_map.prior_{p}"),
            help=tr("latent_map.prior_help"),
        )  # fmt: skip
        on_map = PRIORS[1:] if shown != "none" else ()
        with st.spinner(tr("common.loading")):
            draws = {p: _prior_draw(model, clf, key, dataset, cls, p, True) for p in on_map}
        st.altair_chart(
            _chart(encoded, names, order, z, draws[shown].points if shown in draws else None),
            key="lm_map",
            on_select=functools.partial(_on_pick, encoded),
            selection_mode="pick",
            width="content",
        )
        if shown in draws:
            _holes_ui(draws, shown)
    st.divider()
    _manifold_ui(model, key, cls)
    state.share_ui(_publish())


def _prior_draw(
    model: render.Model,
    clf: render.Model | None,
    key: str,
    dataset: str,
    cls: int | None,
    prior: str,
    map_codes: bool,
) -> render.PriorDraw:
    look = Look(label=cls)
    return pictures.prior_draw(model, clf, key, dataset, look, PRIOR_SAMPLES, prior, map_codes)


def _holes_ui(draws: dict[str, render.PriorDraw], shown: str) -> None:
    """The prior-hole lesson in figures: how many of the shown prior's samples land between
    the codes, against the other prior's, and what the first few decode to."""
    other = "fitted" if shown == "normal" else "normal"
    st.caption(
        tr(
            "latent_map.holes",
            n=PRIOR_SAMPLES,
            prior=tr(f"latent_map.prior_{shown}"),
            share=draws[shown].holes,
            other=tr(f"latent_map.prior_{other}"),
            other_share=draws[other].holes,
            quantile=explore_math.HOLE_QUANTILE,
        )
    )
    widgets.image_ui(draws[shown].strip)


def _point_ui(
    model: render.Model,
    key: str,
    dataset: str,
    encoded: np.ndarray,
    names: list[str],
    clf: render.Model | None,
) -> tuple[tuple[float, float], int | None]:
    """The decoded point and the held-out image nearest to it; returns (point, class)."""
    mode = morph_panel.mode()
    ss = st.session_state
    if mode == "live":  # the panel's sliders go here, once the look is known
        slot = st.container()
        z1, z2 = ss["lm_z1"], ss["lm_z2"]
    else:
        z1 = st.slider(
            tr("latent_map.z1"), -LIMIT, LIMIT, step=STEP, key="lm_z1", persist_state="session"
        )
        z2 = st.slider(
            tr("latent_map.z2"), -LIMIT, LIMIT, step=STEP, key="lm_z2", persist_state="session"
        )
    cls = (
        widgets.class_ui("lm_cls", dataset, render.classes(model))
        if render.conditional(model)
        else None
    )
    frame = pictures.point_image(model, clf, key, (z1, z2), cls, 8)
    st.caption(tr("latent_map.decoded", z1=z1, z2=z2))
    if mode == "live":
        _panel_ui(model, clf, key, dataset, (z1, z2), cls, frame, slot)
    else:
        left, right = st.columns(2)
        with left:
            widgets.image_ui(frame.png)
        with right:
            widgets.readout_ui(frame, dataset)
        if morph_panel.failed_here():
            st.caption(tr("explore.live_failed"))
    i = explore_math.nearest(encoded, (z1, z2))
    st.caption(tr("latent_map.nearest", i=i, name=names[i]))
    widgets.image_ui(pictures.dataset_images(dataset, (i,), 1, 4))
    if mode == "probe":  # last: a first export never holds back the picture above
        _panel_ui(model, clf, key, dataset, (z1, z2), cls, frame, None)
    return (z1, z2), cls


def _panel_ui(
    model: render.Model,
    clf: render.Model | None,
    key: str,
    dataset: str,
    z: tuple[float, float],
    cls: int | None,
    frame: render.Frame,
    slot: st.delta_generator.DeltaGenerator | None,
) -> None:
    """The decoded point as the morph panel: Explore's graph of this VAE, with both latent
    coordinates given as raw overrides (the picture `render.point_image` paints), hidden
    while it is only being tried (`slot` None)."""
    steering = pictures.steering(model, key, dataset)
    graph = pictures.graph(model, clf, steering, key, dataset)
    inputs = morph.morph_inputs(model, steering, Look(label=cls, raw=tuple(enumerate(z))))
    morph_panel.picture(
        _GROUP,
        graph,
        inputs,
        png=frame.png,
        alt=tr("explore.live_alt"),
        show=slot is not None,
        report=slot is None,
        key="lm_morph",
        readout=morph_panel.readout(frame, widgets.class_names(dataset)),
    )
    if slot is None:
        return
    specs = [
        morph_panel.Slider("raw_values", j, tr(f"latent_map.z{j + 1}"), -LIMIT, LIMIT, STEP)
        for j in range(2)
    ]
    shapes = {name: len(inputs[name]) for name in morph.SLIDER_INPUTS if name in inputs}
    with slot:
        morph_panel.sliders(
            _GROUP, graph, inputs, specs, columns=1, key="lm_morph_z",
            on_released=lambda: _on_released(shapes),
        )  # fmt: skip


def _on_released(shapes: dict[str, int]) -> None:
    """The panel's release, before the rerun (as a slider's on_change): the point it was left
    at, clamped to the map; anything the panel cannot have sent is ignored."""
    released = desks.released(st.session_state["lm_morph_z"]["released"], shapes)
    if released is not None:
        z = [min(max(x, -LIMIT), LIMIT) for x in released["raw_values"][:2]]
        st.session_state["lm_z1"], st.session_state["lm_z2"] = z


def _manifold_ui(model: render.Model, key: str, cls: int | None) -> None:
    st.subheader(tr("latent_map.manifold"))
    size, spread, note = st.columns(3, gap="large", vertical_alignment="bottom")
    n = size.slider(tr("common.grid_size"), 4, 20, key="lm_n", persist_state="session")
    extent = spread.slider(
        tr("latent_map.extent"), 0.5, LIMIT, step=0.5, key="lm_ext", persist_state="session"
    )
    note.caption(tr("latent_map.manifold_caption", n=n, e=extent))
    scale = max(1, 900 // (n * 30 + 2))  # as large as fits the page without browser rescaling
    widgets.image_ui(pictures.manifold(model, key, n, extent, cls, scale).png)


def _kl_ui(label: str, model: render.Model, dataset: str) -> None:
    st.subheader(tr("latent_map.kl"))
    key = models.model_key(label, model)
    kl = pictures.dimension_kl(model, key, dataset)
    width = len(str(len(kl) - 1))
    import pandas as pd

    table = pd.DataFrame(
        {
            tr("latent_map.dimension"): [f"z{j:0{width}d}" for j in range(len(kl))],
            tr("latent_map.kl_axis"): kl,
        }
    )
    st.bar_chart(table, x=tr("latent_map.dimension"), y=tr("latent_map.kl_axis"), height=260)
    st.caption(
        tr(
            "latent_map.kl_caption",
            k=metrics.active_dimensions(kl),
            d=len(kl),
            threshold=metrics.ACTIVE_KL_NATS,
        )
        + f" ({models.model_title(label)})"
    )
    clf = models.classifier(dataset)
    if clf is not None:
        _sampled_ui(model, clf, key, dataset)


def _sampled_ui(model: render.Model, clf: render.Model, key: str, dataset: str) -> None:
    """The 16-D VAE's holes cannot be drawn, but their cost can be counted: how many samples
    of each prior the classifier is sure of, beside the held-out images."""
    st.caption(tr("latent_map.sampled", n=PRIOR_SAMPLES, real=pictures.heldout_sure(clf, dataset)))
    for column, p in zip(st.columns(2), PRIORS[1:], strict=True):
        draw = _prior_draw(model, clf, key, dataset, None, p, False)
        with column:
            st.caption(
                tr("latent_map.sure", prior=tr(f"latent_map.prior_{p}"), share=draw.confident)
            )
            widgets.image_ui(draw.strip)
