"""Review: blind side-by-side comparisons of two to four models that end in a verdict
(`aigc.review`). The address says which view:

- no code: a product person picks the models and what to show, opens the review and gets a
  link to send (and one to keep, to the results);
- ``?review=CODE``: a reviewer votes pair by pair, models hidden, sides shuffled; the running
  result only once finished;
- ``?review=CODE&owner=SECRET``: the verdict as it comes in, with the comments beside their
  pictures, and the votes to export.

The pictures are made once, when the review opens (`aigc.review_pictures`): a reviewer's
browser is sent pictures and nothing of the models.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets

import streamlit as st

from aigc import review, review_pictures, verdict
from aigc.checkpoint import kind_of, to_bytes
from aigc.data import DATASETS
from aigc.errors import InputError
from aigc.render import MAX_SEED
from aigc.review import Entry, ReviewError
from aigc.store import StoreUnavailable
from aigc.ui import classroom, models, pictures, state, widgets
from aigc.ui.i18n import error_text, tr

OPENED = "rv_opened"  # session state: {code: owner secret} of the reviews this session opened
REVIEWER = "rv_reviewer"  # session state: {code: reviewer id} of the reviews it reviews
MAX_SEEDS = {"samples": 50, "interpolations": 15}


def page() -> None:
    st.title(tr("pages.review"))
    code, secret = st.query_params.get("review"), st.query_params.get("owner")
    try:
        if code and secret:
            _results_view(code, secret)
        elif code:
            _reviewer_view(code)
        else:
            _setup_view()
    except (ReviewError, StoreUnavailable) as error:
        st.error(error_text(error))


# -- setting a review up -----------------------------------------------------------------------


def _setup_view() -> None:
    st.caption(tr("review.intro"))
    st.session_state.setdefault("rv_data", DATASETS[0])
    st.session_state.setdefault("rv_show", review.SHOWS[0])
    dataset = widgets.dataset_ui("rv_data")
    labels = models.available_models("gan", dataset) + models.available_models("vae", dataset)
    chosen = st.multiselect(
        tr("review.models"), labels, default=labels[:2], format_func=models.model_title,
        max_selections=review.MAX_ENTRIES, key=f"rv_models_{dataset}",
        help=tr("review.models_help"),
    )  # fmt: skip
    show = widgets.segments_ui(
        tr("review.show"), review.SHOWS, "rv_show", lambda s: tr(f"review.show_{s}")
    )
    names = widgets.class_names(dataset)
    every = -1
    cls = st.selectbox(
        tr("review.class"), [every, *range(len(names))],
        format_func=lambda c: tr("review.every_class") if c == every else names[c],
        key=f"rv_class_{dataset}", help=tr("review.class_help"),
    )  # fmt: skip
    seeds = st.slider(tr("review.seeds"), 2, MAX_SEEDS[show], 10, key=f"rv_seeds_{show}")
    title = st.text_input(tr("review.title"), max_chars=review.MAX_TITLE_CHARS, key="rv_title")
    pairs = len(chosen) * (len(chosen) - 1) // 2
    st.caption(tr("review.size", pairs=pairs * seeds, models=len(chosen), seeds=seeds))
    if st.button(
        tr("review.open"), type="primary", disabled=len(chosen) < 2, key="rv_open"
    ):  # a plain button: the choices above are read as they are at the click
        with st.spinner(tr("review.making")):
            _open(title, dataset, chosen, show, None if cls == every else cls, seeds)
    _opened_ui()


def _entry(label: str, dataset: str) -> Entry:
    """A model as a review names it: shipped ones by name, a session's by its weights' digest."""
    model = models.get_model(label)
    shipped = label if label in models.SHIPPED else None
    digest = None if shipped else hashlib.sha256(to_bytes(model)).hexdigest()
    return Entry(models.model_title(label), kind_of(model), dataset, shipped, digest)


def _open(title: str, dataset: str, labels: list[str], show: str, cls: int | None, n: int) -> None:
    rng = secrets.SystemRandom()
    seeds = rng.sample(range(MAX_SEED), 2 * n)
    chosen = [models.get_model(label) for label in labels]
    classes = (
        (range(10) if cls is None else [cls]) if any(m.config.num_classes for m in chosen) else ()
    )
    if show == "samples":
        stimuli = review.samples(seeds[:n], classes)
    else:
        stimuli = review.interpolations(list(zip(seeds[:n], seeds[n:], strict=True)), classes)
    fitted = [
        pictures.fitted_prior(m, models.model_key(lb, m), dataset) if kind_of(m) == "vae" else None
        for lb, m in zip(labels, chosen, strict=True)
    ]
    try:
        opened = review.open_review(
            title, [_entry(lb, dataset) for lb in labels], stimuli, show=show
        )
    except (InputError, StoreUnavailable) as error:
        st.error(error_text(error))
        return
    code = opened.review.code
    try:
        review_pictures.make(code, opened.owner_secret, chosen, fitted)
    except (InputError, StoreUnavailable) as error:  # no review is left open without pictures
        with contextlib.suppress(InputError, StoreUnavailable):
            review.close_review(code, opened.owner_secret)
        st.error(error_text(error))
        return
    st.session_state.setdefault(OPENED, {})[code] = opened.owner_secret


def _opened_ui() -> None:
    """The reviews this session opened: the link to send, the QR code, the owner's link."""
    for code, secret in reversed(st.session_state.get(OPENED, {}).items()):
        base = classroom.base_url()
        link = review.review_link(base, code)
        with st.container(border=True):
            st.subheader(tr("review.opened", code=code))
            text, qr = st.columns([3, 1])
            with text:
                st.caption(tr("review.send_link"))
                st.code(link, language=None)
                st.caption(tr("review.owner_link"))
                st.code(review.owner_link(base, code, secret), language=None)
                st.link_button(tr("review.see_results"), review.owner_link(base, code, secret))
            with qr:
                st.image(classroom.qr_png(link), width="content")


