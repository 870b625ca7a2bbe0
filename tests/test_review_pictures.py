"""A review's pictures: made once by the owner's server, the same bytes for every reviewer,
stored only by the owner and only whole."""

from __future__ import annotations

import pytest

from aigc import render, review, review_pictures
from aigc.review import Entry, ReviewError
from aigc.weights import load_shipped
from tests.test_app import needs

pytestmark = [
    needs["gan_mnist"],
    needs["vae_mnist"],
    pytest.mark.parametrize("store_url", ["sqlite"], indirect=True),
]


def opened_with(stimuli, show="samples"):
    entries = [Entry("a", "gan", "mnist", "gan_mnist"), Entry("b", "vae", "mnist", "vae_mnist")]
    return review.open_review("t", entries, stimuli, show=show)


def test_every_entry_and_stimulus_gets_the_picture_explore_draws(store_url):
    opened = opened_with(review.samples([3, 4], [7]))
    code = opened.review.code
    gan, vae = load_shipped("gan_mnist"), load_shipped("vae_mnist")
    review_pictures.make(code, opened.owner_secret, [gan, vae])
    assert review_pictures.stimuli(opened.review) == [review.Stimulus(3, 7), review.Stimulus(4, 7)]
    expected = render.stimulus_picture(gan, 4, 7)
    assert review_pictures.get(code, 0, 1) == expected and expected.startswith(b"\x89PNG")
    pair = review.next_item(code, review.join(code))
    index = review_pictures.stimulus_index(opened.review, pair.item)
    assert review_pictures.get(code, pair.left, index) is not None


def test_a_walk_is_a_gif_and_only_the_owner_stores_pictures_all_at_once(store_url):
    opened = opened_with(review.interpolations([(1, 2)]), show="interpolations")
    code = opened.review.code
    gan = load_shipped("gan_mnist")
    walk = render.stimulus_picture(gan, 1, None, 2)
    assert walk.startswith(b"GIF8")
    for secret, pictures, expected in (
        ("a guess", {(0, 0): walk, (1, 0): walk}, "not_owner"),
        (opened.owner_secret, {(0, 0): walk}, "pictures_incomplete"),
        (opened.owner_secret, {(0, 0): walk, (1, 0): b"<svg onload=alert(1)>"}, "picture_invalid"),
    ):
        with pytest.raises(ReviewError) as info:
            review_pictures.put(code, secret, pictures)
        assert info.value.code == expected
    assert review_pictures.get(code, 0, 0) is None, "nothing stored by a refused call"
