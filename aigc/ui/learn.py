"""Learn: the GAN loop as a diagram, the losses as formulas, and steps to try in class.

Every formula names the curve on Train live that plots it, using that page's own curve
labels, so the two pages cannot drift apart.
"""

from __future__ import annotations

import streamlit as st

from aigc import recipes
from aigc.ui.i18n import tr
from aigc.ui.train_live import TEXT as TRAIN_TEXT

TEXT = {
    "title": {"en": "Learn", "zh": "学习"},
    "intro": {
        "en": "How the two kinds of generator on this site learn, and where to see each part "
        "of it happen on the **{train}** page.",
        "zh": "本网站的两种生成模型是如何学习的，以及在 **{train}** 页面上的哪里能看到每一部分。",
    },
    "loop_header": {"en": "The GAN loop", "zh": "GAN 的循环"},
    "loop_text": {
        "en": "A generator turns random noise into an image. A discriminator looks at real "
        "images from the data and at the generator's images and says how likely each one is "
        "real. If it is fooled, the image is the output; if not, the generator learns from "
        "the verdict and tries again. The discriminator learns too, from both kinds of image, "
        "so the two keep pushing each other.",
        "zh": "生成器把随机噪声变成一张图像。判别器同时查看数据中的真实图像和生成器生成的图像，"
        "判断每一张为真的可能性。如果判别器被骗过，这张图像就是输出；否则生成器根据判别结果"
        "学习，再生成一次。判别器也在学习——从两类图像中学习——于是双方不断互相促进。",
    },
    "node_noise": {"en": "random noise z", "zh": "随机噪声 z"},
    "node_data": {"en": "data: real images x", "zh": "数据：真实图像 x"},
    "node_g": {"en": "generator G", "zh": "生成器 G"},
    "node_d": {"en": "discriminator D", "zh": "判别器 D"},
    "node_real": {"en": "real?", "zh": "是真的吗？"},
    "node_out": {"en": "output", "zh": "输出"},
    "edge_fake": {"en": "fake image G(z)", "zh": "假图像 G(z)"},
    "edge_yes": {"en": "yes: D is fooled", "zh": "是：D 被骗过"},
    "edge_no": {"en": "no: learn and regenerate", "zh": "否：学习并重新生成"},
    "gan_header": {"en": "GAN losses", "zh": "GAN 的损失函数"},
    "minimax_text": {
        "en": "The original GAN (Goodfellow et al., 2014) is a two-player game: D maximises, "
        "G minimises, with D(x) the probability D gives that x is real:",
        "zh": "最初的 GAN（Goodfellow 等，2014）是一个双人博弈：D 求最大、G 求最小，"
        "其中 D(x) 是 D 认为 x 为真的概率：",
    },
    "hinge_text": {
        "en": "This site trains with the **hinge loss** (Lim & Ye, 2017), which is steadier on "
        "small models. D outputs a score d(x) (its probability is D(x) = σ(d(x))); D wants "
        "scores above +1 on real images and below −1 on fakes, G wants its fakes scored high:",
        "zh": "本网站使用 **hinge 损失**（Lim 和 Ye，2017）训练，它在小模型上更稳定。D 输出一个"
        "分数 d(x)（对应的概率为 D(x) = σ(d(x))）；D 希望真实图像的分数高于 +1、假图像低于 −1，"
        "G 则希望自己的假图像得分高：",
    },
    "class_text": {
        "en": "A conditional model adds a class term to both (the discriminator also names the "
        "class, Odena et al., 2017), weighted λ = {weight:g} in the live recipe:",
        "zh": "条件模型在两者中都加入类别项（判别器还要说出类别，Odena 等，2017），"
        "现场训练配方中的权重为 λ = {weight:g}：",
    },
    "gan_curves": {
        "en": "On **{train}**: the **{g}** curve is L_G and the **{d}** curve is L_D "
        "(class terms included). The second chart shows **{d_real}** and **{d_fake}**: the "
        "probability D gives, averaged over a batch, that a real image and a generated image "
        "are real.",
        "zh": "在 **{train}** 页面上：**{g}** 曲线就是 L_G，**{d}** 曲线就是 L_D（含类别项）。"
        "第二张图显示 **{d_real}** 和 **{d_fake}**：D 认为真实图像和生成图像为真的概率"
        "（一个批次的平均值）。",
    },
    "vae_header": {"en": "VAE loss", "zh": "VAE 的损失函数"},
    "vae_text": {
        "en": "A VAE (Kingma & Welling, 2014) encodes an image x into a distribution "
        "q(z|x) = N(μ, σ²) over codes z and decodes a sample z back into an image. It "
        "minimises the negative evidence lower bound (−ELBO), two terms in nats per image:",
        "zh": "VAE（Kingma 和 Welling，2014）把图像 x 编码成编码 z 上的分布 q(z|x) = N(μ, σ²)，"
        "再把采样得到的 z 解码回图像。它最小化负的证据下界（−ELBO），由两项组成，"
        "单位是每张图像的奈特（nats）：",
    },
    "recon_text": {
        "en": "**Reconstruction**: the negative log-likelihood of the image under the decoder; "
        "with pixel intensities in [0, 1] read as Bernoulli probabilities it is the binary "
        "cross-entropy summed over all 784 pixels (x̂ is the decoded image):",
        "zh": "**重建项**：图像在解码器下的负对数似然；把 [0, 1] 之间的像素亮度看作伯努利概率，"
        "它就是 784 个像素的二元交叉熵之和（x̂ 是解码得到的图像）：",
    },
    "kl_text": {
        "en": "**KL divergence** from the code distribution to the prior N(0, I), in closed "
        "form for a Gaussian:",
        "zh": "**KL 散度**：编码分布到先验 N(0, I) 的 KL 散度，对高斯分布有解析式：",
    },
    "vae_curves": {
        "en": "On **{train}**: **{recon}** and **{kl}** are these two terms and "
        "**{total}** is their sum. Reconstruction falls as images come back sharper; KL "
        "first rises as the codes start to carry information about each image.",
        "zh": "在 **{train}** 页面上：**{recon}** 和 **{kl}** 就是这两项，**{total}** 是它们之和。"
        "随着重建出的图像越来越清晰，重建项下降；KL 一开始上升，因为编码开始携带每张图像的信息。",
    },
    "try_header": {"en": "Try this in class", "zh": "课堂上试一试"},
    "try_steps": {
        "en": "1. Open **{train}**. Choose GAN, MNIST digits, “{conditional}” on, 20 seconds, "
        "and press **{start}**.\n"
        "2. Watch **{d_real}** and **{d_fake}**. Early on the discriminator tells real from "
        "fake easily, so **{d_real}** sits well above **{d_fake}**. Does the gap narrow as the "
        "samples improve?\n"
        "3. Press **{pause}** and drag the **{timeline}** back to the first snapshot: each row "
        "is one digit, going from noise to blobs to digits. Press **{resume}**.\n"
        "4. At the end, read **{recognisable}**: the share of samples that a separate "
        "classifier reads as the digit of their row.\n"
        "5. Press **{reset}**, set the learning rate to 0.01 and start again. Is it faster, or "
        "do the curves get noisier?\n"
        "6. Switch to VAE and start: watch **{recon}** fall while **{kl}** first rises. "
        "Compare how sharp its samples are with the GAN's.\n"
        "7. Turn “{conditional}” off: the rows no longer hold one class each, so there is no "
        "{recognisable} score.\n"
        "8. Open **Explore**: your trained model is in the model list as “{my_model}”.",
        "zh": "1. 打开 **{train}**。选择 GAN、MNIST 手写数字、打开“{conditional}”、20 秒，"
        "然后按 **{start}**。\n"
        "2. 观察 **{d_real}** 和 **{d_fake}**。一开始判别器很容易分辨真假，所以 **{d_real}** "
        "明显高于 **{d_fake}**。随着样本变好，两者的差距会缩小吗？\n"
        "3. 按 **{pause}**，把 **{timeline}** 拖回第一个快照：每一行是一个数字，从噪声变成"
        "模糊的团块，再变成数字。按 **{resume}**。\n"
        "4. 训练结束时看 **{recognisable}**：另一个分类器认为样本属于其所在行数字的比例。\n"
        "5. 按 **{reset}**，把学习率设为 0.01 再开始。是更快了，还是曲线更抖了？\n"
        "6. 切换到 VAE 并开始：观察 **{recon}** 下降，而 **{kl}** 一开始上升。"
        "比较它和 GAN 的样本哪个更清晰。\n"
        "7. 关闭“{conditional}”：每一行不再对应一个类别，所以没有{recognisable}分数。\n"
        "8. 打开**探索**页面：你训练的模型出现在模型列表中，名为“{my_model}”。",
    },
}

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
    """The loop as Graphviz DOT; Streamlit draws it in the browser, no graphviz binary needed."""

    def t(key: str) -> str:
        return tr(TEXT, key).replace('"', "'")

    return f"""digraph {{
    rankdir=LR;
    node [shape=box, style="rounded,filled", fillcolor="#eef2fb", fontname="sans-serif"];
    edge [fontname="sans-serif", fontsize=11];
    noise [label="{t("node_noise")}", shape=ellipse];
    data [label="{t("node_data")}", shape=cylinder];
    G [label="{t("node_g")}"];
    D [label="{t("node_d")}"];
    real [label="{t("node_real")}", shape=diamond, fillcolor="#fff4d6"];
    out [label="{t("node_out")}", shape=ellipse, fillcolor="#e3f5e1"];
    noise -> G;
    G -> D [label="{t("edge_fake")}"];
    data -> D;
    D -> real;
    real -> out [label="{t("edge_yes")}"];
    real -> G [label="{t("edge_no")}", style=dashed, constraint=false];
}}"""


