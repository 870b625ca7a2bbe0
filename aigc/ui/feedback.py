"""Ratings: a star widget to put beside a generated image, and the Feedback page listing them.

Comments are shown only through ``st.dataframe``, which draws every cell as plain text, so a
comment holding HTML or script is displayed, never run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import streamlit as st

from aigc import feedback_store
from aigc.ui import classroom, models, room
from aigc.ui.i18n import catalogue, error_text, texts, tr

TABLE_LIMIT = 500
# Widths (px) that fit each column's usual longest text; the comment gets the rest. At 1280 px
# the main pane is ~820 px wide, so the table leaves out what other columns already say: the
# dataset (in the model's name), the seed (in the link), the scale (unless some are thumbs).
# Every column is in the CSV.
COLUMN_WIDTHS = {
    "time": 120,
    "page": 90,
    "model": 230,
    "label": 90,
    "scale": 60,
    "rating": 60,
    "link": 60,
}
SHOWN_COLUMNS = (*COLUMN_WIDTHS, "comment")


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
    room: str | None = None  # the class room's code; by default the session's, if in one


Png = bytes | Callable[[], bytes]  # a picture, or how to encode it when it is wanted


def image_actions_ui(key: str, rated: Rated, png: Png, thumbnail: bool = True) -> None:
    """What a person can do with an image in front of her: rate it and, in a class room,
    send it to the teacher's gallery (both keep its link). A view that redraws often passes
    `png` as a function, so the PNG is made only when the form is open or the image sent."""
    rate_ui(key, rated, png if thumbnail else None)
    classroom.send_ui(png, rated.link, key)


def rate_ui(key: str, rated: Rated, png: Png | None = None) -> bool:
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
            st.image(png() if callable(png) else png, output_format="PNG", width=84)
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
    try:
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
            room=rated.room if rated.room is not None else room.code(),
        )
    except feedback_store.StoreUnavailable as e:
        st.error(error_text(e))
        return False
    st.toast(tr("feedback.thanks"))
    return True


def _page_name(page: str) -> str:
    """A page's own title ("Train live" for "train_live"), or the name as stored."""
    key = f"pages.{page.replace('-', '_')}"
    return tr(key) if key in catalogue("en") else page


def _class_name(dataset: str, label: int | None) -> str | None:
    """The class's name where the dataset is known, else its number."""
    if label is None:
        return None
    key = f"classes.{dataset}"
    names = texts(key) if key in catalogue("en") else ()
    return names[label] if 0 <= label < len(names) else str(label)


def table_rows(ratings: Sequence[feedback_store.Rating]) -> list[dict[str, object]]:
    """Ratings as the table shows them: pages, models and classes by their names in the page's
    language, and only web links as links."""
    return [
        {
            "time": r.time.replace("T", " ")[:16],  # to the minute, in UTC
            "page": _page_name(r.page),
            "model": models.model_title(r.model),
            "label": _class_name(r.dataset, r.label),
            "scale": r.scale,
            "rating": r.rating,
            "comment": r.comment,
            "link": r.link if r.link.startswith(("http://", "https://")) else None,
        }
        for r in ratings
    ]


def _summary_chart(stars: Sequence[feedback_store.ModelSummary]) -> None:
    """Mean stars per model on the whole 1-5 scale, each model named in full (st.bar_chart
    would cut names at 180 px)."""
    model, mean = tr("feedback.col_model"), tr("feedback.mean_stars")
    rows = [{model: f"{models.model_title(s.model)} (n={s.count})", mean: s.mean} for s in stars]
    axis = {"labelLimit": 0, "title": None}
    st.vega_lite_chart(
        rows,
        {
            "mark": {"type": "bar", "tooltip": True},
            "encoding": {
                "y": {"field": model, "type": "nominal", "sort": "-x", "axis": axis},
                "x": {"field": mean, "type": "quantitative", "scale": {"domain": [0, 5]}},
            },
        },
        width="stretch",
    )


def page() -> None:
    st.title(tr("pages.feedback"))
    st.caption(tr("feedback.intro"))
    try:
        ratings = feedback_store.list_ratings(TABLE_LIMIT)
    except feedback_store.StoreUnavailable as e:
        st.error(error_text(e))
        return
    if not ratings:
        st.info(tr("feedback.empty"))
        return
    config = {
        name: st.column_config.Column(tr(f"feedback.col_{name}"), width=width)
        for name, width in COLUMN_WIDTHS.items()
    }
    config["comment"] = st.column_config.Column(tr("feedback.col_comment"))
    config["link"] = st.column_config.LinkColumn(
        tr("feedback.col_link"), display_text=tr("feedback.open"), width=COLUMN_WIDTHS["link"]
    )
    thumbs = any(r.scale != "stars" for r in ratings)
    st.dataframe(
        table_rows(ratings),
        column_order=[c for c in SHOWN_COLUMNS if c != "scale" or thumbs],
        column_config=config,
        hide_index=True,
        width="stretch",
        placeholder="",  # a rating without a class shows nothing, not "None"
    )
    stars = [s for s in feedback_store.summary() if s.scale == "stars"]
    if stars:
        st.subheader(tr("feedback.summary"))
        _summary_chart(stars)
    st.download_button(
        tr("feedback.download"),
        data=feedback_store.csv_file,  # built when clicked, so it holds every rating up to then
        file_name="aigc_ratings.csv",
        mime="text/csv",
        on_click="ignore",
        key="feedback_csv",
    )