# -- a reviewer's view -------------------------------------------------------------------------


def _reviewer_view(code: str) -> None:
    r = review.get_review(code)
    st.subheader(r.title or tr("review.untitled"))
    reviewer = st.session_state.get(REVIEWER, {}).get(r.code)
    if reviewer is None:
        _join_ui(r.code)
        return
    pair = review.next_item(r.code, reviewer)
    if pair is None:
        st.success(tr("review.thanks"))
        _verdict_ui(review.results_for_reviewer(r.code, reviewer), owner=False)
        return
    st.progress(
        (pair.number - 1) / pair.total, text=tr("review.pair", n=pair.number, total=pair.total)
    )
    index = review_pictures.stimulus_index(r, pair.item)
    shown = review_pictures.get_many(r.code, [(pair.left, index), (pair.right, index)])
    with st.container(horizontal=True):  # side by side on a phone too, where columns stack
        for slot, side in ((pair.left, "left"), (pair.right, "right")):
            picture = shown.get((slot, index))
            if picture is None:
                st.warning(tr("review.no_picture"))
            else:
                st.image(picture, caption=tr(f"review.{side}"), width="content")
    _vote_ui(r.code, reviewer, pair.item.item)


def _join_ui(code: str) -> None:
    st.caption(tr("review.join_intro"))
    with st.form("rv_join", border=False):
        name = st.text_input(tr("review.name"), max_chars=review.MAX_NAME_CHARS, key="rv_name")
        if st.form_submit_button(tr("review.start"), type="primary"):
            st.session_state.setdefault(REVIEWER, {})[code] = review.join(code, name)
            st.rerun()


def _vote_ui(code: str, reviewer: str, item: int) -> None:
    comment_key = f"rv_comment_{item}"
    st.text_input(tr("review.comment"), max_chars=review.MAX_COMMENT_CHARS, key=comment_key)
    buttons = st.columns(3)
    for column, choice, shortcut in zip(
        buttons, review.CHOICES, ("Left", "Right", "Down"), strict=True
    ):
        column.button(
            tr(f"review.vote_{choice}"), key=f"rv_vote_{choice}_{item}", shortcut=shortcut,
            on_click=_vote, args=(code, reviewer, item, choice, comment_key),
            use_container_width=True,
        )  # fmt: skip
    st.caption(tr("review.keys"))


def _vote(code: str, reviewer: str, item: int, choice: str, comment_key: str) -> None:
    try:
        review.vote(code, reviewer, item, choice, st.session_state.get(comment_key, ""))
    except ReviewError as error:
        if error.code != "already_voted":  # a double click: the first vote stands, move on
            st.toast(error_text(error), icon="⚠️")
    except StoreUnavailable as error:
        st.toast(error_text(error), icon="⚠️")


# -- the verdict -------------------------------------------------------------------------------


