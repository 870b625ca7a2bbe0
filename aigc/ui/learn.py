"""Learn: the GAN loop as a diagram, the losses as formulas, and steps to try in class.

Every formula names the curve on Train live that plots it, using that page's own curve
labels, and every setting the steps ask for is one Train live's controls offer, taken from
them, so the two pages cannot drift apart.
"""

from __future__ import annotations

import streamlit as st

from aigc import recipes
from aigc.ui import pages, train_live
from aigc.ui.i18n import tr

MINIMAX = (
    r"\min_G \max_D \; \mathbb{E}_{x \sim p_{\text{data}}}\big[\log D(x)\big]"
    r" + \mathbb{E}_{z \sim p(z)}\big[\log\big(1 - D(G(z))\big)\big]"
)
HINGE = (
    r"L_D = \mathbb{E}_{x}\big[\max(0,\, 1 - d(x))\big]"
    r" + \mathbb{E}_{z}\big[\max(0,\, 1 + d(G(z)))\big],"
    r"\qquad L_G = -\,\mathbb{E}_{z}\big[d(G(z))\big]"
)
CLASS_TERMS = (
    r"L_D \leftarrow L_D + \lambda\, \mathrm{CE}\big(c(x),\, y\big),"
    r"\qquad L_G \leftarrow L_G + \lambda\, \mathrm{CE}\big(c(G(z, y)),\, y\big)"
)
ELBO = (
    r"-\mathrm{ELBO}(x) = \underbrace{-\,\mathbb{E}_{q(z \mid x)}\big[\log p(x \mid z)\big]}"
    r"_{\text{reconstruction}} + \underbrace{D_\mathrm{KL}\big(q(z \mid x)\,\|\,"
    r"\mathcal{N}(0, I)\big)}_{\text{KL}}"
)
RECON = (
    r"-\log p(x \mid z) = -\sum_{i=1}^{784}"
    r"\big[x_i \log \hat{x}_i + (1 - x_i) \log(1 - \hat{x}_i)\big]"
)
KL = r"D_\mathrm{KL} = -\tfrac{1}{2} \sum_{j} \big(1 + \log \sigma_j^2 - \mu_j^2 - \sigma_j^2\big)"


def loop_dot() -> str:
    """The training loop as Graphviz DOT; Streamlit draws it in the browser, no graphviz binary
    needed. Every verdict teaches both players; nothing is regenerated (that is the quality
    gate, after training)."""

    def t(key: str) -> str:
        return tr(f"learn.{key}").replace('"', "'")

    return f"""digraph {{
    rankdir=LR;
    node [shape=box, style="rounded,filled", fillcolor="#eef2fb", fontname="sans-serif"];
    edge [fontname="sans-serif", fontsize=11];
    noise [label="{t("node_noise")}", shape=ellipse];
    data [label="{t("node_data")}", shape=cylinder];
    G [label="{t("node_g")}"];
    D [label="{t("node_d")}"];
    verdict [label="{t("node_verdict")}", shape=diamond, fillcolor="#fff4d6"];
    noise -> G;
    G -> D [label="{t("edge_fake")}"];
    data -> D;
    D -> verdict;
    verdict -> D [label="{t("edge_d_learns")}", style=dashed, constraint=false];
    verdict -> G [label="{t("edge_g_learns")}", style=dashed, constraint=false];
}}"""


def faster_learning_rate(kind: str) -> float:
    """The largest rate the Train live slider offers up to ten times the recipe's own."""
    own = recipes.live_train_config(kind).lr
    return max(lr for lr in train_live.LEARNING_RATES if lr <= 10 * own)


def page() -> None:
    train = tr("pages.train_live")
    curve = {key: tr(f"train_live.curve_{key}") for key in ("g", "d", "d_real", "d_fake")}
    curve |= {key: tr(f"train_live.curve_{key}") for key in ("recon", "kl", "total")}
    st.title(tr("pages.learn"))
    st.markdown(tr("learn.intro", train=train))

    st.header(tr("learn.loop_header"))
    st.markdown(tr("learn.loop_text"))
    st.graphviz_chart(loop_dot())
    gate, explore_name = tr("explore.gate"), tr("pages.explore")
    st.markdown(tr("learn.gate_text", gate=gate, explore=explore_name))
    st.page_link(
        pages.page("explore"),
        label=f"{explore_name} → {gate}",
        query_params={"mode": "gate"},
    )

    st.header(tr("learn.gan_header"))
    st.markdown(tr("learn.minimax_text"))
    st.latex(MINIMAX)
    st.markdown(tr("learn.hinge_text"))
    st.latex(HINGE)
    weight = recipes.live_train_config("gan").class_weight
    st.markdown(tr("learn.class_text", weight=weight))
    st.latex(CLASS_TERMS)
    st.info(tr("learn.gan_curves", train=train, **curve))

    st.header(tr("learn.vae_header"))
    st.markdown(tr("learn.vae_text"))
    st.latex(ELBO)
    st.markdown(tr("learn.recon_text"))
    st.latex(RECON)
    st.markdown(tr("learn.kl_text"))
    st.latex(KL)
    st.info(tr("learn.vae_curves", train=train, **curve))
    st.markdown(tr("learn.prior_text", explore=explore_name))
    st.page_link(
        pages.page("explore"),
        label=f"{explore_name} → {tr('explore.grid')}: {tr('explore.prior_both')}",
        query_params={"kind": "vae", "mode": "grid", "n": "6", "both": "1"},
    )
    st.page_link(
        pages.page("latent_map"),
        label=f"{tr('pages.latent_map')} → {tr('latent_map.prior')}: {tr('latent_map.prior_normal')}",
        query_params={"prior": "normal"},
    )

    _try_this_ui(train, curve)


def _try_this_ui(train: str, curve: dict[str, str]) -> None:
    """Steps for a class, in the words and with the settings the Train live page has."""
    st.header(tr("learn.try_header"))
    st.page_link(pages.page("train_live"))
    words = {
        key: tr(f"train_live.{key}")
        for key in (
            "start",
            "pause",
            "resume",
            "reset",
            "timeline",
            "recognisable",
            "conditional",
            "lr",
            "mnist",
        )
    }
    settings = {
        "seconds": train_live.DEFAULT_SECONDS,
        "lr_default": f"{recipes.live_train_config('gan').lr:g}",  # as the slider writes it
        "fast_lr": f"{faster_learning_rate('gan'):g}",
        "explore": tr("pages.explore"),
        "my_model": tr("train_live.my_model", kind="GAN", dataset=tr("names.mnist"), time="…"),
    }
    st.markdown(tr("learn.try_steps", train=train, **settings, **curve, **words))
