"""This session's place in a classroom: the teacher who leads, a student who follows her, or
a student who branched off to explore on their own.

Streamlit has no push between sessions, so the class follows by polling: the teacher's every
published view (the page and its link's query) goes to the store, and a small script in each
follower's sidebar (`room_pulse.js`) asks the server every POLL_S seconds for the version, a
JSON answer that reruns nothing, and asks Streamlit for a rerun only when it moves; that rerun
takes the view. (A fragment rerunning on a timer cost the server a whole rerun per follower
per poll, half a core for 30 idle followers: bench section classroom.) A follower's
own change of any control branches it off (unless the teacher locked the class); "follow
again" returns.
The teacher's secret lives in her session and her address bar, never in a link the page
shares.
"""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from aigc import classroom
from aigc.classroom import RoomError
from aigc.ui.i18n import error_text, tr
from aigc.ui.served import base_path

MEMBERSHIP = "room_membership"  # session_state: this session's Membership, if in a room
# A follower sees the teacher's change within about this plus one rerun; each poll is a cached
# version read, so a shorter one buys lag for a little idle CPU (docs/bench.md, classroom).
POLL_S = 0.3
HEARTBEAT_S = 5.0  # how often a follower tells the room it is still there


@dataclass
class Membership:
    code: str
    token: str | None  # the teacher's secret; None for a student
    follower_id: str = field(default_factory=lambda: secrets.token_hex(8))
    name: str = ""
    following: bool = True
    applied: int = 0  # the version of the teacher's view this session last took
    shown: tuple[str, tuple] | None = None  # (page, query) this session last took from her
    run: tuple[dict[str, str], str] | None = None  # her live run's (settings, id), to watch
    published: tuple | None = None  # the teacher's last (page, query, run), not to repeat it
    shared: tuple | None = None  # the teacher's run as last shared through the store
    last_beat: float = 0.0

    @property
    def teacher(self) -> bool:
        return self.token is not None


def membership() -> Membership | None:
    return st.session_state.get(MEMBERSHIP)


def code() -> str | None:
    """The code of the room this session is in, if any."""
    m = membership()
    return m.code if m is not None else None


def url_params() -> dict[str, str]:
    """What the address bar keeps of the room, so a reload stays in it: the code, and for the
    teacher her secret. Links the page shares leave both out."""
    m = membership()
    if m is None:
        return {}
    return {"room": m.code, "teacher": m.token} if m.teacher else {"room": m.code}


def keep_in_address_bar() -> None:
    """On every run: the room stays in the address bar whatever page is open."""
    for key, value in url_params().items():
        if st.query_params.get(key) != value:
            st.query_params[key] = value


def enter(code: str, token: str | None = None) -> None:
    """Join `code` as a student, or as its teacher with her token; a RoomError says why not."""
    code = code.strip().upper()
    classroom.get_room(code)
    if token is not None and not classroom.is_teacher(code, token):
        raise RoomError("not the teacher's link", "not_teacher")
    st.session_state[MEMBERSHIP] = Membership(code, token)
    st.session_state.pop(NOTICE, None)


def leave() -> None:
    st.session_state.pop(MEMBERSHIP, None)
    for key in ("room", "teacher"):
        st.query_params.pop(key, None)


def join_from_url() -> None:
    """A teacher's or student's link being opened (``?room=CODE[&teacher=TOKEN]``)."""
    code = st.query_params.get("room")
    m = membership()
    if not code or (m is not None and m.code == code.upper()):
        return
    try:
        enter(code, st.query_params.get("teacher"))
    except RoomError as e:
        st.query_params.pop("room", None)
        st.query_params.pop("teacher", None)
        st.toast(error_text(e), icon="⚠️")


def lead(page: str, query: dict[str, str], run_id: str | None = None) -> None:
    """The teacher's view goes to the class (once per change: each is a write to the store)."""
    m = membership()
    if m is None or not m.teacher:
        return
    published = (page, tuple(sorted(query.items())), run_id)
    if published != m.published:
        guarded(lambda: classroom.publish_view(m.code, m.token, page, dict(query), run_id))
        m.published = published


def share_run(run_id: str, progress: tuple, record: Callable[[], bytes]) -> None:
    """The teacher's live run goes to the store for followers on other servers, once per new
    `progress` (e.g. step and status): `record` makes the bytes only then."""
    m = membership()
    if m is None or not m.teacher or m.shared == (run_id, progress):
        return
    guarded(lambda: classroom.publish_run(m.code, m.token, run_id, record()))
    m.shared = (run_id, progress)


def shared_run(run_id: str) -> bytes | None:
    """For a follower whose server does not hold the teacher's run: its record in the store."""
    m = membership()
    if m is None:
        return None
    return guarded(lambda: classroom.room_run(m.code, run_id))


