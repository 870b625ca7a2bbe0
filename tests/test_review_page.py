"""The Review page as a product person and her reviewers use it (AppTest sessions sharing one
store): open a review of two models, vote blind pair by pair, read the verdict."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from aigc import review, review_pictures, store
from aigc.ui import review as review_page
from tests.test_app import needs

pytestmark = [needs["gan_mnist"], needs["vae_mnist"]]

SCRIPT = """
import streamlit as st
from aigc.ui import review
st.session_state.setdefault("lang", "{lang}")
review.page()
"""


def open_page(lang: str = "en", **query: str) -> AppTest:
    at = AppTest.from_string(SCRIPT.format(lang=lang), default_timeout=120)
    at.query_params.update(query)
    return at.run()


def everything_said(at: AppTest) -> str:
    parts = [
        e.value
        for kind in ("markdown", "caption", "subheader", "text", "success")
        for e in getattr(at, kind)
    ]
    parts += [b.label for b in at.button]
    return " ".join(str(p) for p in parts)


@pytest.fixture
def opened(store_url):
    owner = open_page()
    assert not owner.exception, owner.exception
    owner.slider(key="rv_seeds_samples").set_value(3)
    owner.text_input(key="rv_title").set_value("Which digit is better?")
    owner.button(key="rv_open").click().run()
    assert not owner.exception, owner.exception
    [(code, secret)] = owner.session_state[review_page.OPENED].items()
    assert any(f"review?review={code}" in c.value for c in owner.code)
    return code, secret


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_reviewers_vote_blind_and_the_owner_reads_a_verdict_in_plain_words(opened):
    code, secret = opened
    for _ in range(2):  # two reviewers, so the verdict has an interval
        at = open_page(review=code)
        at.text_input(key="rv_name").set_value("Ann")
        at.button[0].click().run()  # Start
        for n in range(1, 4):
            assert f"Pair {n} of 3" in at.get("progress")[0].proto.text
            assert len(at.image) == 2
            said = everything_said(at)
            assert "GAN" not in said and "VAE" not in said, "the models stay hidden"
            choice = next(b for b in at.button if b.key.startswith("rv_vote_left"))
            choice.click().run()
            assert not at.exception, at.exception
        assert "thank you" in at.success[0].value
        assert "Ann:" not in everything_said(at), "a reviewer sees no one's name"
    owner = open_page(review=code, owner=secret)
    assert not owner.exception, owner.exception
    words = " ".join(m.value for m in owner.markdown)
    assert "is preferred to" in words and "95% CI" in words and "difference" in words
    assert "#1 Ann: 3" in everything_said(owner)
    assert owner.get("download_button"), "the votes can be exported"


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_double_vote_counts_once_and_a_forged_owner_link_opens_nothing(opened):
    code, secret = opened
    at = open_page(review=code)
    at.button[0].click().run()
    reviewer = at.session_state[review_page.REVIEWER][review.normal_code(code)]
    pair = review.next_item(code, reviewer)
    review.vote(code, reviewer, pair.item.item, "left")  # the first click landed
    next(b for b in at.button if b.key.startswith("rv_vote_right")).click().run()
    assert not at.exception and not at.toast, "a second click on the same pair is no error"
    assert review.progress(code, reviewer).done == 1
    forged = open_page("zh", review=code, owner="guess")
    assert forged.error and not forged.get("download_button")
    assert "链接" in forged.error[0].value


def test_a_reviewed_picture_reopens_on_explore_by_its_link():
    from urllib.parse import parse_qsl, urlsplit

    from tests.test_app import app

    entry = review.Entry("GAN", "gan", "mnist", "gan_mnist")
    link = review_page.reopen_link(entry, review.Stimulus(seed=5, label=3))
    explore = app()
    explore.query_params.update(dict(parse_qsl(urlsplit(link).query)))
    explore.run()
    assert not explore.exception
    assert explore.number_input(key="ex_seed").value == 5
    assert explore.session_state["ex_cls"] == 3
    session_model = review.Entry("mine", "gan", "mnist", None, "0" * 64)
    assert review_page.reopen_link(session_model, review.Stimulus(5, 3)) is None


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_review_whose_pictures_cannot_be_stored_is_not_left_open(store_url, monkeypatch):
    def refuse(*args, **kwargs):
        raise review.ReviewError("too large together", "picture_invalid")

    monkeypatch.setattr(review_pictures, "put", refuse)
    owner = open_page()
    owner.slider(key="rv_seeds_samples").set_value(2)
    owner.button(key="rv_open").click().run()
    assert not owner.exception
    assert "could not be stored" in owner.error[0].value
    assert review_page.OPENED not in owner.session_state, "no links to a review without pictures"
    with store.transaction(write=False) as con:
        still_open = sa.select(sa.func.count()).where(sa.not_(store.reviews.c.closed))
        assert con.execute(still_open).scalar_one() == 0, "the half-made review was closed"


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_owner_sees_each_comment_beside_the_two_pictures_it_is_about(opened):
    code, secret = opened
    for words in ("<b>too thin</b>", "the left one wobbles"):
        reviewer = review.join(code)
        pair = review.next_item(code, reviewer)
        review.vote(code, reviewer, pair.item.item, "left", words)
    owner = open_page(review=code, owner=secret)
    assert not owner.exception, owner.exception
    assert [t.value for t in owner.text] == ["<b>too thin</b>", "the left one wobbles"]
    assert len([i for i in owner.image if i.value]) == 4, "two pictures beside each comment"
