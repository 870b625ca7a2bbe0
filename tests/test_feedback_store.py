"""The ratings store, on SQLite and PostgreSQL: rows round-trip, concurrent writers all land,
text is kept verbatim."""

from __future__ import annotations

import csv
import io
import json
import sqlite3

import pytest

from aigc import feedback_store as store
from aigc.store import tables

XSS = "<script>alert('x')</script><img src=x onerror=alert(1)> & \"quotes\", commas\nnewline"


@pytest.fixture
def db(store_url):
    return store_url


@pytest.fixture
def sqlite_file(tmp_path, monkeypatch):
    path = tmp_path / "feedback.sqlite3"
    monkeypatch.setenv("AIGC_FEEDBACK_DB", str(path))
    return path


def rate(**kw) -> int:
    base = {"page": "explore", "model": "gan_mnist", "dataset": "mnist", "rating": 4}
    return store.add_rating(**(base | kw))


def test_a_rating_is_stored_with_every_field(db):
    row_id = rate(label=7, seed=42, latent=[0.5, -1.25], comment="a nice seven", room="ABCD2345")
    [r] = store.list_ratings()
    assert r.id == row_id
    assert (r.page, r.model, r.dataset, r.label, r.seed) == ("explore", "gan_mnist", "mnist", 7, 42)
    assert json.loads(r.latent) == [0.5, -1.25]
    assert (r.scale, r.rating, r.comment) == ("stars", 4, "a nice seven")
    assert r.time.endswith("+00:00")
    assert r.room == "ABCD2345" and rate() and store.list_ratings()[0].room is None


def test_the_file_is_in_wal_mode(sqlite_file):
    rate()
    with sqlite3.connect(sqlite_file) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_newest_first_and_limit(db):
    ids = [rate(seed=i) for i in range(5)]
    assert [r.id for r in store.list_ratings(3)] == ids[::-1][:3]


def test_thumbs_and_range_checks(db):
    rate(scale="thumbs", rating=-1)
    rate(scale="thumbs", rating=1)
    for bad in (
        {"rating": 0},
        {"rating": 6},
        {"scale": "thumbs", "rating": 0},
        {"scale": "hearts"},
        {"comment": "x" * (store.MAX_COMMENT_CHARS + 1)},
        {"model": ""},
        {"latent": [float("nan")]},
    ):
        with pytest.raises(ValueError):
            rate(**bad)
    assert len(store.list_ratings()) == 2
    rate(comment="x" * store.MAX_COMMENT_CHARS)  # exactly at the cap is fine


def test_summary_counts_and_averages_per_model(db):
    for stars in (5, 4, 3):
        rate(rating=stars)
    rate(model="vae_mnist", rating=2)
    rate(model="vae_mnist", scale="thumbs", rating=1)
    got = {(s.model, s.scale): (s.count, s.mean) for s in store.summary()}
    assert got == {
        ("gan_mnist", "stars"): (3, 4.0),
        ("vae_mnist", "stars"): (1, 2.0),
        ("vae_mnist", "thumbs"): (1, 1.0),
    }


def test_thirty_concurrent_writers_all_land(db, at_once):
    assert at_once(30, lambda i: rate(seed=i, comment=f"writer {i}")) == []
    assert sorted(r.seed for r in store.list_ratings(100)) == list(range(30))


def test_csv_round_trip(db):
    rate(label=3, seed=1, latent=[0.1, 0.2], comment=XSS)
    rate(scale="thumbs", rating=-1, comment="")
    rows = list(csv.DictReader(io.StringIO(store.to_csv())))
    assert list(rows[0]) == list(store.COLUMNS)
    stored = sorted(store.list_ratings(), key=lambda r: r.id)
    assert len(rows) == len(stored) == 2
    for row, r in zip(rows, stored, strict=True):
        for name in store.COLUMNS:
            value = getattr(r, name)
            assert row[name] == ("" if value is None else str(value)), name


def test_xss_text_is_stored_verbatim(db):
    rate(comment=XSS, model="<b>model</b>")
    [r] = store.list_ratings()
    assert r.comment == XSS and r.model == "<b>model</b>"


def test_csv_defuses_spreadsheet_formulas_but_the_store_keeps_them(db):
    formula = '=HYPERLINK("http://evil","click")'
    rate(comment=formula)
    [row] = csv.DictReader(io.StringIO(store.to_csv()))
    assert row["comment"] == "'" + formula
    assert store.list_ratings()[0].comment == formula


def test_reading_before_any_rating_creates_no_file(sqlite_file):
    assert store.list_ratings() == [] and store.summary() == []
    assert store.to_csv().strip() == ",".join(store.COLUMNS)
    assert not sqlite_file.exists()


def test_reading_before_any_rating_gives_nothing(db):
    assert store.list_ratings() == [] and store.summary() == []
    assert store.to_csv().strip() == ",".join(store.COLUMNS)


def test_seeds_beyond_32_bits_round_trip(db):
    rate(seed=2**40 + 3)
    assert store.list_ratings()[0].seed == 2**40 + 3


def test_the_room_is_a_code_not_free_text(db):
    with pytest.raises(ValueError):
        rate(room="x" * (tables.CODE_CHARS + 1))


def test_path_argument_overrides_the_environment(db, tmp_path):
    other = tmp_path / "other.sqlite3"
    store.add_rating(page="p", model="m", dataset="mnist", rating=5, path=other)
    assert len(store.list_ratings(path=other)) == 1
    assert store.list_ratings() == []
