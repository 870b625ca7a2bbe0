"""The classroom in real Chromium across two server processes sharing one store: the
teacher's changes reach a student on the other server, unprompted (her page polls), and her
own change branches her off."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect

from aigc import classroom, store
from tests.browser.test_browser import expect_no_exception, expect_painted, main, picture

pytestmark = pytest.mark.browser


def seed_box(page):
    return main(page).get_by_role("spinbutton", name=re.compile("Seed"))


def test_a_student_on_another_server_follows_the_teacher(new_page, app_url, second_url):
    teacher = new_page("/classroom")
    teacher.get_by_role("button", name="Open a room").click()
    code = teacher.get_by_test_id("stCode").first.inner_text().strip()
    assert re.fullmatch(r"[A-Z0-9]{6,12}", code), code
    token = re.search(r"teacher=([^&]+)", teacher.evaluate("location.href")).group(1)

    student = new_page(f"/?room={code}", base=second_url)
    expect(main(student).get_by_text(f"You are in room {code}")).to_be_visible()  # her page
    expect(student.get_by_test_id("stSidebar").get_by_text("Following the teacher")).to_be_visible()

    teacher.goto(f"{app_url}/?room={code}&teacher={token}")  # the teacher's link, on Explore
    expect_painted(teacher, picture(teacher))
    expect_painted(student, picture(student))  # the class came along, unprompted
    seed_box(teacher).fill("42")
    seed_box(teacher).press("Enter")
    expect(seed_box(student)).to_have_value("42", timeout=15_000)  # no click on her side

    seed_box(student).fill("7")
    seed_box(student).press("Enter")
    expect(student.get_by_test_id("stSidebar").get_by_text("On your own")).to_be_visible()
    seed_box(teacher).fill("43")
    seed_box(teacher).press("Enter")
    student.wait_for_timeout(3000)
    expect(seed_box(student)).to_have_value("7")  # must NOT follow once branched
    student.get_by_role("button", name="Follow the teacher again").click()
    expect(seed_box(student)).to_have_value("43", timeout=15_000)
    expect_no_exception(student)
    expect_no_exception(teacher)


def test_a_followers_pulse_reruns_nothing_and_tells_only_the_version(
    app_url, server_db, monkeypatch
):
    """The poll a follower's page makes twice a second: a small JSON answer from the app's
    own server, the teacher's view version, never her view itself; wrong codes are errors."""
    monkeypatch.setenv("AIGC_FEEDBACK_DB", str(server_db))  # the servers' store
    classroom.reset_limits()
    opened = classroom.open_room("pulse")
    code, token = opened.room.code, opened.teacher_token

    def pulse(room: str) -> tuple[int, dict]:
        url = f"{app_url}/_aigc/room-pulse/{room}?f=f1"
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:
                assert answer.headers["Cache-Control"] == "no-store"
                return answer.status, json.load(answer)
        except urllib.error.HTTPError as e:
            return e.code, json.load(e)

    assert pulse(code) == (200, {"version": 0})
    classroom.publish_view(code, token, "explore", {"seed": "42"})
    time.sleep(classroom.PULSE_CACHE_S)
    assert pulse(code) == (200, {"version": 1})  # the version only: the seed stays unsaid
    assert pulse("ZZZZZZZZ") == (404, {"error": "room_unknown"})
    classroom.close_room(code, token)
    time.sleep(classroom.PULSE_CACHE_S)
    assert pulse(code) == (404, {"error": "room_closed"})
    store.dispose()
