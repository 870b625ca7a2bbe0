"""Train live: a GAN or VAE learns on the server while the page watches it.

The run itself lives in the server-wide :class:`aigc.runs.RunManager` (a background thread,
under the server's cap); this page only starts it, polls it twice a second from a fragment
and draws what it sees. When the run ends, the session gets its own copy of the model.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass

import streamlit as st
from torch import nn

from aigc import data, imaging, metrics, recipes, runs
from aigc.checkpoint import WeightsError, to_bytes, training_provenance
from aigc.models import Classifier
from aigc.runs import RunManager, RunView, Status
from aigc.ui import models
from aigc.ui.i18n import tr
from aigc.weights import load_shipped

REFRESH_S = 0.5
SIDEBAR_REFRESH_S = 5.0  # well inside the manager's 60 s lease
LEARNING_RATES = (1e-4, 3e-4, 1e-3, 3e-3, 8e-3, 3e-2)  # holds each recipe's own
BATCH_SIZES = (32, 64, 128, 256)
MAX_SECONDS = 300  # a slot is shared by the whole server: no run holds it for long
MAX_STEPS = 20_000
GRID_SCALE = 2
KIND_NAMES = {"gan": "GAN", "vae": "VAE"}
LIVE = "train_live"  # session_state: the LiveRun being watched
RESULT = "train_result"  # session_state: the Result of the last run that ended
NOTICE = "train_notice"  # session_state: a one-off message for the next render

TEXT = {
    "title": {"en": "Train live", "zh": "现场训练"},
    "intro": {
        "en": "Train a small GAN or VAE from scratch and watch it learn: the curves, "
        "the discriminator's guesses and a grid of samples from fixed noise update twice a "
        "second.",
        "zh": "从零训练一个小型 GAN 或 VAE，看着它学习：损失曲线、判别器的判断和由固定噪声生成的"
        "样本网格每秒刷新两次。",
    },
    "kind": {"en": "Model", "zh": "模型"},
    "dataset": {"en": "Dataset", "zh": "数据集"},
    "mnist": {"en": "MNIST digits", "zh": "MNIST 手写数字"},
    "fashion": {"en": "Fashion-MNIST clothes", "zh": "Fashion-MNIST 服饰"},
    "conditional": {"en": "Conditional (one row per class)", "zh": "条件模型（每行一个类别）"},
    "conditional_help": {
        "en": "The model is told which class to draw, so each row of the grid is one class.",
        "zh": "告诉模型要画哪个类别，网格的每一行就是一个类别。",
    },
    "lr": {"en": "Learning rate", "zh": "学习率"},
    "batch": {"en": "Batch size", "zh": "批大小"},
    "budget": {"en": "Budget", "zh": "训练预算"},
    "by_seconds": {"en": "seconds", "zh": "按秒"},
    "by_steps": {"en": "steps", "zh": "按步数"},
    "seconds": {"en": "Seconds of training", "zh": "训练秒数"},
    "steps": {"en": "Training steps", "zh": "训练步数"},
    "start": {"en": "Start", "zh": "开始"},
    "pause": {"en": "Pause", "zh": "暂停"},
    "resume": {"en": "Resume", "zh": "继续"},
    "stop": {"en": "Stop", "zh": "停止"},
    "reset": {"en": "Reset", "zh": "重置"},
    "queued": {
        "en": "Waiting for a free slot: number {position} in the queue. "
        "Other people are training right now.",
        "zh": "正在等待空闲名额：排队第 {position} 位。其他人正在训练。",
    },
    "starting": {"en": "Starting…", "zh": "正在启动…"},
    "sidebar_queued": {
        "en": "Training: queued ({position})",
        "zh": "训练：排队中（第 {position} 位）",
    },
    "sidebar_running": {"en": "Training: step {step:,}", "zh": "训练：第 {step:,} 步"},
    "sidebar_paused": {"en": "Training: paused", "zh": "训练：已暂停"},
    "running": {"en": "Training: step {step:,}", "zh": "训练中：第 {step:,} 步"},
    "paused": {
        "en": "Paused at step {step:,}. Drag the timeline to look back.",
        "zh": "已暂停在第 {step:,} 步。拖动时间轴可回看。",
    },
    "finished": {
        "en": "Finished: {step:,} steps in {seconds:.1f} s.",
        "zh": "训练完成：{seconds:.1f} 秒内 {step:,} 步。",
    },
    "stopped": {
        "en": "Stopped at step {step:,} after {seconds:.1f} s.",
        "zh": "已在第 {step:,} 步停止，用时 {seconds:.1f} 秒。",
    },
    "diverged": {
        "en": "Training diverged ({reason}). The grid shows the last good snapshot; "
        "try a smaller learning rate.",
        "zh": "训练发散（{reason}）。网格显示的是最后一个正常的快照；请尝试更小的学习率。",
    },
    "failed": {"en": "Training failed: {reason}", "zh": "训练出错：{reason}"},
    "expired": {
        "en": "The run was stopped because this page stopped checking on it.",
        "zh": "由于页面长时间未查看，训练已被停止。",
    },
    "saved": {
        "en": "Saved for this session as **{label}**: Explore and Interpolate can use it.",
        "zh": "已在本次会话中保存为 **{label}**：“探索”和“插值”页面可以使用它。",
    },
    "session_full": {
        "en": "This session already holds {n} models of its own, so this one was not added to "
        "the model list. You can still download it.",
        "zh": "本会话已有 {n} 个自己的模型，因此这个模型没有加入模型列表。你仍然可以下载它。",
    },
    "my_model": {"en": "my {kind} ({dataset}, {time})", "zh": "我的 {kind}（{dataset}，{time}）"},
    "download": {"en": "Download weights (.safetensors)", "zh": "下载权重（.safetensors）"},
    "step": {"en": "Step", "zh": "步数"},
    "images_per_s": {"en": "Images/s", "zh": "图像/秒"},
    "elapsed": {"en": "Elapsed", "zh": "已用时间"},
    "eta": {"en": "Time left", "zh": "剩余时间"},
    "recognisable": {"en": "Recognisable", "zh": "可辨认度"},
    "recognisable_help": {
        "en": "Share of the grid's samples that the {dataset} classifier takes for the class "
        "they were drawn for.",
        "zh": "网格中被 {dataset} 分类器判为其目标类别的样本比例。",
    },
    "no_classifier": {
        "en": "The classifier that scores samples is not ready yet (it is still training).",
        "zh": "给样本打分的分类器还没有准备好（仍在训练中）。",
    },
    "unconditional": {
        "en": "Only a conditional model says which class a sample should be.",
        "zh": "只有条件模型才规定样本应属于哪个类别。",
    },
    "grid_caption": {
        "en": "Samples from fixed noise at step {step:,}.",
        "zh": "第 {step:,} 步时由固定噪声生成的样本。",
    },
    "rows": {"en": "Rows, top to bottom: {names}.", "zh": "各行从上到下：{names}。"},
    "timeline": {"en": "Timeline", "zh": "时间轴"},
    "timeline_step": {"en": "step {step:,}", "zh": "第 {step:,} 步"},
    "timeline_hint": {
        "en": "Pause (or wait for the end) to scrub back through earlier snapshots.",
        "zh": "暂停（或等训练结束）后可拖动时间轴回看之前的快照。",
    },
    "losses": {"en": "Losses", "zh": "损失"},
    "d_outputs": {
        "en": "Discriminator: probability it calls an image real",
        "zh": "判别器：认为图像为真的概率",
    },
    "no_snapshot": {"en": "No samples yet.", "zh": "还没有样本。"},
    # Curve names: the Learn page points at these same strings.
    "curve_g": {"en": "G loss", "zh": "G 损失"},
    "curve_d": {"en": "D loss", "zh": "D 损失"},
    "curve_d_real": {"en": "D(x)", "zh": "D(x)"},
    "curve_d_fake": {"en": "D(G(z))", "zh": "D(G(z))"},
    "curve_recon": {"en": "reconstruction", "zh": "重建"},
    "curve_kl": {"en": "KL", "zh": "KL"},
    "curve_total": {"en": "total (−ELBO)", "zh": "总损失（−ELBO）"},
}

# (chart, loss key in the events, curve name in TEXT), per model kind
CURVES = {
    "gan": (
        ("losses", "g", "curve_g"),
        ("losses", "d", "curve_d"),
        ("d_outputs", "d_real", "curve_d_real"),
        ("d_outputs", "d_fake", "curve_d_fake"),
    ),
    "vae": (
        ("losses", "recon", "curve_recon"),
        ("losses", "kl", "curve_kl"),
        ("losses", "loss", "curve_total"),
    ),
}


@dataclass(frozen=True)
class Settings:
    kind: str
    dataset: str
    conditional: bool
    lr: float
    batch_size: int
    seconds: float | None
    steps: int | None


@dataclass(frozen=True)
class LiveRun:
    run_id: str
    settings: Settings
    scored: bool  # whether the classifier was there to score its snapshots


@dataclass(frozen=True)
class Result:
    view: RunView  # the run's last state: status, curves and the whole timeline
    live: LiveRun
    model: nn.Module | None  # None if the run left no usable model
    label: str | None  # its name among the session's models; None if not added


@st.cache_resource(show_spinner=False)
def run_manager() -> RunManager:
    """One manager per server: the cap and the queue only mean something if every session
    counts against the same ones. It is the one shared object here that changes, and it
    locks around every change."""
    return RunManager()


@st.cache_resource(show_spinner=False)
def shipped_classifier(dataset: str) -> Classifier:
    """Shared and read-only: runs score their snapshots with it in eval mode, no gradients."""
    return load_shipped(f"classifier_{dataset}")


def _scorer(dataset: str) -> runs.Scorer | None:
    try:
        return metrics.agreement_scorer(shipped_classifier(dataset))
    except WeightsError:  # not trained yet; not cached, so the next run tries again
        return None


def settings_ui(disabled: bool) -> Settings:
    # Labels are looked up now: a format_func may be called outside this script run.
    names = {key: tr(TEXT, key) for key in (*data.DATASETS, "by_seconds", "by_steps")}
    col_a, col_b = st.columns(2)
    with col_a:
        kind = st.radio(
            tr(TEXT, "kind"),
            list(KIND_NAMES),
            format_func=KIND_NAMES.get,
            horizontal=True,
            disabled=disabled,
            key="train_kind",
        )
        dataset = st.selectbox(
            tr(TEXT, "dataset"),
            data.DATASETS,
            format_func=names.get,
            disabled=disabled,
            key="train_dataset",
        )
        conditional = st.toggle(
            tr(TEXT, "conditional"),
            value=True,
            help=tr(TEXT, "conditional_help"),
            disabled=disabled,
            key="train_conditional",
        )
    recipe = recipes.live_train_config(kind)
    with col_b:
        # Keys per kind: switching GAN <-> VAE brings back that kind's own recipe defaults.
        lr = st.select_slider(
            tr(TEXT, "lr"),
            LEARNING_RATES,
            value=recipe.lr,
            format_func=lambda v: f"{v:g}",
            disabled=disabled,
            key=f"train_lr_{kind}",
        )
        batch_size = st.select_slider(
            tr(TEXT, "batch"),
            BATCH_SIZES,
            value=recipe.batch_size,
            disabled=disabled,
            key=f"train_batch_{kind}",
        )
        by = st.radio(
            tr(TEXT, "budget"),
            ("seconds", "steps"),
            format_func=lambda b: names[f"by_{b}"],
            horizontal=True,
            disabled=disabled,
            key="train_budget",
        )
        if by == "seconds":
            amount = st.number_input(
                tr(TEXT, "seconds"), 1, MAX_SECONDS, 20, disabled=disabled, key="train_seconds"
            )
        else:
            amount = st.number_input(
                tr(TEXT, "steps"), 10, MAX_STEPS, 500, step=50, disabled=disabled, key="train_steps"
            )
    return Settings(
        kind=kind,
        dataset=dataset,
        conditional=conditional,
        lr=lr,
        batch_size=batch_size,
        seconds=float(amount) if by == "seconds" else None,
        steps=int(amount) if by == "steps" else None,
    )


# -- actions ------------------------------------------------------------------------------


def _start(settings: Settings) -> None:
    _release_live()
    st.session_state.pop(RESULT, None)
    scorer = _scorer(settings.dataset)
    run_id = recipes.submit_live(
        run_manager(),
        settings.kind,
        settings.dataset,
        conditional=settings.conditional,
        scorer=scorer,
        lr=settings.lr,
        batch_size=settings.batch_size,
        seconds=settings.seconds,
        steps=settings.steps,
    )
    st.session_state[LIVE] = LiveRun(run_id, settings, scored=scorer is not None)


def _steer(action: str, run_id: str) -> None:
    """Pause, resume or stop. The run may have ended, and been released, since the button was
    drawn; then there is nothing left to steer."""
    with contextlib.suppress(runs.UnknownRun):
        getattr(run_manager(), action)(run_id)


def _release_live() -> None:
    live = st.session_state.pop(LIVE, None)
    if live is not None:
        run_manager().release(live.run_id)


def _reset() -> None:
    _release_live()
    st.session_state.pop(RESULT, None)
    st.session_state.pop(NOTICE, None)


def _finish(live: LiveRun, view: RunView) -> None:
    """Take the ended run's model into the session, keep its last view, free the server.

    A diverged run counts if it got as far as one good snapshot: its weights are those.
    """
    label = model = None
    usable = view.status in (Status.FINISHED, Status.STOPPED) or (
        view.status is Status.DIVERGED and view.snapshots
    )
    if usable and view.step > 0:
        model = run_manager().model(live.run_id).requires_grad_(False)
        own = models.session_models()
        if len(own) < models.MAX_SESSION_MODELS:  # else it can still be downloaded
            label = _unique_label(live.settings, own)
            own[label] = model
    st.session_state[RESULT] = Result(view, live, model, label)
    _release_live()


def _unique_label(settings: Settings, taken: dict) -> str:
    base = tr(
        TEXT,
        "my_model",
        kind=KIND_NAMES[settings.kind],
        dataset=settings.dataset,
        time=dt.datetime.now().strftime("%H:%M"),
    )
    label, n = base, 2
    while label in taken:
        label, n = f"{base} #{n}", n + 1
    return label


# -- drawing ------------------------------------------------------------------------------


def _poll() -> tuple[LiveRun, RunView] | None:
    """This session's live run as it is now; when it has ended, take its model into the
    session and rerun the whole page (the settings unlock and the auto-refresh stops)."""
    live: LiveRun | None = st.session_state.get(LIVE)
    if live is None:
        return None
    try:
        view = run_manager().view(live.run_id)
    except runs.UnknownRun:
        st.session_state.pop(LIVE, None)
        st.session_state[NOTICE] = tr(TEXT, "expired")
        st.rerun()
    if view.ended:
        _finish(live, view)
        st.rerun()
    return live, view


def sidebar_status() -> None:
    """Keep this session's run alive and report it from whichever page is open.

    Call it on every page, e.g. ``with st.sidebar: train_live.sidebar_status()`` in the
    navigation script: a run nobody polls is stopped after a minute, and a run that ends while
    its owner reads another page still lands in the session's models.
    """
    if LIVE in st.session_state:
        st.fragment(_sidebar_panel, run_every=SIDEBAR_REFRESH_S)()


def _sidebar_panel() -> None:
    polled = _poll()
    if polled is None:
        return
    view = polled[1]
    if view.status is Status.QUEUED:
        st.caption(tr(TEXT, "sidebar_queued", position=view.queue_position))
    elif view.status is Status.PAUSED:
        st.caption(tr(TEXT, "sidebar_paused"))
    else:
        st.caption(tr(TEXT, "sidebar_running", step=view.step))


def _live_panel() -> None:
    """The part of the page that redraws on its own, twice a second, while a run is live."""
    polled = _poll()
    if polled is None:
        return
    live, view = polled
    controls = st.columns(3)
    toggle = "resume" if view.status is Status.PAUSED else "pause"
    for col, action in zip(controls, (toggle, "stop"), strict=False):
        col.button(
            tr(TEXT, action), on_click=_steer, args=(action, live.run_id), key=f"train_{action}"
        )
    if view.status is Status.QUEUED:
        st.info(tr(TEXT, "queued", position=view.queue_position))
        return
    if view.status is Status.PAUSED:
        st.warning(tr(TEXT, "paused", step=view.step))
    elif view.step == 0:
        st.info(tr(TEXT, "starting"))
    else:
        done = view.elapsed / (view.elapsed + view.eta_s) if view.eta_s is not None else 0.0
        st.progress(min(1.0, done), text=tr(TEXT, "running", step=view.step))
    _show_run(view, live, scrub=view.status is Status.PAUSED, key=f"timeline_live_{live.run_id}")


def _result_panel(result: Result) -> None:
    view = result.view
    if view.status is Status.FINISHED:
        st.success(tr(TEXT, "finished", step=view.step, seconds=view.elapsed))
    elif view.status is Status.STOPPED:
        st.info(tr(TEXT, "stopped", step=view.step, seconds=view.elapsed))
    elif view.status is Status.DIVERGED:
        st.error(tr(TEXT, "diverged", reason=view.divergence.describe()))
    else:
        st.error(tr(TEXT, "failed", reason=view.error))
    if result.label is not None:
        st.markdown(tr(TEXT, "saved", label=result.label))
    elif result.model is not None:
        st.warning(tr(TEXT, "session_full", n=models.MAX_SESSION_MODELS))
    if result.model is not None:
        settings = result.live.settings
        provenance = training_provenance(
            view.config,
            dataset=settings.dataset,
            data_source="shipped",
            steps=view.step,
            seconds=view.elapsed,
            made_by="aigc Train live page",
            status=str(view.status),
        )
        model = result.model
        st.download_button(
            tr(TEXT, "download"),
            data=lambda: to_bytes(model, provenance),
            file_name=f"my_{settings.kind}_{settings.dataset}.safetensors",
            mime="application/octet-stream",
            on_click="ignore",
            key="train_download",
        )
    _show_run(view, result.live, scrub=True, key=f"timeline_{view.run_id}")


def _show_run(view: RunView, live: LiveRun, *, scrub: bool, key: str) -> None:
    snapshots = view.snapshots
    shown = snapshots[-1] if snapshots else None
    if scrub and len(snapshots) > 1:
        steps = [s.step for s in snapshots]
        names = {s: tr(TEXT, "timeline_step", step=s) for s in steps}
        step = st.select_slider(
            tr(TEXT, "timeline"), steps, value=steps[-1], format_func=names.get, key=key
        )
        shown = snapshots[steps.index(step)]
    elif not scrub:
        st.caption(tr(TEXT, "timeline_hint"))
    _metrics(view, live, shown)
    left, right = st.columns([1, 1])
    with left:
        if shown is None:
            st.caption(tr(TEXT, "no_snapshot"))
        else:
            picture = imaging.upscale(imaging.grid(shown.samples, cols=10), GRID_SCALE)
            caption = tr(TEXT, "grid_caption", step=shown.step)
            if live.settings.conditional:
                names = ", ".join(data.CLASS_NAMES[live.settings.dataset])
                caption += " " + tr(TEXT, "rows", names=names)
            st.image(picture, caption=caption)
    with right:
        _curves(view, live.settings.kind)


def _metrics(view: RunView, live: LiveRun, shown: runs.Snapshot | None) -> None:
    cols = st.columns(5)
    cols[0].metric(tr(TEXT, "step"), f"{view.step:,}")
    cols[1].metric(tr(TEXT, "images_per_s"), f"{view.images_per_s:,.0f}")
    cols[2].metric(tr(TEXT, "elapsed"), f"{view.elapsed:.1f} s")
    cols[3].metric(tr(TEXT, "eta"), "—" if view.eta_s is None else f"{view.eta_s:.0f} s")
    scores = [s.score for s in view.snapshots if s.score is not None]
    if shown is not None and shown.score is not None:
        cols[4].metric(
            tr(TEXT, "recognisable"),
            f"{shown.score:.0%}",
            help=tr(TEXT, "recognisable_help", dataset=live.settings.dataset),
            chart_data=scores,
        )
    else:
        if not live.settings.conditional:
            why = "unconditional"
        elif not live.scored:
            why = "no_classifier"
        else:
            why = "no_snapshot"
        cols[4].metric(tr(TEXT, "recognisable"), "—", help=tr(TEXT, why))


def _curves(view: RunView, kind: str) -> None:
    if not view.curve:
        return
    charts: dict[str, dict[str, list[float]]] = {}
    for chart, key, name in CURVES[kind]:
        series = charts.setdefault(chart, {tr(TEXT, "step"): [p.step for p in view.curve]})
        series[tr(TEXT, name)] = [p.losses[key] for p in view.curve]
    for chart, series in charts.items():
        st.caption(tr(TEXT, chart))
        st.line_chart(series, x=tr(TEXT, "step"), height=220)


def page() -> None:
    st.title(tr(TEXT, "title"))
    st.caption(tr(TEXT, "intro"))
    live = st.session_state.get(LIVE)
    settings = settings_ui(disabled=live is not None)
    buttons = st.columns(6)
    # A plain button, not a callback: callback args are bound when the button is drawn, and a
    # value changed just before the click would be missed.
    if buttons[0].button(
        tr(TEXT, "start"), type="primary", disabled=live is not None, key="train_start"
    ):
        _start(settings)
        st.rerun()
    buttons[1].button(tr(TEXT, "reset"), on_click=_reset, key="train_reset")
    notice = st.session_state.pop(NOTICE, None)
    if notice:
        st.warning(notice)
    if live is not None:
        st.fragment(_live_panel, run_every=REFRESH_S)()
    elif RESULT in st.session_state:
        _result_panel(st.session_state[RESULT])
