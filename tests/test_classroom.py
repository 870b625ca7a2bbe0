"""Class rooms on SQLite and PostgreSQL: who may act as teacher, guessing codes, the teacher's
view, followers, the gallery's limits, a restart and the database going away mid-lesson."""

from __future__ import annotations

import io
import json
import math
import secrets
import subprocess
import sys
import time
import urllib.parse
import zlib
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from PIL import Image

from aigc import classroom, feedback_store, store
from aigc.classroom import RoomError
from aigc.cli import main
from aigc.ui import i18n

ROOT = Path(__file__).resolve().parent.parent
XSS = "<script>alert(1)</script><b onmouseover=x>Ann</b>"


def png(seed: int = 0) -> bytes:
    out = io.BytesIO()
    Image.new("L", (28, 28), seed % 256).save(out, "PNG")
    return out.getvalue()


def code_of(call) -> str:
    with pytest.raises(RoomError) as caught:
        call()
    return caught.value.code


@pytest.fixture
def clock(monkeypatch):
    """The rooms' clock, moved by hand: `clock.advance(seconds)`."""

    class Clock:
        offset = timedelta()

        def advance(self, seconds: float) -> None:
            self.offset += timedelta(seconds=seconds)

    c = Clock()
    real = classroom._now
    monkeypatch.setattr(classroom, "_now", lambda: real() + c.offset)
    return c


def other_code(code: str) -> str:
    while True:
        guess = "".join(secrets.choice(classroom.CODE_ALPHABET) for _ in range(8))
        if guess != code:
            return guess


def test_a_room_opens_with_a_typeable_code_and_a_secret_only_its_teacher_holds(store_url):
    opened = classroom.open_room("Year 7: GANs")
    room, token = opened.room, opened.teacher_token
    assert len(room.code) == 8 and set(room.code) <= set(classroom.CODE_ALPHABET)
    assert not set(room.code) & set("IL01O")  # nothing to misread from a projector
    assert room.expires - room.created == timedelta(hours=4)
    for typed in (room.code, room.code.lower(), f" {room.code[:4]}-{room.code[4:]} "):
        assert classroom.get_room(typed) == room
    assert classroom.list_rooms() == [room]
    assert classroom.is_teacher(room.code, token)
    with store.transaction(store_url, write=False) as con:
        stored = [str(v) for row in con.execute(sa.select(store.rooms)) for v in row]
    assert not any(token in value for value in stored)  # only its sha256 is kept

    student = classroom.student_link("http://school:8501/", room.code)
    teacher = classroom.teacher_link("http://school:8501", room.code, token)
    assert student == f"http://school:8501/?room={room.code}" and token not in student
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(teacher).query)
    assert query == {"room": [room.code], "teacher": [token]}


def test_a_closed_or_expired_room_counts_as_closed(store_url, clock, monkeypatch):
    a, b = classroom.open_room("a"), classroom.open_room("b", ttl_s=60)
    classroom.close_room(a.room.code, a.teacher_token)
    classroom.close_room(a.room.code, a.teacher_token)  # again: nothing happens
    assert code_of(lambda: classroom.get_room(a.room.code)) == "room_closed"
    assert [r.code for r in classroom.list_rooms()] == [b.room.code]
    clock.advance(61)
    for call in (
        lambda: classroom.get_room(b.room.code),
        lambda: classroom.heartbeat(b.room.code, "f1", "Ann"),
        lambda: classroom.current_view(b.room.code),
        lambda: classroom.send(b.room.code, "f1", "Ann", png(), ""),
        lambda: classroom.publish_view(b.room.code, b.teacher_token, "explore", {}),
    ):
        assert code_of(call) == "room_closed"
    assert classroom.list_rooms() == []
    everything = classroom.list_rooms(include_closed=True)
    assert {r.code: r.closed for r in everything} == {a.room.code: True, b.room.code: True}

    monkeypatch.setenv("AIGC_ROOM_TTL_S", "120")
    room = classroom.open_room().room
    assert room.expires - room.created == timedelta(seconds=120)
    for bad in (0, -1, math.nan, classroom.MAX_TTL_S + 1, "soon"):
        assert code_of(lambda bad=bad: classroom.open_room(ttl_s=bad)) == "room_ttl"
    assert code_of(lambda: classroom.open_room("x" * 101)) == "title_too_long"


