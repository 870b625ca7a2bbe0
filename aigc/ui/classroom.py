"""Classroom: a teacher opens a room and puts the class on the picture she is explaining; the
class joins with a code or a QR code on the projector, follows her, and sends her images.

The teacher's page shows the join code, the students' link as a QR code, who is there, a lock
that keeps the class on her view, and the class gallery (live, large enough for a projector).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from urllib.parse import urlsplit

import segno
import streamlit as st

from aigc import classroom
from aigc.classroom import RoomError
from aigc.ui import room
from aigc.ui.i18n import error_text, tr

GALLERY_REFRESH_S = 2.0
GALLERY_SHOWN = 60


def page() -> None:
    st.title(tr("pages.classroom"))
    st.caption(tr("classroom.intro"))
    m = room.membership()
    if m is None:
        _start_ui()
    elif m.teacher:
        _teacher_ui(m)
    else:
        _student_ui(m)


def base_url() -> str:
    """The server's own address as the visitor reached it: what the class types or scans."""
    parts = urlsplit(st.context.url or "http://localhost:8501/")
    return f"{parts.scheme}://{parts.netloc}"


def _start_ui() -> None:
    teach, join = st.columns(2, gap="large")
    with teach, st.form("room_open", border=True):
        st.subheader(tr("classroom.open_header"))
        title = st.text_input(tr("classroom.title"), max_chars=80, key="room_title")
        if st.form_submit_button(tr("classroom.open"), type="primary"):
            _attempt(lambda: _open(title))
    with join, st.form("room_join", border=True):
        st.subheader(tr("classroom.join_header"))
        code = st.text_input(tr("classroom.code"), max_chars=12, key="room_code")
        if st.form_submit_button(tr("classroom.join")):
            _attempt(lambda: room.enter(code))


def _open(title: str) -> None:
    opened = classroom.open_room(title)
    room.enter(opened.room.code, opened.teacher_token)


def _attempt(call) -> None:
    try:
        call()
    except RoomError as e:
        st.error(error_text(e))
    else:
        st.rerun()


def _teacher_ui(m: room.Membership) -> None:
    try:
        current = classroom.get_room(m.code)
        present = classroom.followers(m.code)
    except RoomError as e:
        st.error(error_text(e))
        st.button(tr("classroom.leave"), on_click=room.leave, key="room_leave")
        return
    link = classroom.student_link(base_url(), m.code)
    code_col, qr_col = st.columns([3, 2], gap="large")
    with code_col:
        if current.title:
            st.subheader(current.title)  # shown as text, never as markup
        st.markdown(tr("classroom.join_code"))
        st.code(m.code, language=None)
        st.caption(tr("classroom.student_link"))
        st.code(link, language=None, wrap_lines=True)
        following = sum(1 for f in present if f.following)
        st.metric(tr("classroom.present"), len(present), help=tr("classroom.present_help"))
        st.caption(tr("classroom.following_count", n=following, total=len(present)))
        st.toggle(
            tr("classroom.lock"),
            value=current.locked,
            help=tr("classroom.lock_help"),
            key="room_lock",
            on_change=_set_lock,
            args=(m,),
        )
        st.button(tr("classroom.close"), on_click=_close, args=(m,), key="room_close")
    with qr_col:
        st.image(qr_png(link), caption=tr("classroom.qr_caption"), width="content")
    st.divider()
    st.fragment(_gallery_ui, run_every=GALLERY_REFRESH_S)(m)


def qr_png(link: str) -> bytes:
    buf = io.BytesIO()
    segno.make(link, error="m").save(buf, kind="png", scale=6, border=2)
    return buf.getvalue()


def _set_lock(m: room.Membership) -> None:
    room.guarded(lambda: classroom.set_locked(m.code, m.token, st.session_state["room_lock"]))


def _close(m: room.Membership) -> None:
    room.guarded(lambda: classroom.close_room(m.code, m.token))
    room.leave()


def _gallery_ui(m: room.Membership) -> None:
    """What the class sent, newest first; large cells for the projector on request."""
    head, size = st.columns([3, 1], vertical_alignment="bottom")
    head.subheader(tr("classroom.gallery"))
    projector = size.toggle(tr("classroom.projector"), key="room_projector")
    sent = room.guarded(lambda: classroom.gallery(m.code, m.token, limit=GALLERY_SHOWN))
    if not sent:
        st.caption(tr("classroom.gallery_empty"))
        return
    cols = st.columns(2 if projector else 5)
    for i, item in enumerate(reversed(sent)):
        with cols[i % len(cols)]:
            st.image(item.png, width="stretch" if projector else "content")
            st.caption(tr("classroom.sent_by", name=item.name or tr("classroom.anonymous")))
            st.markdown(f"[{tr('classroom.open_link')}]({item.link})")


def _student_ui(m: room.Membership) -> None:
    st.subheader(tr("classroom.in_room", code=m.code))
    st.text_input(
        tr("classroom.your_name"),
        max_chars=40,
        key="room_name",
        on_change=_rename,
        args=(m,),
        help=tr("classroom.your_name_help"),
    )
    if m.following:
        st.info(tr("classroom.following_info"))
    else:
        st.warning(tr("classroom.branched_info"))
        st.button(tr("room.follow_again"), on_click=room.follow_again, key="room_follow_page")
    st.button(tr("classroom.leave"), on_click=room.leave, key="room_leave")


def _rename(m: room.Membership) -> None:
    m.name = st.session_state["room_name"].strip()


def send_ui(png: bytes | Callable[[], bytes], link: str, key: str) -> None:
    """For a student in a room: send the image in front of her, with its link, to the
    teacher's gallery."""
    m = room.membership()
    if m is None or m.teacher:
        return
    if st.button(tr("classroom.send"), key=f"{key}_send", icon="📤"):
        try:
            classroom.send(m.code, m.follower_id, m.name, png() if callable(png) else png, link)
        except RoomError as e:
            st.toast(error_text(e), icon="⚠️")
        else:
            st.toast(tr("classroom.sent"), icon="✅")
