"""Train live: a GAN or VAE learns on the server while the page watches it.

The run itself lives in the server-wide :class:`aigc.runs.RunManager` (a background thread,
under the server's cap); this page only starts it, polls it twice a second from a fragment
and draws what it sees. When the run ends, the session gets its own copy of the model.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
from dataclasses import dataclass

import streamlit as st

from aigc import data, image_folder, imaging, metrics, recipes, render, run_share, runs
from aigc.checkpoint import WeightsError, to_bytes, training_provenance
from aigc.errors import InputError
from aigc.imaging import DIGIT_PREPROCESSING
from aigc.models import Classifier
from aigc.runs import RunManager, RunView, Status
from aigc.ui import feedback, models, own_data, room, state, widgets
from aigc.ui.i18n import error_text, texts, tr
from aigc.weights import load_shipped

PAGE = "train_live"  # as ratings name it
REFRESH_S = 0.5
SIDEBAR_REFRESH_S = 5.0  # well inside the manager's 60 s lease
LEARNING_RATES = (1e-4, 3e-4, 1e-3, 3e-3, 1.2e-2, 3e-2)  # holds each recipe's own
BATCH_SIZES = (32, 64, 128, 256)
MAX_SECONDS = 300  # a slot is shared by the whole server: no run holds it for long
DEFAULT_SECONDS = 20
MAX_STEPS = 20_000
GRID_SCALE = 2
KIND_NAMES = {"gan": "GAN", "vae": "VAE"}
LIVE = "train_live"  # session_state: the LiveRun being watched
RESULT = "train_result"  # session_state: the Result of the last run that ended
NOTICE = "train_notice"  # session_state: a one-off message for the next render


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
    classes: tuple[str, ...] = ()  # the class names of a user's own set; a shipped one's are texts
    own_set: data.ImageSet | None = None  # the own set it learns, in the session that started it


@dataclass(frozen=True)
class Result:
    view: RunView  # the run's last state: status, curves and the whole timeline
    live: LiveRun
    model: render.Model | None  # None if the run left no usable model
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


def _scorer(images: data.ImageSet) -> runs.Scorer | None:
    """The shipped classifier of the set's dataset; for a user's own set, the MNIST one where
    every class is named for a digit ("3", "7"), which it then scores as that digit."""
    dataset, digits = images.name, None
    if dataset == data.OWN_IMAGES:
        names = images.class_names
        if not all(len(n) == 1 and n.isdigit() for n in names):
            return None
        dataset, digits = "mnist", [int(n) for n in names]
    try:
        return metrics.agreement_scorer(shipped_classifier(dataset), digits)
    except WeightsError:  # not trained yet; not cached, so the next run tries again
        return None


def settings_ui(disabled: bool) -> Settings:
    col_a, col_b = st.columns(2)
    with col_a:
        kind, dataset, conditional = _model_ui(disabled)
    with col_b:
        lr, batch_size = _optimiser_ui(kind, disabled)
        by, amount = _budget_ui(disabled)
    return Settings(
        kind=kind,
        dataset=dataset,
        conditional=conditional,
        lr=lr,
        batch_size=batch_size,
        seconds=float(amount) if by == "seconds" else None,
        steps=int(amount) if by == "steps" else None,
    )


def _model_ui(disabled: bool) -> tuple[str, str, bool]:
    # Labels are looked up now: a format_func may be called outside this script run.
    names = {key: tr(f"train_live.{key}") for key in data.DATASETS}
    own = own_data.own_images()
    datasets = data.DATASETS + ((data.OWN_IMAGES,) if len(own) else ())
    names[data.OWN_IMAGES] = tr("train_live.own_set", n=len(own), k=len(own.class_names))
    widgets.keep_choice("train_kind", tuple(KIND_NAMES), "gan")
    kind = st.radio(
        tr("common.model"),
        list(KIND_NAMES),
        format_func=KIND_NAMES.get,
        horizontal=True,
        disabled=disabled,
        key="train_kind",
    )
    widgets.keep_choice("train_dataset", datasets, data.DATASETS[0])
    dataset = st.selectbox(
        tr("common.dataset"),
        datasets,
        format_func=names.get,
        disabled=disabled,
        key="train_dataset",
    )
    conditional = st.toggle(
        tr("train_live.conditional"),
        value=True,
        help=tr("train_live.conditional_help"),
        disabled=disabled,
        key="train_conditional",
    )
    return kind, dataset, conditional


def _optimiser_ui(kind: str, disabled: bool) -> tuple[float, int]:
    """Keys per kind: switching GAN <-> VAE brings back that kind's own recipe defaults."""
    recipe = recipes.live_train_config(kind)
    lr = st.select_slider(
        tr("train_live.lr"),
        LEARNING_RATES,
        value=recipe.lr,
        format_func=lambda v: f"{v:g}",
        disabled=disabled,
        key=f"train_lr_{kind}",
    )
    batch_size = st.select_slider(
        tr("train_live.batch"),
        BATCH_SIZES,
        value=recipe.batch_size,
        disabled=disabled,
        key=f"train_batch_{kind}",
    )
    return lr, batch_size


