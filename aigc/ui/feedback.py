"""Ratings: a star widget to put beside a generated image, and the Feedback page listing them.

Comments are shown only through ``st.dataframe``, which draws every cell as plain text, so a
comment holding HTML or script is displayed, never run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import streamlit as st

from aigc import feedback_store
from aigc.ui.i18n import tr

TABLE_LIMIT = 500

TEXT = {
    "title": {"en": "Feedback", "zh": "反馈"},
    "intro": {
        "en": "Ratings people gave generated images, newest first.",
        "zh": "大家对生成图像的评分，最新的在前。",
    },
    "rate": {"en": "Rate this image", "zh": "给这张图像评分"},
    "comment": {"en": "Comment (optional)", "zh": "评论（可选）"},
    "submit": {"en": "Send rating", "zh": "提交评分"},
    "pick_stars": {"en": "Pick 1 to 5 stars first.", "zh": "请先选择 1 到 5 颗星。"},
    "thanks": {"en": "Thanks: your rating is saved.", "zh": "谢谢：你的评分已保存。"},
    "empty": {"en": "No ratings yet.", "zh": "还没有评分。"},
    "summary": {"en": "Average stars per model", "zh": "各模型的平均星数"},
    "download": {"en": "Download all ratings (CSV)", "zh": "下载全部评分（CSV）"},
    "col_time": {"en": "time (UTC)", "zh": "时间（UTC）"},
    "col_page": {"en": "page", "zh": "页面"},
    "col_model": {"en": "model", "zh": "模型"},
    "col_dataset": {"en": "dataset", "zh": "数据集"},
    "col_label": {"en": "class", "zh": "类别"},
    "col_seed": {"en": "seed", "zh": "种子"},
    "col_scale": {"en": "scale", "zh": "评分方式"},
    "col_rating": {"en": "rating", "zh": "评分"},
    "col_comment": {"en": "comment", "zh": "评论"},
    "mean_stars": {"en": "mean stars", "zh": "平均星数"},
}
SHOWN_COLUMNS = ("time", "page", "model", "dataset", "label", "seed", "scale", "rating", "comment")


def rate_ui(
    key: str,
    *,
    page: str,
    model: str,
    dataset: str,
    label: int | None,
    seed: int | None,
    latent: Iterable[float] | None,
) -> bool:
    """Stars, an optional comment and a send button for one generated image.

    Args:
        key: unique on the page (e.g. "explore_rating"): it names the form and its widgets.
        page, model, dataset, label, seed, latent: what is being rated, stored with the stars.

    Returns:
        True on the run in which a rating was saved.
    """
    with st.form(key, clear_on_submit=True, border=False):
        st.caption(tr(TEXT, "rate"))
        stars = st.feedback("stars", key=f"{key}_stars")
        comment = st.text_input(
            tr(TEXT, "comment"), max_chars=feedback_store.MAX_COMMENT_CHARS, key=f"{key}_comment"
        )
        sent = st.form_submit_button(tr(TEXT, "submit"))
    if not sent:
        return False
    if stars is None:
        st.warning(tr(TEXT, "pick_stars"))
        return False
    feedback_store.add_rating(
        page=page,
        model=model,
        dataset=dataset,
        label=label,
        seed=seed,
        latent=latent,
        rating=stars + 1,  # st.feedback("stars") returns 0..4
        comment=comment,
    )
    st.toast(tr(TEXT, "thanks"))
    return True


def page() -> None:
    st.title(tr(TEXT, "title"))
    st.caption(tr(TEXT, "intro"))
    ratings = feedback_store.list_ratings(TABLE_LIMIT)
    if not ratings:
        st.info(tr(TEXT, "empty"))
        return
    rows = [dataclasses.asdict(r) for r in ratings]
    st.dataframe(
        rows,
        column_order=SHOWN_COLUMNS,
        column_config={
            name: st.column_config.Column(tr(TEXT, f"col_{name}")) for name in SHOWN_COLUMNS
        },
        hide_index=True,
    )
    stars = [s for s in feedback_store.summary() if s.scale == "stars"]
    if stars:
        st.subheader(tr(TEXT, "summary"))
        mean = tr(TEXT, "mean_stars")
        st.bar_chart(
            {
                tr(TEXT, "col_model"): [f"{s.model} ({s.dataset}, n={s.count})" for s in stars],
                mean: [s.mean for s in stars],
            },
            x=tr(TEXT, "col_model"),
            y=mean,
            horizontal=True,
        )
    st.download_button(
        tr(TEXT, "download"),
        data=feedback_store.to_csv,  # built when clicked, so it holds every rating up to then
        file_name="aigc_ratings.csv",
        mime="text/csv",
        on_click="ignore",
        key="feedback_csv",
    )
