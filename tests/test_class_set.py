"""A class room's own training set: everyone sends what they drew on Your data, the teacher
takes the whole set and trains on it while the class watches. Core on both stores, then the
page as a teacher and two students use it (AppTest sessions sharing one store)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from aigc import classroom, own_set
from aigc.classroom import RoomError
from aigc.ui import own_data
from tests.test_hostile_zips import archive, digits
from tests.test_own_data_page import draw, drawing, upload


def _png(i: int) -> bytes:
    im = np.zeros((1, 28, 28), np.uint8)
    im[0, 4 + i % 10 : 24, 12:16] = 255
    return own_set.as_pngs(own_set.added(own_set.empty(), im, ["x"]))[0][1]


def drawings(n: int, name: str = "7") -> list[tuple[str, bytes]]:
    return [(name, _png(i)) for i in range(n)]


def test_sending_again_replaces_ones_own_and_only_the_teacher_reads_the_set(store_url):
    opened = classroom.open_room("drawing lesson")
    code, token = opened.room.code, opened.teacher_token
    assert classroom.send_drawings(code, "ann", drawings(3)) == 3
    assert classroom.send_drawings(code, "bob", drawings(2, "my 1")) == 5
    assert classroom.send_drawings(code, "ann", drawings(4)) == 6, "Ann's 4 replace her 3"
    got = classroom.class_drawings(code, token)
    assert sorted(d.class_name for d in got) == ["7"] * 4 + ["my 1"] * 2
    assert own_set.from_pngs([(d.class_name, d.png) for d in got]).counts() == {"7": 4, "my 1": 2}
    with pytest.raises(RoomError) as info:
        classroom.class_drawings(code, "a student's guess")
    assert info.value.code == "not_teacher"


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_forged_and_oversized_sends_are_refused_and_change_nothing(store_url, monkeypatch):
    opened = classroom.open_room()
    code = opened.room.code
    classroom.send_drawings(code, "ann", drawings(2))
    cases = {
        "drawing_not_png": [("7", b"GIF89a....")],
        "class_name_invalid": [("\x00bad", _png(0))],
        "drawings_too_many": drawings(classroom.MAX_DRAWINGS_PER_PERSON + 1),
    }
    for expected, sent in cases.items():
        with pytest.raises(RoomError) as info:
            classroom.send_drawings(code, "ann", sent)
        assert info.value.code == expected
    monkeypatch.setattr(classroom, "MAX_DRAWINGS_PER_ROOM", 4)
    with pytest.raises(RoomError) as info:
        classroom.send_drawings(code, "bob", drawings(3))
    assert info.value.code == "class_set_full"
    assert len(classroom.class_drawings(code, opened.teacher_token)) == 2, "nothing changed"


def test_a_png_that_is_not_28_pixels_is_left_out_unread():
    buf = io.BytesIO()
    Image.new("L", (2800, 2800)).save(buf, "PNG")
    sent = [("7", _png(0)), ("7", buf.getvalue()), ("7", b"\x89PNG\r\n\x1a\nbroken"), ("8", b"")]
    assert own_set.from_pngs(sent).counts() == {"7": 1}


PAGE = """
import streamlit as st
from aigc.ui import own_data, room
st.session_state.setdefault("lang", "en")
room.join_from_url()
own_data.page()
"""


def member(tmp_path, **query: str) -> AppTest:
    path = tmp_path / "own_data_room.py"
    path.write_text(PAGE)
    at = AppTest.from_file(str(path), default_timeout=60)
    at.query_params.update(query)
    return at.run()


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_students_send_their_sets_and_the_teacher_trains_on_the_class_set(store_url, tmp_path):
    opened = classroom.open_room("drawing lesson")
    code, token = opened.room.code, opened.teacher_token
    ann = member(tmp_path, room=code)
    assert not ann.exception and not [b for b in ann.button if b.key == "od_take_class"]
    ann = upload(ann, {"set.zip": archive(digits(n=6))})
    ann.button(key="od_send_class").click().run()
    assert "the class's set holds 12 now" in ann.success[0].value
    bob = draw(member(tmp_path, room=code), {"png": drawing("ring"), "n": 1})
    bob.button(key="od_send_class").click().run()
    teacher = member(tmp_path, room=code, teacher=token)
    teacher.button(key="od_take_class").click().run()
    assert not teacher.exception
    assert "13 drawings from 2 people" in teacher.success[0].value
    assert teacher.session_state[own_data.SET].counts() == {"0": 7, "1": 6}