def _budget_ui(disabled: bool) -> tuple[str, int]:
    names = {b: tr(f"train_live.by_{b}") for b in ("seconds", "steps")}
    widgets.keep_choice("train_budget", tuple(names), "seconds")
    by = st.radio(
        tr("train_live.budget"),
        tuple(names),
        format_func=names.get,
        horizontal=True,
        disabled=disabled,
        key="train_budget",
    )
    if by == "seconds":
        amount = st.number_input(
            tr("train_live.seconds"),
            1,
            MAX_SECONDS,
            DEFAULT_SECONDS,
            disabled=disabled,
            key="train_seconds",
        )
    else:
        amount = st.number_input(
            tr("train_live.steps"),
            10,
            MAX_STEPS,
            500,
            step=50,
            disabled=disabled,
            key="train_steps",
        )
    return by, amount


# -- actions ------------------------------------------------------------------------------


def _start(settings: Settings) -> None:
    _release_live()
    st.session_state.pop(RESULT, None)
    own = settings.dataset == data.OWN_IMAGES
    images = own_data.own_images() if own else data.load_shipped(settings.dataset)
    if own:
        try:
            image_folder.check_trainable(images, settings.conditional)
        except InputError as error:
            st.session_state[NOTICE] = error_text(error)
            return
    scorer = _scorer(images)
    run_id = recipes.submit_live(
        run_manager(),
        settings.kind,
        images,
        conditional=settings.conditional,
        scorer=scorer,
        lr=settings.lr,
        batch_size=settings.batch_size,
        seconds=settings.seconds,
        steps=settings.steps,
    )
    classes = images.class_names if own else ()
    st.session_state[LIVE] = LiveRun(
        run_id,
        settings,
        scored=scorer is not None,
        classes=classes,
        own_set=images if own else None,
    )


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
        if live.own_set is not None:  # Explore encodes and names by the set it learnt
            models.remember_own_set(model, live.own_set)
        if len(own) < models.MAX_SESSION_MODELS:  # else it can still be downloaded
            label = _unique_label(live.settings, own)
            own[label] = model
    st.session_state[RESULT] = Result(view, live, model, label)
    _release_live()


def _unique_label(settings: Settings, taken: dict) -> str:
    base = tr(
        "train_live.my_model",
        kind=KIND_NAMES[settings.kind],
        dataset=models.dataset_name(settings.dataset),
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
        st.session_state[NOTICE] = tr("train_live.expired")
        st.rerun()
    progress = (view.status, view.snapshots[-1].step if view.snapshots else 0)
    room.share_run(live.run_id, progress, lambda: run_share.shared_copy(view))
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
    """One line about the run. It looks ten times less often than the main pane, so it says
    how far the run had got when it looked ("at least N steps"), which never contradicts the
    main pane's newer step."""
    polled = _poll()
    if polled is None:
        return
    view = polled[1]
    if view.status is Status.QUEUED:
        st.caption(tr("train_live.sidebar_queued", position=view.queue_position))
    elif view.status is Status.PAUSED:
        st.caption(tr("train_live.sidebar_paused"))
    else:
        st.caption(tr("train_live.sidebar_running", step=view.step))


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
            tr(f"train_live.{action}"),
            on_click=_steer,
            args=(action, live.run_id),
            key=f"train_{action}",
        )
    if view.status is Status.QUEUED:
        if view.wait_s is None:
            st.info(tr("train_live.queued", position=view.queue_position))
        else:
            st.info(tr("train_live.queued_wait", position=view.queue_position, seconds=view.wait_s))
        return
    if view.status is Status.PAUSED:
        st.warning(tr("train_live.paused", step=view.step))
    elif view.step == 0:
        st.info(tr("train_live.starting"))
    else:
        done = view.elapsed / (view.elapsed + view.eta_s) if view.eta_s is not None else 0.0
        st.progress(min(1.0, done), text=tr("train_live.running", step=view.step))
    _show_run(
        view, live, None, scrub=view.status is Status.PAUSED, key=f"timeline_live_{live.run_id}"
    )


