"""Ratings: a star widget to put beside a generated image, and the Feedback page listing them.

Comments are shown only through ``st.dataframe``, which draws every cell as plain text, so a
comment holding HTML or script is displayed, never run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import streamlit as st

from aigc import feedback_store
from aigc.ui.i18n import tr

TABLE_LIMIT = 500

SHOWN_COLUMNS = ("time", "page", "model", "dataset", "label", "seed", "scale", "rating", "comment")


@dataclass(frozen=True)
class Rated:
    """What a rating is about: stored beside the stars, so the image can be found again."""

    page: str
    model: str  # the model's label among the pickers' options
    dataset: str
    label: int | None
    seed: int | None
    latent: Sequence[float] | None
    link: str  # reopens exactly this image


def rate_ui(key: str, rated: Rated, png: bytes | None = None) -> bool:
    """Stars, an optional comment and a send button for one generated image, inside an
    expander that draws its form only while open (a form's five elements would otherwise cost
    every slider move).

    Args:
        key: unique on the page (e.g. "ex_rate"): it names the expander, form and widgets.
        rated: what is being rated.
        png: a thumbnail of it, where the view shows more than the one image.

    Returns:
        True on the run in which a rating was saved.
    """
    box = st.expander(tr("feedback.rate"), key=f"{key}_open", on_change="rerun")
    if not box.open:
        return False
    with box, st.form(key, clear_on_submit=True, border=False):
        if png is not None:
            st.image(png, output_format="PNG", width=84)
        stars = st.feedback("stars", key=f"{key}_stars")
        comment = st.text_input(
            tr("feedback.comment"), max_chars=feedback_store.MAX_COMMENT_CHARS, key=f"{key}_comment"
        )
        sent = st.form_submit_button(tr("feedback.submit"))
    if not sent:
        return False
    if stars is None:
        st.warning(tr("feedback.pick_stars"))
        return False
    feedback_store.add_rating(
        page=rated.page,
        model=rated.model,
        dataset=rated.dataset,
        label=rated.label,
        seed=rated.seed,
        latent=rated.latent,
        rating=stars + 1,  # st.feedback("stars") returns 0..4
        comment=comment,
        link=rated.link,
    )
    st.toast(tr("feedback.thanks"))
    return True


def page() -> None:
    st.title(tr("pages.feedback"))
    st.caption(tr("feedback.intro"))
    ratings = feedback_store.list_ratings(TABLE_LIMIT)
    if not ratings:
        st.info(tr("feedback.empty"))
        return
    rows = [dataclasses.asdict(r) for r in ratings]
    st.dataframe(
        rows,
        column_order=SHOWN_COLUMNS,
        column_config={
            name: st.column_config.Column(tr(f"feedback.col_{name}")) for name in SHOWN_COLUMNS
        },
        hide_index=True,
    )
    stars = [s for s in feedback_store.summary() if s.scale == "stars"]
    if stars:
        st.subheader(tr("feedback.summary"))
        mean = tr("feedback.mean_stars")
        st.bar_chart(
            {
                tr("feedback.col_model"): [f"{s.model} ({s.dataset}, n={s.count})" for s in stars],
                mean: [s.mean for s in stars],
            },
            x=tr("feedback.col_model"),
            y=mean,
            horizontal=True,
        )
    st.download_button(
        tr("feedback.download"),
        data=feedback_store.to_csv,  # built when clicked, so it holds every rating up to then
        file_name="aigc_ratings.csv",
        mime="text/csv",
        on_click="ignore",
        key="feedback_csv",
    )
