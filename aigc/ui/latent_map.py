"""Latent map: a VAE with a 2-D latent space drawn as a map. Every held-out image is a dot at
its encoding, coloured by class; click a dot (or move the two sliders) to decode that point.
Beside it, the decoder's whole manifold on a grid, and, for the 16-D VAE, how much information
each latent dimension carries."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st
import torch
from torch import nn

from aigc import explore_math, imaging, latent, metrics
from aigc.data import DATASETS
from aigc.models import Classifier
from aigc.training import to_uint8
from aigc.ui import models, state, widgets
from aigc.ui.i18n import tr

if TYPE_CHECKING:
    import altair as alt

PAGE = "latent-map"
LIMIT = 4.0  # the map and the sliders cover [-4, 4]^2

SCHEMA: state.Schema = {
    "data": state.ChoiceField("mnist", DATASETS),
    "model": state.TextField(),
    "z": state.FloatListField((0.0, 0.0), -LIMIT, LIMIT, 2),
    "cls": state.IntField(0, 0, 9),
    "n": state.IntField(12, 4, 20),
    "ext": state.FloatField(2.5, 0.5, LIMIT),
}

TEXT = {
    "title": {"en": "Latent map", "zh": "潜在地图"},
    "intro": {
        "en": "This VAE squeezes every image into just two numbers, so its whole latent space "
        "fits on a page. Each dot is a held-out image at its encoding. Click one, or move the "
        "sliders, to see what the decoder draws there.",
        "zh": "这个 VAE 把每张图压缩成两个数,整个潜在空间可以画在一页上。每个点是一张测试图像的编码位置。"
        "点击一个点或移动滑块,看看解码器在那里画出什么。",
    },
    "no_2d": {
        "en": "No 2-D VAE for this dataset yet (`vae2d_<dataset>` in `weights/`).",
        "zh": "该数据集还没有二维 VAE(`weights/` 中的 `vae2d_<数据集>`)。",
    },
    "z1": {"en": "z₁", "zh": "z₁"},
    "z2": {"en": "z₂", "zh": "z₂"},
    "decoded": {"en": "Decoded at ({z1:.2f}, {z2:.2f})", "zh": "在 ({z1:.2f}, {z2:.2f}) 处解码"},
    "nearest": {
        "en": "Nearest held-out image: #{i}, a {name}",
        "zh": "最近的测试图像:#{i},{name}",
    },
    "class": {"en": "class", "zh": "类别"},
    "manifold": {"en": "The decoder's manifold", "zh": "解码器的流形"},
    "manifold_caption": {
        "en": "Decoded on an even {n}×{n} grid over [−{e}, {e}]²; top-left is (−{e}, {e}).",
        "zh": "在 [−{e}, {e}]² 上均匀的 {n}×{n} 网格处解码;左上角是 (−{e}, {e})。",
    },
    "grid_n": {"en": "Grid size", "zh": "网格大小"},
    "extent": {"en": "Extent", "zh": "范围"},
    "kl": {"en": "Which dimensions the 16-D VAE uses", "zh": "16 维 VAE 使用了哪些维度"},
    "kl_caption": {
        "en": "Mean KL divergence of each latent dimension on held-out images (nats). "
        "{k} of {d} carry more than {threshold:g} nats; a dimension near 0 has collapsed to the prior, "
        "and the decoder ignores it.",
        "zh": "每个潜在维度在测试图像上的平均 KL 散度(奈特)。{d} 个维度中有 {k} 个超过 {threshold:g} 奈特;"
        "接近 0 的维度已塌缩到先验,解码器会忽略它。",
    },
    "kl_axis": {"en": "KL (nats)", "zh": "KL(奈特)"},
    "dimension": {"en": "dimension", "zh": "维度"},
    "no_16d": {"en": "No 16-D VAE for this dataset yet.", "zh": "该数据集还没有 16 维 VAE。"},
    "encoding": {"en": "Encoding the held-out images…", "zh": "正在编码测试图像…"},
}


def _restore(values: dict) -> None:
    ss = st.session_state
    for name in ("data", "cls", "n", "ext"):
        ss[f"lm_{name}"] = values[name]
    if values["model"]:
        widgets.link_model("lm_model", values["model"])
    z = (*values["z"], 0.0, 0.0)
    ss["lm_z1"], ss["lm_z2"] = z[0], z[1]


def _publish() -> dict[str, str]:
    ss = st.session_state
    values = {name: ss[f"lm_{name}"] for name in ("data", "model", "cls", "n", "ext")}
    values["z"] = (ss["lm_z1"], ss["lm_z2"])
    return state.publish(PAGE, SCHEMA, values)


def page() -> None:
    st.title(tr(TEXT, "title"))
    st.caption(tr(TEXT, "intro"))
    linked = state.incoming(PAGE, SCHEMA)
    if linked is not None:
        _restore(linked)
    elif "lm_data" not in st.session_state:
        _restore(state.parse(SCHEMA, {})[0])
    top = st.columns([2, 3], vertical_alignment="bottom")
    with top[0]:
        dataset = widgets.dataset_ui("lm_data")
    with st.spinner(tr(models.TEXT, "loading")):
        vaes = {label: models.get_model(label) for label in models.available_models("vae", dataset)}
        x, y = models.heldout(dataset)
        clf = models.classifier(dataset)
    with top[1]:
        label = widgets.model_select_ui(
            "lm_model", [lb for lb, m in vaes.items() if m.latent_dim == 2]
        )
    if label is None:
        st.info(tr(TEXT, "no_2d"))
    else:
        model = vaes[label]
        key = models.model_key(label, model)
        with st.spinner(tr(TEXT, "encoding")):
            encoded = _encode(model, key, dataset)
        _map_view(model, key, dataset, encoded, x, clf)
    st.divider()
    wide = [(lb, m) for lb, m in vaes.items() if m.latent_dim > 2]
    if wide:
        _kl_ui(*wide[0], dataset)
    else:
        st.caption(tr(TEXT, "no_16d"))


@st.cache_data(show_spinner=False, max_entries=32)
def _encode(_model: nn.Module, key: str, dataset: str) -> np.ndarray:
    """(N, 2) posterior means of the held-out images."""
    x, y = models.heldout(dataset)
    with widgets.one_thread():
        return latent.encode_images(_model, x, y).numpy()


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
    encoded: np.ndarray, names: list[str], order: tuple[str, ...], point: tuple[float, float]
) -> alt.LayerChart:
    """The held-out encodings coloured by class (legend in class order), with a point-selection
    parameter "pick" for clicks and a cross at the decoded point."""
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
    return (dots + marker).properties(width=460, height=460)


@st.fragment
def _map_view(
    model: nn.Module,
    key: str,
    dataset: str,
    encoded: np.ndarray,
    x: torch.Tensor,
    clf: Classifier | None,
) -> None:
    y = models.heldout(dataset)[1]
    order = widgets.class_names(dataset)
    names = [order[c] for c in y.tolist()]
    chart_col, point_col = st.columns([3, 2], gap="large")
    with point_col:
        z1 = st.slider(
            tr(TEXT, "z1"), -LIMIT, LIMIT, step=0.05, key="lm_z1", persist_state="session"
        )
        z2 = st.slider(
            tr(TEXT, "z2"), -LIMIT, LIMIT, step=0.05, key="lm_z2", persist_state="session"
        )
        cls = (
            widgets.class_ui("lm_cls", dataset, min(10, model.config.num_classes))
            if widgets.conditional(model)
            else None
        )
        weights = (
            explore_math.class_weights(model.config.num_classes, cls) if cls is not None else None
        )
        frame = widgets.render_image(
            model,
            clf,
            key,
            widgets.as_bytes(torch.tensor([[z1, z2]])),
            widgets.as_bytes(weights),
            8,
        )
        st.caption(tr(TEXT, "decoded", z1=z1, z2=z2))
        left, right = st.columns(2)
        with left:
            widgets.image_ui(frame.png)
        with right:
            widgets.readout_ui(frame, dataset)
        i = explore_math.nearest(encoded, (z1, z2))
        st.caption(tr(TEXT, "nearest", i=i, name=names[i]))
        widgets.image_ui(imaging.png_bytes(to_uint8(x[i : i + 1])[0], 4))
    with chart_col:
        st.altair_chart(
            _chart(encoded, names, order, (z1, z2)),
            key="lm_map",
            on_select=functools.partial(_on_pick, encoded),
            selection_mode="pick",
            width="content",
        )
    st.divider()
    st.subheader(tr(TEXT, "manifold"))
    size, spread, note = st.columns(3, gap="large", vertical_alignment="bottom")
    n = size.slider(tr(TEXT, "grid_n"), 4, 20, key="lm_n", persist_state="session")
    extent = spread.slider(
        tr(TEXT, "extent"), 0.5, LIMIT, step=0.5, key="lm_ext", persist_state="session"
    )
    note.caption(tr(TEXT, "manifold_caption", n=n, e=extent))
    weights = (
        explore_math.class_weights(model.config.num_classes, cls, n=n * n)
        if cls is not None
        else None
    )
    mosaic = widgets.render_mosaic(
        model,
        None,
        key,
        widgets.as_bytes(explore_math.manifold_grid(n, extent)),
        widgets.as_bytes(weights),
        n,
        n,
        max(1, 900 // (n * 30 + 2)),  # as large as fits the page without browser rescaling
    )
    widgets.image_ui(mosaic.png)
    state.share_ui(_publish())


@st.cache_data(show_spinner=False, max_entries=32)
def _kl(_model: nn.Module, key: str, dataset: str) -> np.ndarray:
    x, y = models.heldout(dataset)
    with widgets.one_thread():
        return metrics.kl_per_dimension(_model, x, y)


def _kl_ui(label: str, model: nn.Module, dataset: str) -> None:
    st.subheader(tr(TEXT, "kl"))
    kl = _kl(model, models.model_key(label, model), dataset)
    width = len(str(len(kl) - 1))
    import pandas as pd

    table = pd.DataFrame(
        {
            tr(TEXT, "dimension"): [f"z{j:0{width}d}" for j in range(len(kl))],
            tr(TEXT, "kl_axis"): kl,
        }
    )
    st.bar_chart(table, x=tr(TEXT, "dimension"), y=tr(TEXT, "kl_axis"), height=260)
    st.caption(
        tr(
            TEXT,
            "kl_caption",
            k=metrics.active_dimensions(kl),
            d=len(kl),
            threshold=metrics.ACTIVE_KL_NATS,
        )
        + f" ({models.model_title(label)})"
    )