def test_a_student_link_cannot_act_as_teacher(store_url):
    a, b = classroom.open_room("a"), classroom.open_room("b")
    code, token = a.room.code, a.teacher_token
    forged = [None, "", " ", 123, token + "x", token[:-1], token.upper(), "x" * 10_000]
    forged += [secrets.token_urlsafe(24), b.teacher_token, json.dumps(token)]
    for bad in forged:
        assert not classroom.is_teacher(code, bad), bad
    classroom.reset_limits()
    fake = secrets.token_urlsafe(24)
    for call in (
        lambda: classroom.publish_view(code, fake, "explore", {"seed": "1"}),
        lambda: classroom.set_locked(code, fake, True),
        lambda: classroom.gallery(code, fake),
        lambda: classroom.close_room(code, fake),
        lambda: classroom.close_room(code, b.teacher_token),  # another room's teacher
        lambda: classroom.gallery(other_code(code), token),  # a code with no room reads alike
    ):
        assert code_of(call) == "not_teacher"
    assert classroom.get_room(code).closed is False and classroom.current_view(code) is None

    # Replayed: the token of a closed room controls nothing any more, and no other room.
    classroom.close_room(code, token)
    assert code_of(lambda: classroom.publish_view(code, token, "explore", {})) == "room_closed"
    c = classroom.open_room("c")
    assert c.teacher_token != token and not classroom.is_teacher(c.room.code, token)
    assert classroom.publish_view(c.room.code, c.teacher_token, "explore", {}) == 1


def test_forged_tokens_are_rate_limited_but_never_lock_the_teacher_out(store_url):
    opened = classroom.open_room()
    code = opened.room.code
    limit = classroom.TEACHER_FAILURES_PER_MINUTE
    answers = [
        code_of(lambda i=i: classroom.set_locked(code, f"forged{i}", True)) for i in range(12)
    ]
    assert answers == ["not_teacher"] * limit + ["rate_limited"] * 2
    assert not classroom.is_teacher(code, "forged")
    assert classroom.is_teacher(code, opened.teacher_token)  # a student cannot lock them out
    classroom.set_locked(code, opened.teacher_token, True)
    assert classroom.get_room(code).locked


def test_guessed_codes_hit_the_rate_limit_and_then_no_code_answers(store_url, monkeypatch):
    real = classroom.open_room().room.code
    limit = classroom.UNKNOWN_CODES_PER_MINUTE
    for _ in range(limit):
        assert code_of(lambda: classroom.get_room(other_code(real))) == "room_unknown"
    # Over the limit even the real code is refused: otherwise the answers would tell a guesser
    # which codes exist, at full speed.
    for call in (
        lambda: classroom.get_room(other_code(real)),
        lambda: classroom.get_room(real),
        lambda: classroom.heartbeat(real, "f1"),
        lambda: classroom.current_view(real),
        lambda: classroom.send(real, "f1", "Ann", png(), ""),
    ):
        assert code_of(call) == "rate_limited"
    error = pytest.raises(RoomError, classroom.get_room, real).value
    assert i18n.error_text(error) == i18n.catalogue("en")["errors.rate_limited"]
    counts = classroom._unknown_codes
    moved = counts.clock() + counts.window_s + 1
    monkeypatch.setattr(counts, "clock", lambda: moved)  # a minute later
    assert classroom.get_room(real).code == real
    # Typos that cannot be a code (wrong length, look-alike letters) tell a guesser nothing.
    classroom.reset_limits()
    for typo in ["", "ABC", "ABCDEFGHI", "ABCDEFG0", "abcdefgl", None, 12345678] * 10:
        assert code_of(lambda typo=typo: classroom.get_room(typo)) == "room_unknown"
    assert classroom.get_room(real).code == real
    # Why guessing is hopeless: years to find one of 10 open rooms at the limit, one process.
    years = len(classroom.CODE_ALPHABET) ** classroom.CODE_LENGTH / 10 / limit / 60 / 24 / 365
    assert years > 1000


