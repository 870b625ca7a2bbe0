"""The store under the ratings and class rooms: its URL, its migrations (a ratings file from
before the store is migrated, not lost), and a store that cannot be reached."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from aigc import feedback_store, store
from aigc.ui import i18n

ROOT = Path(__file__).resolve().parent.parent

# The ratings table exactly as releases before the store created it, first without `link`.
LEGACY_SCHEMA = """
CREATE TABLE ratings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    page TEXT NOT NULL,
    model TEXT NOT NULL,
    dataset TEXT NOT NULL,
    label INTEGER,
    seed INTEGER,
    latent TEXT,
    scale TEXT NOT NULL,
    rating INTEGER NOT NULL,
    comment TEXT NOT NULL{link}
)
"""
LEGACY_ROW = ("2026-11-01T08:00:00+00:00", "explore", "gan_mnist", "mnist", 7, 3, "[0.5]")
LEGACY_ROW += ("stars", 5, "from the old file")


def head() -> str:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(store.MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()


def legacy_file(path: Path, with_link: bool) -> Path:
    with sqlite3.connect(path) as con:
        con.execute("PRAGMA journal_mode = WAL")
        link = ",\n    link TEXT NOT NULL DEFAULT ''" if with_link else ""
        con.execute(LEGACY_SCHEMA.format(link=link))
        columns = "time, page, model, dataset, label, seed, latent, scale, rating, comment"
        for _ in range(3):
            con.execute(f"INSERT INTO ratings ({columns}) VALUES (?,?,?,?,?,?,?,?,?,?)", LEGACY_ROW)
        if with_link:
            con.execute("UPDATE ratings SET link = 'http://localhost:8501/?seed=3' WHERE id = 2")
    return path


def test_the_migrated_schema_is_the_one_the_code_queries(store_url):
    feedback_store.add_rating(page="p", model="m", dataset="mnist", rating=3)
    with store.transaction(store_url) as con:
        diff = compare_metadata(MigrationContext.configure(con), store.metadata)
        version = con.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
    assert diff == []
    assert version == [head()]


@pytest.mark.parametrize("with_link", [False, True], ids=["before-links", "with-links"])
def test_a_legacy_ratings_file_is_migrated_not_lost(tmp_path, with_link):
    path = legacy_file(tmp_path / "feedback.sqlite3", with_link)
    old = feedback_store.list_ratings(path=path)
    assert [r.id for r in old] == [3, 2, 1]
    assert {(r.page, r.label, r.seed, r.latent, r.rating, r.comment) for r in old} == {
        ("explore", 7, 3, "[0.5]", 5, "from the old file")
    }
    links = [r.link for r in old]
    assert links == (["", "http://localhost:8501/?seed=3", ""] if with_link else ["", "", ""])
    assert all(r.room is None for r in old)
    new = feedback_store.add_rating(page="p", model="m", dataset="mnist", rating=4, path=path)
    assert new == 4  # ids go on from the old rows
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT version_num FROM alembic_version").fetchall() == [(head(),)]
        tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master")}
        assert {"rooms", "followers", "gallery"} <= tables
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


FIRST_USE = """
import sys, time
from aigc import feedback_store
start = float(sys.argv[2])
while time.time() < start:
    time.sleep(0.001)
feedback_store.add_rating(page="p", model="m", dataset="mnist", rating=5, path=sys.argv[1])
"""


def test_a_legacy_file_first_opened_by_several_processes_at_once_migrates_once(tmp_path):
    path = legacy_file(tmp_path / "feedback.sqlite3", with_link=False)
    start = time.time() + 1.5
    children = [
        subprocess.Popen(
            [sys.executable, "-c", FIRST_USE, str(path), str(start)],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [(c.wait(60), c.stderr.read()) for c in children]
    assert all(rc == 0 for rc, _ in results), [err for _, err in results if err]
    assert len(feedback_store.list_ratings(path=path)) == 3 + 4


def test_an_unreachable_store_says_so_in_the_page_language(tmp_path, monkeypatch):
    monkeypatch.setenv("AIGC_FEEDBACK_DB", str(tmp_path / "no such folder" / "f.sqlite3"))
    with pytest.raises(store.StoreUnavailable) as caught:
        feedback_store.add_rating(page="p", model="m", dataset="mnist", rating=5)
    assert caught.value.code == "store_unavailable"
    assert "cannot be used now" in str(caught.value)
    assert i18n.error_text(caught.value) == i18n.catalogue("en")["errors.store_unavailable"]


def test_the_url_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("AIGC_FEEDBACK_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    assert store.url() == f"sqlite:///{tmp_path / 'feedback.sqlite3'}"  # where ratings lived
    monkeypatch.setenv("AIGC_FEEDBACK_DB", str(tmp_path / "ratings.db"))
    assert store.url() == f"sqlite:///{tmp_path / 'ratings.db'}"
    monkeypatch.setenv("AIGC_DB_URL", "")  # set but empty: as if unset
    assert store.url() == f"sqlite:///{tmp_path / 'ratings.db'}"
    monkeypatch.setenv("AIGC_DB_URL", "postgresql://aigc:secret@db.school/aigc")
    assert store.url() == "postgresql+psycopg://aigc:secret@db.school/aigc"
    assert store.url(tmp_path / "x.sqlite3") == f"sqlite:///{tmp_path / 'x.sqlite3'}"


RATE_IN_A_ROOM = """
from aigc.ui.feedback import Rated, rate_ui
rated = Rated(page="explore", model="gan_mnist", dataset="mnist", label=7, seed=3,
              latent=None, link="http://localhost:8501/?seed=3", room="K7QM2XPA")
rate_ui("rating", rated)
"""


def test_the_rating_form_stores_the_room_and_says_when_the_store_is_unreachable(
    tmp_path, monkeypatch
):
    from streamlit.testing.v1 import AppTest

    def rate(at: AppTest) -> AppTest:
        at.session_state["rating_open"] = True
        at.run()
        at.feedback(key="rating_stars").set_value(4)
        at.button[0].click().run()
        assert not at.exception
        return at

    monkeypatch.setenv("AIGC_FEEDBACK_DB", str(tmp_path / "feedback.sqlite3"))
    rate(AppTest.from_string(RATE_IN_A_ROOM, default_timeout=30))
    assert [(r.rating, r.room) for r in feedback_store.list_ratings()] == [(5, "K7QM2XPA")]

    monkeypatch.setenv("AIGC_FEEDBACK_DB", str(tmp_path / "no such folder" / "f.sqlite3"))
    at = rate(AppTest.from_string(RATE_IN_A_ROOM, default_timeout=30))
    assert [e.value for e in at.error] == [i18n.catalogue("en")["errors.store_unavailable"]]
