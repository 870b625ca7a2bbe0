"""Pieces the pages share: the model picker, the seed and class inputs, and the image
readouts. They draw widgets and return plain values; the pictures come from `pictures`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import streamlit as st

from aigc.data import DATASETS, OWN_IMAGES
from aigc.render import MAX_SEED, Frame
from aigc.ui import models
from aigc.ui.i18n import texts, tr


def class_names(dataset: str) -> tuple[str, ...]:
    """The dataset's class names in the session's language (looked up once per call: widgets
    format every option on every rerun)."""
    return texts(f"classes.{dataset}")


def model_class_names(model: models.Model, dataset: str) -> tuple[str, ...]:
    """What `model`'s labels are called: the own set's names it learnt, else its dataset's."""
    return models.own_class_names(model) or class_names(dataset)


def keep_choice(key: str, options: Sequence, default: object) -> None:
    """Pin a choice widget's value to one of `options` before the widget is drawn.

    Streamlit sends a choice back as its formatted text and maps it through the new run's
    format_func. When those texts change (another dataset's class names, the other language)
    the old text matches nothing and the widget hands back the raw string ("8" where an int
    was expected). Setting the value through the Session State API makes it win over the
    stale text; a value that is no longer an option gives way to `default`.
    """
    ss = st.session_state
    if key in ss:
        ss[key] = ss[key] if ss[key] in options else default


def labelled(options: Sequence, label: Callable[[object], str]) -> Callable[[object], str]:
    """A format_func with every option's text looked up now, in this run's language: Streamlit
    (and AppTest) may call a format_func after the run, when the session's language is out of
    reach."""
    return {option: label(option) for option in options}.__getitem__


def segments_ui(
    label: str,
    options: Sequence[str],
    key: str,
    text: Callable[[str], str],
    help: str | None = None,
) -> str:
    """A required segmented control whose value stays one of `options` (the first, when the
    session's is not among them any more) and whose labels are looked up in this run."""
    keep_choice(key, options, options[0])
    return st.segmented_control(
        label,
        options,
        format_func=labelled(options, text),
        key=key,
        required=True,
        persist_state="session",
        help=help,
    )


# --- widgets ------------------------------------------------------------------------------

PRIORS = ("fitted", "normal")  # a VAE's seeds: from its fitted prior (aigc.prior) or N(0, I)


def prior_ui(key: str) -> str:
    """Where a VAE's seeds land: its fitted prior (the default) or N(0, I), the lesson in
    the help."""
    return segments_ui(
        tr("explore.prior"), PRIORS, key, lambda p: tr(f"explore.prior_{p}"),
        help=tr("explore.prior_help"),
    )  # fmt: skip


def model_picker_ui(
    prefix: str, kinds: tuple[str, ...], own: bool = False
) -> tuple[str, str, str | None]:
    """Kind, dataset and weights pickers in one row; returns (kind, dataset, model label or
    None). With `own`, the page also shows models trained on the session's own set."""
    cols = st.columns([1, 2, 3], vertical_alignment="bottom")
    with cols[0]:
        kind = segments_ui(tr("common.model"), kinds, f"{prefix}_kind", str.upper)
    with cols[1]:
        dataset = dataset_ui(f"{prefix}_data", own)
    with cols[2]:
        label = model_select_ui(f"{prefix}_model", models.available_models(kind, dataset))
    if label is None:
        st.info(tr("widgets.no_models", kind=kind.upper(), dataset=models.dataset_name(dataset)))
    return kind, dataset, label


def dataset_ui(key: str, own: bool = False) -> str:
    """The shipped datasets, and with `own` "your own images" once the session trained on
    its own set."""
    options = DATASETS + ((OWN_IMAGES,) if own and models.has_own_models() else ())
    return segments_ui(tr("common.dataset"), options, key, models.dataset_name)


def model_select_ui(key: str, options: list[str]) -> str | None:
    """A weights selectbox over `options`. A label that is not among them (the kind or dataset
    changed, or a link names a model this session lacks) gives way to the first option; a
    linked one with a notice (`link_model` marks it)."""
    if not options:
        return None
    wanted = st.session_state.get(key)
    linked = st.session_state.pop(f"{key}_linked", False)
    if wanted not in options and linked:
        st.toast(tr("widgets.unavailable", label=wanted, used=models.model_title(options[0])))
    keep_choice(key, options, options[0])
    return st.selectbox(
        tr("common.weights"),
        options,
        format_func=labelled(options, models.model_title),
        key=key,
        persist_state="session",
    )


def link_model(key: str, label: str) -> None:
    """Select the model a link names; `model_select_ui` says so if it is not available."""
    st.session_state[key] = label
    st.session_state[f"{key}_linked"] = True


def _roll(key: str) -> None:
    st.session_state[key] = random.randrange(MAX_SEED)


def seed_ui(key: str) -> int:
    """A seed box with a 🎲 button beside it."""
    box, dice = st.columns([4, 1], vertical_alignment="bottom")
    with dice:
        st.button("🎲", key=f"{key}_dice", help=tr("widgets.dice"), on_click=_roll, args=(key,))
    with box:
        return int(
            st.number_input(
                tr("common.seed"),
                min_value=0,
                max_value=MAX_SEED,
                step=1,
                key=key,
                help=tr("common.seed_help"),
                persist_state="session",
            )
        )


def class_ui(
    key: str,
    dataset: str,
    count: int = 10,
    label: str | None = None,
    names: Sequence[str] | None = None,
) -> int:
    """Class pills; `count` is the model's number of classes (an uploaded model may have
    fewer than the dataset), `names` its own where they are not the dataset's."""
    keep_choice(key, range(count), 0)
    return st.pills(
        label or tr("common.class"),
        range(count),
        format_func=(names or class_names(dataset)).__getitem__,
        key=key,
        required=True,
        wrap=True,
        persist_state="session",
    )


def image_ui(png: bytes) -> None:
    """A PNG shown at its own pixel size: no browser or server rescaling, so no blur."""
    st.image(png, output_format="PNG", width="content")


def readout_ui(frame: Frame, dataset: str) -> None:
    """The classifier's verdict (in the dataset's classes: the classifier's own) and, for
    GANs, the discriminator's, beside an image: one element, since every element costs each
    slider move a message."""
    lines = []
    if frame.label is not None:
        name = class_names(dataset)[frame.label]
        lines.append(tr("widgets.says", name=name, p=frame.confidence))
    if frame.realness is not None:
        lines.append(tr("widgets.real", p=frame.realness))
    if lines:
        st.markdown("  \n".join(lines), help=tr("widgets.readout_help"))