def test_the_teacher_view_changes_version_only_when_it_changes(store_url):
    opened = classroom.open_room()
    code, token = opened.room.code, opened.teacher_token
    assert classroom.current_view(code) is None

    def publish(*args) -> int:
        return classroom.publish_view(code, token, *args)

    assert publish("explore", {"seed": "3", "kind": "gan"}) == 1
    assert publish("explore", {"kind": "gan", "seed": "3"}) == 1  # the same query, reordered
    assert publish("explore", {"kind": "gan", "seed": "4"}) == 2
    assert publish("explore", {"kind": "gan", "seed": "4"}, "run-1") == 3
    assert publish("interpolate", {"kind": "gan", "seed": "4"}, "run-1") == 4
    assert publish("interpolate", {"kind": "gan", "seed": "4"}, "run-1") == 4
    view = classroom.current_view(code)
    assert (view.version, view.page, view.run_id) == (4, "interpolate", "run-1")
    assert view.query == {"kind": "gan", "seed": "4"} and view.updated.tzinfo is not None
    assert publish("explore", {"label": "七"}) == 5 and classroom.current_view(code).query == {
        "label": "七"
    }
    huge = {"z": "0.5," * 5000}
    assert code_of(lambda: publish("explore", huge)) == "view_too_large"
    with pytest.raises(TypeError):
        publish("explore", {"seed": 3})


def test_forty_followers_heartbeating_from_threads_are_all_seen(store_url, clock, at_once):
    code = classroom.open_room().room.code

    def follow(i: int) -> None:
        for beat in range(3):  # the even ones stop following on their last beat
            following = beat < 2 or i % 2 == 1
            classroom.heartbeat(code, f"s{i:02d}", f"student {i:02d}", following=following)

    assert at_once(40, follow) == []
    seen = classroom.followers(code)
    assert [f.name for f in seen] == [f"student {i:02d}" for i in range(40)]
    assert [f.follower_id for f in seen if not f.following] == [
        f"s{i:02d}" for i in range(0, 40, 2)
    ]
    clock.advance(31)
    assert classroom.followers(code) == [] and len(classroom.followers(code, within_s=60)) == 40


def test_names_and_titles_with_html_are_stored_as_given(store_url):
    opened = classroom.open_room(XSS[:100])
    code, token = opened.room.code, opened.teacher_token
    name = XSS[: classroom.MAX_NAME_CHARS]
    classroom.heartbeat(code, "f1", name)
    classroom.send(code, "f1", name, png(), "javascript:alert(1)")
    assert classroom.get_room(code).title == XSS[:100]
    assert classroom.followers(code)[0].name == name
    [sent] = classroom.gallery(code, token)
    assert (sent.name, sent.link, sent.room) == (name, "javascript:alert(1)", code)
    too_long = "x" * (classroom.MAX_NAME_CHARS + 1)
    assert code_of(lambda: classroom.heartbeat(code, "f2", too_long)) == "name_too_long"
    assert code_of(lambda: classroom.send(code, "f2", too_long, png(), "")) == "name_too_long"
    for bad_id in ("", "x" * 65, "a b", "<script>", None):
        assert (
            code_of(lambda bad_id=bad_id: classroom.heartbeat(code, bad_id)) == "follower_invalid"
        )


def test_sends_are_pngs_of_at_most_2_mb(store_url):
    opened = classroom.open_room()
    code = opened.room.code
    jpeg = io.BytesIO()
    Image.new("RGB", (8, 8)).save(jpeg, "JPEG")
    for not_png in (jpeg.getvalue(), b"GIF89a....", b"<svg onload=alert(1)>", b"", png()[1:]):
        assert code_of(lambda b=not_png: classroom.send(code, "f1", "Ann", b, "")) == "not_png"
    big = classroom.PNG_MAGIC + bytes(classroom.MAX_PNG_BYTES)
    error = pytest.raises(RoomError, classroom.send, code, "f1", "Ann", big, "").value
    assert error.code == "too_large" and "2.0 MB" in i18n.error_text(error)
    assert code_of(lambda: classroom.send(code, "f1", "Ann", png(), "x" * 4001)) == "link_too_long"
    assert classroom.gallery(code, opened.teacher_token) == []
    exactly = classroom.PNG_MAGIC + bytes(classroom.MAX_PNG_BYTES - 8)
    assert classroom.send(code, "f1", "Ann", exactly, "")


