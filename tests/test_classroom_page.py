"""The classroom as a teacher and her class use it, headless: two AppTest sessions of the
whole app sharing one store. The follower's poll is a fragment that reruns the app when the
teacher's view changes; AppTest does not run timers, so each `student.run()` below stands for
the rerun that poll would trigger."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from aigc import classroom
from aigc.weights import shipped_path
from tests.test_app import share_links
from tests.test_explore_live import panel_data, panels, released, send

pytestmark = pytest.mark.skipif(
    not shipped_path("gan_mnist").is_file(), reason="weights/gan_mnist.safetensors not trained"
)

ROOM_PAGE = """
import streamlit as st
st.session_state.setdefault("lang", "{lang}")
from aigc.ui import classroom
classroom.page()
"""


def app(**query: str) -> AppTest:
    at = AppTest.from_file("../streamlit_app.py", default_timeout=60)
    at.query_params.update(query)
    return at.run()


def room_page(lang: str = "en") -> AppTest:
    return AppTest.from_string(ROOM_PAGE.format(lang=lang), default_timeout=60).run()


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def open_page(at: AppTest, url_path: str) -> AppTest:
    """Open one of the app's pages as its link in the sidebar does (AppTest's switch_page
    reaches only file pages; st.navigation asks for a function page by its hash)."""
    [at._page_hash] = [h for h, p in at._registered_pages.items() if p["url_pathname"] == url_path]
    return ok(at.run())


def sidebar_text(at: AppTest) -> str:
    return " ".join(c.value for c in at.sidebar.caption)


@pytest.fixture
def opened(store_url) -> classroom.Opened:
    return classroom.open_room("Latent space, lesson 1")


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_teacher_opens_a_room_and_sees_the_code_and_a_link_without_her_secret(store_url):
    at = ok(room_page())
    at.text_input(key="room_title").input("<b>Lesson</b>")
    at.button[0].click().run()  # Open a room
    ok(at)
    [room] = classroom.list_rooms()
    codes = [c.value for c in at.code]
    assert room.code in codes
    [link] = [c for c in codes if "room=" in c]
    assert link.endswith(f"?room={room.code}") and "teacher" not in link
    assert at.image, "the QR code of the students' link"
    assert [s.value for s in at.subheader if "Lesson" in s.value] == ["<b>Lesson</b>"]  # text


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_class_follows_the_teacher_branches_off_and_comes_back(opened):
    code, token = opened.room.code, opened.teacher_token
    teacher = ok(app(room=code, teacher=token))
    student = ok(app(room=code))
    assert "Following the teacher" in sidebar_text(student)

    teacher.number_input(key="ex_seed").set_value(42).run()
    ok(student.run())
    assert student.number_input(key="ex_seed").value == 42
    assert share_links(student) == share_links(teacher)  # the same link

    student.number_input(key="ex_seed").set_value(7).run()  # the student explores
    teacher.number_input(key="ex_seed").set_value(43).run()
    ok(student.run())
    assert student.number_input(key="ex_seed").value == 7, "a branched student is left alone"
    assert "On your own" in sidebar_text(student)

    student.sidebar.button(key="room_follow_again").click().run()
    ok(student.run())
    assert student.number_input(key="ex_seed").value == 43
    assert "Following the teacher" in sidebar_text(student)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_locked_room_puts_a_student_back_on_the_teachers_view(opened):
    code, token = opened.room.code, opened.teacher_token
    teacher = ok(app(room=code, teacher=token))
    teacher.number_input(key="ex_seed").set_value(42).run()
    classroom.set_locked(code, token, True)
    student = ok(app(room=code))
    assert student.number_input(key="ex_seed").value == 42
    student.number_input(key="ex_seed").set_value(7).run()
    ok(student.run())
    assert student.number_input(key="ex_seed").value == 42
    assert "Following the teacher" in sidebar_text(student)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_student_link_with_a_forged_secret_joins_as_a_student_or_not_at_all(opened):
    code = opened.room.code
    forged = ok(app(room=code, teacher="x" * 32))
    assert "Teaching" not in sidebar_text(forged)
    assert forged.toast, "told why"
    unknown = ok(app(room="ZZZZZZZZ"))
    assert not sidebar_text(unknown)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_student_sends_the_picture_to_the_teachers_gallery(opened):
    code, token = opened.room.code, opened.teacher_token
    student = ok(app(room=code))
    student.button(key="ex_rate_send").click().run()
    ok(student)
    [sent] = classroom.gallery(code, token)
    assert sent.png.startswith(b"\x89PNG") and f"room={code}" not in sent.link


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_rating_made_in_a_room_carries_the_room(opened):
    from aigc import feedback_store

    student = ok(app(room=opened.room.code))
    student.session_state["ex_rate_open"] = True  # what clicking the expander sends
    student.run()
    student.feedback(key="ex_rate_stars").set_value(4)
    student.button(key="FormSubmitter:ex_rate-Send rating").click().run()
    ok(student)
    [rating] = feedback_store.list_ratings()
    assert rating.room == opened.room.code


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_class_watches_the_teachers_one_run(opened, wait_until):
    """30 students do not start 30 runs on 2 cores: they watch hers."""
    from aigc import recipes
    from aigc.ui import train_live

    manager = train_live.run_manager()
    run_id = recipes.submit_live(manager, "vae", "mnist", steps=40)
    try:
        wait_until(lambda: manager.view(run_id).step > 0, what="the run to start")
        settings = {"kind": "vae", "data": "mnist", "cond": "1"}
        code, token = opened.room.code, opened.teacher_token
        classroom.publish_view(code, token, "train_live", settings, run_id)
        student = ok(app(room=code))
        ok(student.run())  # the switch to the teacher's page
        assert any("Watching the teacher's run" in i.value for i in student.info)
        assert student.image, "the run's grid"
        assert not student.button(key="train_start").disabled, "she may still start her own"
    finally:
        manager.release(run_id)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_student_on_another_server_watches_the_teachers_run_through_the_store(
    opened, monkeypatch, wait_until
):
    """The teacher trains on her server; a student whose server has no such run (a fresh run
    manager stands for the other process) sees its grid and step from the store."""
    from aigc import runs
    from aigc.ui import train_live

    code, token = opened.room.code, opened.teacher_token
    teacher = open_page(ok(app(room=code, teacher=token)), "train-live")
    teacher.radio(key="train_kind").set_value("vae")
    teacher.radio(key="train_budget").set_value("steps")
    teacher.run()
    teacher.number_input(key="train_steps").set_value(400).run()
    teacher.button(key="train_start").click().run()
    own_manager = train_live.run_manager()
    live = teacher.session_state[train_live.LIVE]
    try:

        def trained() -> bool:
            return any(s.step for s in own_manager.view(live.run_id).snapshots)

        wait_until(trained, what="the teacher's run to train a little")
        ok(teacher.run())  # her page's poll shares it
        other_server = runs.RunManager(1)
        monkeypatch.setattr(train_live, "run_manager", lambda: other_server)
        student = ok(app(room=code))
        ok(student.run())  # the switch to the teacher's page
        [watching] = [i.value for i in student.info if "Watching the teacher's run" in i.value]
        assert "step 0" not in watching
        assert student.image, "the run's grid, drawn from the store"
    finally:
        own_manager.release(live.run_id)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_student_sends_an_interpolation_frame_from_the_page_the_teacher_opened(opened):
    code, token = opened.room.code, opened.teacher_token
    classroom.publish_view(code, token, "interpolate", {"seeds": "1,2,3"})
    student = ok(app(room=code))
    ok(student.run())  # the switch to the teacher's page
    student.button(key="ip_rate_send").click().run()
    ok(student)
    [sent] = classroom.gallery(code, token)
    assert "seeds=1%2C2%2C3" in sent.link  # AppTest has no page address to put before it


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_when_the_teacher_closes_the_room_the_class_is_told_once_and_leaves(opened):
    code, token = opened.room.code, opened.teacher_token
    student = ok(app(room=code))
    classroom.close_room(code, token)
    ok(student.run())
    assert len(student.toast) == 1
    ok(student.run())
    assert not student.toast, "told once, not on every poll"
    assert "room" not in student.query_params
    assert not sidebar_text(student)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_teachers_and_the_students_room_read_chinese_in_chinese(opened):
    from tests.test_i18n import ENGLISH, visible_texts

    code, token = opened.room.code, opened.teacher_token
    script = ROOM_PAGE.format(lang="zh").replace(
        "from aigc.ui import classroom",
        f"from aigc.ui import classroom, room\nroom.enter({code!r}, {{token}})",
    )
    for who in (repr(token), "None"):
        at = ok(AppTest.from_string(script.replace("{token}", who), default_timeout=60).run())
        english = [t for t in visible_texts(at) if ENGLISH.search(t) and "Latent space" not in t]
        assert english == [], who


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_the_database_going_away_mid_lesson_is_told_and_the_class_carries_on(opened, postgres):
    """pg_ctl stop during a lesson: the teacher and the student each get one notice in their
    words, the picture stays; pg_ctl start: the class follows again, in the same sessions."""
    code, token = opened.room.code, opened.teacher_token
    teacher = ok(app(room=code, teacher=token))
    student = ok(app(room=code))
    words = "database cannot be reached"
    postgres.stop()
    try:
        teacher.number_input(key="ex_seed").set_value(42).run()  # her change cannot be sent
        ok(student.run())  # the poll cannot read it
        for at in (ok(teacher), student):
            assert [t.value for t in at.toast if words in t.value], "told"
            assert at.image, "the picture stays"
        ok(student.run())
        assert not [t for t in student.toast if words in t.value], "told once, not every poll"
    finally:
        postgres.start()
    teacher.number_input(key="ex_seed").set_value(43).run()
    ok(student.run())
    assert student.number_input(key="ex_seed").value == 43  # following again
    assert "Following the teacher" in sidebar_text(student)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_student_reading_chinese_follows_the_teacher_to_another_page_in_chinese(opened):
    code, token = opened.room.code, opened.teacher_token
    student = ok(app(room=code, lang="zh"))
    for page in ("interpolate", "latent_map", "explore"):
        classroom.publish_view(code, token, page, {})
        ok(student.run())  # the pulse's rerun switches her page ...
        ok(student.run())
        assert student.query_params.get("lang") == "zh", page  # ... in her language
        assert student.sidebar.selectbox[0].value == "zh", page


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_in_a_room_a_panel_release_reruns_the_page_so_the_class_sees_it(opened):
    """The desk would keep a release from the teacher's followers until her next rerun: in a
    room the panel sets its state instead, which reruns her page and tells the room."""
    teacher = ok(app(room=opened.room.code, teacher=opened.teacher_token))
    ok(send(teacher, "ex_morph", ready=True))
    data = panel_data(panels(teacher)["ex_morph_directions"])
    assert data["sync_url"] == "" and "ex_desk" not in teacher.session_state
    moved = released(teacher, "ex_morph_directions", offsets=[2.0, 0, 0, 0, 0, 0])
    ok(send(teacher, "ex_morph_directions", released=moved))
    student = ok(app(room=opened.room.code))
    assert student.query_params["pc"] == "2"