def on_publish(page: str, query: dict[str, str]) -> None:
    """A page wrote its state into the URL. The teacher's goes to the class; a follower whose
    state is no longer the teacher's has changed a control, and branches off (or, in a locked
    room, is put back)."""
    m = membership()
    if m is None:
        return
    if m.teacher:
        lead(page, query)
        return
    view = (page, tuple(sorted(query.items())))
    if m.following and m.shown is not None and view != m.shown:
        room = guarded(lambda: classroom.get_room(m.code))
        if room is not None and room.locked:
            m.applied = 0  # take the teacher's view again on the next run
            st.toast(tr("room.locked_notice"), icon="🔒")
            st.rerun(scope="app")
        m.following = False
        _beat(m, force=True)
        # The change may come from a fragment's rerun, which leaves the sidebar's room line
        # as it was: redraw the app once, so she sees that she is on her own.
        st.rerun(scope="app")


def teachers_run() -> tuple[dict[str, str], str] | None:
    """The teacher's live run, for a follower on her Train live page: (settings, run id)."""
    m = membership()
    if m is None or m.teacher or not m.following or m.shown is None:
        return None
    return m.run if m.shown[0] == "train_live" else None


def follow_again() -> None:
    m = membership()
    if m is not None:
        m.following, m.applied = True, 0
        _beat(m, force=True)


def take_teacher_view(current: str) -> str | None:
    """For a follower, before the page draws: the teacher's newest view goes into the URL the
    page restores from. Returns the page to switch to when she is on another one."""
    m = membership()
    if m is None or m.teacher or not m.following:
        return None
    view = guarded(lambda: classroom.current_view(m.code))
    if view is None or view.version == m.applied:
        return None
    m.applied = view.version
    m.shown = (view.page, tuple(sorted(view.query.items())))
    m.run = (view.query, view.run_id) if view.run_id else None
    keep = {k: v for k, v in st.query_params.to_dict().items() if k in ("lang", "room")}
    st.query_params.from_dict({**view.query, **keep})
    return view.page if view.page != current else None


ROOM_GONE = frozenset({"room_closed", "room_unknown"})
NOTICE = "_room_notice"  # session_state: the code of the last store problem told


def guarded(call):
    """A store call that may fail: a notice, not a crash, told once per problem (a follower
    polls several times a second), and the next poll tries again. A room that was closed or expired
    is left."""
    try:
        result = call()
    except RoomError as e:
        if e.code in ROOM_GONE:
            leave()
        if st.session_state.get(NOTICE) != e.code:
            st.session_state[NOTICE] = e.code
            st.toast(error_text(e), icon="⚠️")
        return None
    st.session_state.pop(NOTICE, None)
    return result


def _beat(m: Membership, force: bool = False) -> None:
    now = time.monotonic()
    if force or now - m.last_beat >= HEARTBEAT_S:
        guarded(lambda: classroom.heartbeat(m.code, m.follower_id, m.name, m.following))
        m.last_beat = now


def sidebar_ui() -> None:
    """The room's line in the sidebar on every page: who leads, and whether this session
    follows; a follower's poll for the teacher's next change runs here."""
    m = membership()
    if m is None:
        return
    if m.teacher:
        st.caption(tr("room.teaching", code=m.code))
        return
    _beat(m)
    if m.following:
        st.caption(tr("room.following", code=m.code))
    else:
        st.caption(tr("room.branched", code=m.code))
        st.button(tr("room.follow_again"), on_click=follow_again, key="room_follow_again")
    _pulse_component()(
        data={
            "url": f"{base_path()}{PULSE_PATH}/{m.code}?f={m.follower_id}",
            "applied": m.applied,
            "following": m.following,
            "every_ms": int(POLL_S * 1000),
        },
        key="room_pulse",  # its trigger reruns the app, which takes the teacher's view
    )


# -- the pulse a follower's page polls -------------------------------------------------------

PULSE_PATH = "/_aigc/room-pulse"


@functools.cache
def _pulse_component():
    return st.components.v2.component(
        "aigc_room_pulse", js=(Path(__file__).with_name("room_pulse.js")).read_text()
    )


def _pulse(request: Request) -> JSONResponse:
    """GET .../room-pulse/CODE?f=FOLLOWER: {"version": n}, or {"error": code} with 404 (unknown
    or closed room), 429 (rate limited) or 503 (store unreachable). Starlette runs a plain
    function endpoint on its thread pool, so the store call never blocks the event loop."""
    no_store = {"Cache-Control": "no-store"}
    try:
        version = classroom.pulse(request.path_params["code"], request.query_params.get("f", ""))
    except RoomError as e:
        status = {"rate_limited": 429, "store_unavailable": 503}.get(e.code, 404)
        return JSONResponse({"error": e.code}, status_code=status, headers=no_store)
    return JSONResponse({"version": version}, headers=no_store)


def routes() -> list[Route]:
    """What `st.App(routes=...)` needs for the followers' pulse."""
    return [Route(f"{base_path()}{PULSE_PATH}/{{code}}", _pulse, methods=["GET"])]