def test_sends_are_rate_limited_per_follower_and_the_gallery_pages(store_url, clock):
    opened = classroom.open_room()
    code, token = opened.room.code, opened.teacher_token
    first = classroom.send(code, "f1", "Ann", png(1), "http://x/?seed=1")
    error = pytest.raises(RoomError, classroom.send, code, "f1", "Ann", png(2), "").value
    assert error.code == "send_too_soon" and error.fields == {"seconds": 5}
    other = classroom.send(code, "f2", "Bo", png(3), "")  # another follower is not held up
    clock.advance(classroom.SEND_INTERVAL_S)
    ids = [first, other]
    for i in range(classroom.MAX_SENDS_PER_FOLLOWER - 1):
        ids.append(classroom.send(code, "f1", "Ann", png(4 + i), ""))
        clock.advance(classroom.SEND_INTERVAL_S)
    assert code_of(lambda: classroom.send(code, "f1", "Ann", png(), "")) == "send_limit"
    assert ids == sorted(ids)
    everything = classroom.gallery(code, token, limit=1000)
    assert [s.id for s in everything] == ids
    assert everything[0].png == png(1) and everything[0].link == "http://x/?seed=1"
    assert [s.id for s in classroom.gallery(code, token, after_id=ids[5], limit=3)] == ids[6:9]
    assert all(s.time.tzinfo is not None for s in everything)


def test_the_gallery_has_a_size_per_room(store_url, clock, monkeypatch):
    monkeypatch.setattr(classroom, "MAX_GALLERY_PER_ROOM", 3)
    code = classroom.open_room().room.code
    for i in range(3):
        classroom.send(code, f"f{i}", "", png(), "")
    assert code_of(lambda: classroom.send(code, "f9", "", png(), "")) == "gallery_full"


RESTARTED = """
import json
from aigc import classroom, feedback_store
opened = classroom.open_room("Lesson <1>")
code, token = opened.room.code, opened.teacher_token
classroom.publish_view(code, token, "explore", {"seed": "7"})
classroom.heartbeat(code, "f1", "Ann")
classroom.send(code, "f1", "Ann", bytes.fromhex(input()), "http://x/?seed=7")
feedback_store.add_rating(page="explore", model="gan_mnist", dataset="mnist", rating=5, room=code)
print(json.dumps({"code": code, "token": token}))
"""