def _result_panel(result: Result) -> None:
    view = result.view
    if view.status is Status.FINISHED:
        st.success(tr("train_live.finished", step=view.step, seconds=view.elapsed))
    elif view.status is Status.STOPPED:
        st.info(tr("train_live.stopped", step=view.step, seconds=view.elapsed))
    elif view.status is Status.DIVERGED:
        d = view.divergence
        why = tr(f"train_live.divergence_{d.source}", name=d.name, value=d.value, step=d.step)
        st.error(tr("train_live.diverged", reason=why))
    else:
        st.error(tr("train_live.failed", reason=view.error))
    if result.label is not None:
        st.markdown(tr("train_live.saved", label=result.label))
    elif result.model is not None:
        st.warning(tr("train_live.session_full", n=models.MAX_SESSION_MODELS))
    if result.model is not None:
        settings = result.live.settings
        own = {
            "data_source": "own set",
            "class_names": list(result.live.classes),
            "preprocessing": DIGIT_PREPROCESSING,
        }
        provenance = training_provenance(
            view.config,
            dataset=settings.dataset,
            **(own if result.live.classes else {"data_source": "shipped"}),
            steps=view.step,
            seconds=view.elapsed,
            made_by="aigc Train live page",
            status=str(view.status),
        )
        model = result.model
        st.download_button(
            tr("train_live.download"),
            data=lambda: to_bytes(model, provenance),
            file_name=f"my_{settings.kind}_{settings.dataset}.safetensors",
            mime="application/octet-stream",
            on_click="ignore",
            key="train_download",
        )
    _show_run(view, result.live, result.label, scrub=True, key=f"timeline_{view.run_id}")


def _show_run(view: RunView, live: LiveRun, label: str | None, *, scrub: bool, key: str) -> None:
    """The timeline, the numbers, the grid of one snapshot with its rating, and the curves.

    Args:
        label: the run's model among the session's models, once it is one.
    """
    snapshots = view.snapshots
    shown = snapshots[-1] if snapshots else None
    if scrub and len(snapshots) > 1:
        steps = [s.step for s in snapshots]
        names = {s: tr("train_live.timeline_step", step=s) for s in steps}
        step = st.select_slider(
            tr("train_live.timeline"), steps, value=steps[-1], format_func=names.get, key=key
        )
        shown = snapshots[steps.index(step)]
    elif not scrub:
        st.caption(tr("train_live.timeline_hint"))
    _metrics(view, live, shown)
    left, right = st.columns([1, 1])
    with left:
        if shown is None:
            st.caption(tr("train_live.no_snapshot"))
        else:
            picture = imaging.upscale(imaging.grid(shown.samples, cols=10), GRID_SCALE)
            caption = tr("train_live.grid_caption", step=shown.step)
            if live.settings.conditional:
                names = ", ".join(live.classes or texts(f"classes.{live.settings.dataset}"))
                caption += " " + tr("train_live.rows", names=names)
            st.image(picture, caption=caption)
            png = functools.partial(imaging.png_bytes, picture)  # made only when wanted
            feedback.image_actions_ui("train_rate", _rated(live, label), png)
    with right:
        _curves(view, live.settings.kind)


def _rated(live: LiveRun, label: str | None) -> feedback.Rated:
    """A snapshot as a rating names it: the session model it became, else what it is."""
    settings = live.settings
    model = label or tr(
        "train_live.run_model",
        kind=KIND_NAMES[settings.kind],
        dataset=models.dataset_name(settings.dataset),
    )
    return feedback.Rated(
        page=PAGE,
        model=model,
        dataset=settings.dataset,
        label=None,  # a grid holds every class
        seed=None,
        latent=None,
        link=state.link(st.context.url, state.share_query({}, {})),  # this page, in its language
    )