def page() -> None:
    train = tr(TRAIN_TEXT, "title")
    curve = {key: tr(TRAIN_TEXT, f"curve_{key}") for key in ("g", "d", "d_real", "d_fake")}
    curve |= {key: tr(TRAIN_TEXT, f"curve_{key}") for key in ("recon", "kl", "total")}
    st.title(tr(TEXT, "title"))
    st.markdown(tr(TEXT, "intro", train=train))

    st.header(tr(TEXT, "loop_header"))
    st.markdown(tr(TEXT, "loop_text"))
    st.graphviz_chart(loop_dot())

    st.header(tr(TEXT, "gan_header"))
    st.markdown(tr(TEXT, "minimax_text"))
    st.latex(MINIMAX)
    st.markdown(tr(TEXT, "hinge_text"))
    st.latex(HINGE)
    weight = recipes.live_train_config("gan").class_weight
    st.markdown(tr(TEXT, "class_text", weight=weight))
    st.latex(CLASS_TERMS)
    st.info(tr(TEXT, "gan_curves", train=train, **curve))

    st.header(tr(TEXT, "vae_header"))
    st.markdown(tr(TEXT, "vae_text"))
    st.latex(ELBO)
    st.markdown(tr(TEXT, "recon_text"))
    st.latex(RECON)
    st.markdown(tr(TEXT, "kl_text"))
    st.latex(KL)
    st.info(tr(TEXT, "vae_curves", train=train, **curve))

    st.header(tr(TEXT, "try_header"))
    words = {
        key: tr(TRAIN_TEXT, key)
        for key in ("start", "pause", "resume", "reset", "timeline", "recognisable", "conditional")
    }
    my_model = tr(TRAIN_TEXT, "my_model", kind="GAN", dataset="mnist", time="…")
    st.markdown(tr(TEXT, "try_steps", train=train, my_model=my_model, **curve, **words))