def test_a_restart_loses_no_room_gallery_entry_or_rating(store_url):
    """Another process (a second server, or this one before a restart) writes; this one, with
    a fresh engine, sees it all."""
    picture = png(7)
    child = subprocess.run(
        [sys.executable, "-c", RESTARTED],
        input=picture.hex(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, child.stderr
    opened = json.loads(child.stdout)
    code, token = opened["code"], opened["token"]
    store.dispose()
    assert classroom.get_room(code).title == "Lesson <1>"
    assert classroom.current_view(code).query == {"seed": "7"}
    assert [f.name for f in classroom.followers(code, within_s=300)] == ["Ann"]
    [sent] = classroom.gallery(code, token)
    assert sent.png == picture and sent.name == "Ann"
    assert [r.room for r in feedback_store.list_ratings()] == [code]
    classroom.close_room(code, token)  # its token works in this process too
    assert [s.id for s in classroom.gallery(code, token)] == [sent.id]  # kept for the teacher


@pytest.mark.postgres
def test_the_database_going_away_mid_lesson_is_said_and_survived(postgres, monkeypatch):
    """pg_ctl stop while a room is open: every call says store_unavailable in the page's words;
    pg_ctl start: the same process carries on, nothing lost, nothing restarted."""
    monkeypatch.setenv("AIGC_DB_URL", postgres.new_database())
    classroom.reset_limits()
    postgres.stop()  # down before this process first used it: the schema check waits too
    try:
        assert code_of(lambda: classroom.open_room("lesson")) == "store_unavailable"
    finally:
        postgres.start()
    opened = classroom.open_room("lesson")
    code, token = opened.room.code, opened.teacher_token
    classroom.heartbeat(code, "f1", "Ann")
    feedback_store.add_rating(page="explore", model="m", dataset="mnist", rating=4, room=code)
    postgres.stop()
    try:
        for call in (
            lambda: classroom.get_room(code),
            lambda: classroom.heartbeat(code, "f1", "Ann"),
            lambda: classroom.publish_view(code, token, "explore", {}),
            lambda: classroom.is_teacher(code, token),
            lambda: classroom.open_room(),
        ):
            assert code_of(call) == "store_unavailable"
        error = pytest.raises(RoomError, classroom.get_room, code).value
        assert i18n.error_text(error) == i18n.catalogue("en")["errors.store_unavailable"]
        assert "数据库" in i18n.catalogue("zh")[f"errors.{error.code}"]
        with pytest.raises(store.StoreUnavailable):
            feedback_store.add_rating(page="explore", model="m", dataset="mnist", rating=4)
    finally:
        postgres.start()
    assert classroom.get_room(code).title == "lesson"
    classroom.heartbeat(code, "f1", "Ann")
    assert [f.name for f in classroom.followers(code)] == ["Ann"]
    assert classroom.publish_view(code, token, "explore", {}) == 1
    feedback_store.add_rating(page="explore", model="m", dataset="mnist", rating=5, room=code)
    assert [r.rating for r in feedback_store.list_ratings()] == [5, 4]
    store.dispose()


def test_long_expired_rooms_are_purged_with_their_gallery_but_ratings_stay(
    store_url, clock, monkeypatch, capsys
):
    old = classroom.open_room("last month", ttl_s=60)
    recent = classroom.open_room("this week", ttl_s=classroom.MAX_TTL_S)
    classroom.heartbeat(old.room.code, "f1", "Ann")
    classroom.send(old.room.code, "f1", "Ann", png(), "")
    feedback_store.add_rating(
        page="explore", model="m", dataset="mnist", rating=4, room=old.room.code
    )
    clock.advance(2 * 86400)
    assert [s.name for s in classroom.gallery(old.room.code, old.teacher_token)] == ["Ann"]
    monkeypatch.setenv("AIGC_ROOM_KEEP_DAYS", "1")
    classroom.open_room("tomorrow")  # opening a room purges on the way
    codes = {r.code for r in classroom.list_rooms(include_closed=True)}
    assert old.room.code not in codes and recent.room.code in codes
    with store.transaction(store_url, write=False) as con:
        for table in (store.gallery, store.followers):
            assert con.execute(sa.select(sa.func.count()).select_from(table)).scalar_one() == 0
    assert [r.room for r in feedback_store.list_ratings()] == [old.room.code]

    clock.advance(30 * 86400)  # now the others are long expired too
    assert main(["classroom", "purge", "--days", "7"]) == 0
    assert capsys.readouterr().out == "purged 2 rooms that expired more than 7 days ago\n"
    assert classroom.list_rooms(include_closed=True) == []


def test_only_the_teacher_shares_her_run_and_followers_read_it_back(store_url):
    from aigc import recipes, run_share, runs

    opened = classroom.open_room("lesson")
    code, token = opened.room.code, opened.teacher_token
    manager = runs.RunManager(1, cores=1)
    run_id = recipes.submit_live(manager, "vae", "mnist", steps=20)
    try:
        while not manager.view(run_id).ended:
            time.sleep(0.05)
        view = manager.view(run_id)
    finally:
        manager.release(run_id)
    record = run_share.shared_copy(view)
    assert len(record) < 100_000
    assert code_of(lambda: classroom.publish_run(code, "guess", run_id, record)) == "not_teacher"
    assert classroom.room_run(code, run_id) is None
    classroom.publish_run(code, token, run_id, record)
    back = run_share.from_shared(classroom.room_run(code, run_id))
    assert (back.step, back.status, [p.step for p in back.curve]) == (
        view.step,
        view.status,
        [p.step for p in view.curve],
    )
    assert np.array_equal(back.snapshots[-1].samples, view.snapshots[-1].samples)
    assert classroom.room_run(code, "another run") is None
    for bad in (b"", b"not zlib", zlib.compress(b"{}"), zlib.compress(b"\0" * 10_000_000)):
        with pytest.raises(ValueError):
            run_share.from_shared(bad)


def test_a_rooms_pulse_reads_the_store_once_for_all_its_followers(store_url, clock, monkeypatch):
    opened = classroom.open_room("lesson")
    code, token = opened.room.code, opened.teacher_token
    classroom.heartbeat(code, "f1", "Ann")
    reads = []
    real = classroom._find_open
    monkeypatch.setattr(classroom, "_find_open", lambda *a, **k: reads.append(1) or real(*a, **k))
    assert [classroom.pulse(code, f"f{i}") for i in range(30)] == [0] * 30
    assert len(reads) == 1  # 30 followers polling, one store read
    classroom.publish_view(code, token, "explore", {"seed": "1"})
    time.sleep(classroom.PULSE_CACHE_S)
    assert classroom.pulse(code, "f1") == 1  # seen within PULSE_CACHE_S
    clock.advance(60)
    assert [f.name for f in classroom.followers(code)] == []  # a minute without a word
    time.sleep(0.01)
    monkeypatch.setattr(classroom, "PRESENCE_S", 0.0)
    classroom.pulse(code, "f1")  # a pulse says she is still there, and keeps her name
    assert [f.name for f in classroom.followers(code)] == ["Ann"]
    assert code_of(lambda: classroom.pulse("ZZZZZZZZ", "f1")) == "room_unknown"