def _metrics(view: RunView, live: LiveRun, shown: runs.Snapshot | None) -> None:
    """Step, speed and time of the snapshot shown (the run's own until there is one), so the
    numbers and the grid always agree; time left is the run's."""
    step, speed, elapsed = (
        (view.step, view.images_per_s, view.elapsed)
        if shown is None
        else (shown.step, shown.images_per_s, shown.elapsed)
    )
    cols = st.columns(5)
    cols[0].metric(tr("train_live.step"), f"{step:,}", help=tr("train_live.step_help"))
    cols[1].metric(tr("train_live.images_per_s"), f"{speed:,.0f}")
    cols[2].metric(tr("train_live.elapsed"), f"{elapsed:.1f} s")
    cols[3].metric(tr("train_live.eta"), "—" if view.eta_s is None else f"{view.eta_s:.0f} s")
    scores = [s.score for s in view.snapshots if s.score is not None]
    if shown is not None and shown.score is not None:
        cols[4].metric(
            tr("train_live.recognisable"),
            f"{shown.score:.0%}",
            help=tr(
                "train_live.recognisable_help",
                dataset="mnist" if live.classes else live.settings.dataset,
            ),
            chart_data=scores,
        )
    else:
        if not live.settings.conditional:
            why = "unconditional"
        elif not live.scored:
            why = "own_unscored" if live.classes else "no_classifier"
        else:
            why = "no_snapshot"
        cols[4].metric(tr("train_live.recognisable"), "—", help=tr(f"train_live.{why}"))


def _curves(view: RunView, kind: str) -> None:
    if not view.curve:
        return
    charts: dict[str, dict[str, list[float]]] = {}
    for chart, key, name in CURVES[kind]:
        series = charts.setdefault(chart, {tr("train_live.step"): [p.step for p in view.curve]})
        series[tr(f"train_live.{name}")] = [p.losses[key] for p in view.curve]
    for chart, series in charts.items():
        st.caption(tr(f"train_live.{chart}"))
        st.line_chart(series, x=tr("train_live.step"), height=220)


def room_view() -> tuple[dict[str, str], str | None]:
    """What the class sees of this page when its teacher is here: her live run's settings
    (as text, the room's view holds text) and the run to watch."""
    live: LiveRun | None = st.session_state.get(LIVE)
    if live is None:
        return {}, None
    s = live.settings
    view = {"kind": s.kind, "data": s.dataset, "cond": str(int(s.conditional))}
    if live.classes:
        view["classes"] = json.dumps(live.classes)
    return view, live.run_id


def _watched(query: dict[str, str], run_id: str) -> LiveRun:
    """The teacher's run as a follower knows it: from the room's view, not from her session."""
    settings = Settings(
        kind=query.get("kind", "gan"),
        dataset=query.get("data", "mnist"),
        conditional=query.get("cond") == "1",
        lr=0.0,
        batch_size=0,
        seconds=None,
        steps=None,
    )
    return LiveRun(run_id, settings, scored=True, classes=_class_names(query.get("classes")))


def _class_names(text: str | None) -> tuple[str, ...]:
    """A teacher's own set's class names as the room's view holds them (JSON), if they read
    as a list of short names; a view that does not is shown without names."""
    try:
        names = json.loads(text or "[]")
    except ValueError:
        return ()
    ok = isinstance(names, list) and all(
        isinstance(n, str) and len(n) <= data.MAX_CLASS_NAME_CHARS for n in names
    )
    return tuple(names) if ok and len(names) <= image_folder.MAX_CLASSES else ()


def _watch_panel(live: LiveRun) -> None:
    """One run, the whole class watching: a follower polls the teacher's run, read-only."""
    try:
        view = run_manager().view(live.run_id)
    except runs.UnknownRun:  # it trains on another server, or has ended
        try:
            view = run_share.from_shared(room.shared_run(live.run_id) or b"")
        except ValueError:  # nothing shared (yet), or not a record this version can read
            st.info(tr("train_live.watch_gone"))
            return
    st.info(tr("train_live.watching", step=view.step))
    _show_run(view, live, None, scrub=view.ended, key=f"timeline_watch_{live.run_id}")


def page() -> None:
    st.title(tr("pages.train_live"))
    st.caption(tr("train_live.intro"))
    live = st.session_state.get(LIVE)
    watched = room.teachers_run()
    if live is None and watched is not None:
        st.fragment(_watch_panel, run_every=REFRESH_S)(_watched(*watched))
    settings = settings_ui(disabled=live is not None)
    buttons = st.columns(6)
    # A plain button, not a callback: callback args are bound when the button is drawn, and a
    # value changed just before the click would be missed.
    if buttons[0].button(
        tr("train_live.start"), type="primary", disabled=live is not None, key="train_start"
    ):
        _start(settings)
        st.rerun()
    buttons[1].button(tr("train_live.reset"), on_click=_reset, key="train_reset")
    notice = st.session_state.pop(NOTICE, None)
    if notice:
        st.warning(notice)
    if live is not None:
        st.fragment(_live_panel, run_every=REFRESH_S)()
    elif RESULT in st.session_state:
        _result_panel(st.session_state[RESULT])