def _results_view(code: str, secret: str) -> None:
    results = review.results(code, secret)
    r = results.review
    st.subheader(r.title or tr("review.untitled"))
    st.caption(tr("review.results_intro", code=r.code))
    st.button(tr("review.refresh"), key="rv_refresh")
    _verdict_ui(results, owner=True)
    _comments_ui(results)
    csv_col, json_col = st.columns(2)
    csv_col.download_button(
        tr("review.export_csv"), data=lambda: review.export_csv(code, secret).encode("utf-8-sig"),
        file_name=f"review_{r.code}.csv", mime="text/csv", on_click="ignore", key="rv_csv",
    )  # fmt: skip
    json_col.download_button(
        tr("review.export_json"), data=lambda: review.export_json(code, secret),
        file_name=f"review_{r.code}.json", mime="application/json", on_click="ignore",
        key="rv_json",
    )  # fmt: skip


def _verdict_ui(results: review.Results, owner: bool) -> None:
    """The verdict; reviewers' names and how each voted only for the owner."""
    v = results.verdict
    st.metric(tr("review.votes"), f"{v.votes}", help=tr("review.votes_help", reviewers=v.reviewers))
    rows = []
    for s in v.standings:
        rate = s.win_rate
        interval = "" if rate.low is None else f"{rate.low:.0%}–{rate.high:.0%}"
        rows.append(
            {
                tr("review.model"): v.labels[s.entry],
                tr("review.win_rate"): f"{rate.value:.0%}",
                tr("review.interval"): interval,
                tr("review.comparisons"): s.votes,
            }
        )
    if rows:
        st.dataframe(rows, hide_index=True)
    for pair in v.pairs:
        st.markdown(_pair_words(pair, v.labels))
    if owner and v.votes_per_reviewer:
        per = ", ".join(
            f"{who} {results.names.get(who, '')}".strip() + f": {n}"
            for who, n in v.votes_per_reviewer.items()
        )
        st.caption(tr("review.per_reviewer", per=per))
    a = v.agreement
    if a.kappa is not None:
        st.caption(tr("review.agreement", items=a.items, observed=a.observed, kappa=a.kappa))


def _pair_words(pair: verdict.Pairwise, labels: tuple[str, ...]) -> str:
    """ "B is preferred to A in 64% of pairs (95% CI 55–72%); that is a clear difference." """
    preferred, other, share = pair.leading()
    if share.low is None:
        ci = tr("review.no_interval")
    else:
        ci = tr("review.interval_words", low=share.low, high=share.high)
    return tr(
        "review.pair_words", preferred=labels[preferred], other=labels[other],
        share=share.value, ci=ci, clear=tr("review.clear" if pair.clear else "review.not_clear"),
    )  # fmt: skip


def reopen_link(entry: Entry, stimulus: review.Stimulus) -> str | None:
    """The page link that draws this picture again (Explore's picture, or Interpolate's walk),
    for a shipped model; a session's own model reopens only in its session, so it has none."""
    if entry.shipped is None:
        return None
    query = {"kind": entry.kind, "data": entry.dataset, "model": entry.shipped}
    if stimulus.label is not None:
        query["cls"] = str(stimulus.label)
    if stimulus.end_seed is None:
        return state.link(f"{classroom.base_url()}/", query | {"seed": str(stimulus.seed)})
    walk = {
        "src": "seeds",
        "seeds": f"{stimulus.seed},{stimulus.end_seed}",
        "end": query.get("cls", "0"),
    }
    return state.link(f"{classroom.base_url()}/interpolate", query | walk)


def _comments_ui(results: review.Results) -> None:
    if not results.comments:
        return
    st.subheader(tr("review.comments"))
    r = results.review
    index = [review_pictures.stimulus_index(r, c.item) for c in results.comments]
    shown = review_pictures.get_many(
        r.code,
        [
            (s, i)
            for c, i in zip(results.comments, index, strict=True)
            for s in (c.item.a, c.item.b)
        ],
    )
    for c, i in zip(results.comments, index, strict=True):
        right = c.item.b if c.left == c.item.a else c.item.a
        with st.container(border=True):
            cols = st.columns([1, 1, 3])
            for col, slot in ((cols[0], c.left), (cols[1], right)):
                picture = shown.get((slot, i))
                if picture is not None:
                    col.image(picture, caption=results.verdict.labels[slot], width=84)
                link = reopen_link(r.entries[slot], c.item.stimulus)
                if link is not None:
                    col.markdown(f"[{tr('review.reopen')}]({link})")
            who = f"{c.reviewer} {c.name}".strip()
            cols[2].caption(tr("review.comment_by", who=who, choice=tr(f"review.vote_{c.choice}")))
            cols[2].text(c.text)
