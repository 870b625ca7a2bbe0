"""Where a session's morph panel leaves what a person released, without a rerun (see
`morph_panel`): the browser posts the values to `/morph/sync/<token>`, the session's `Desk`
checks them against what its page offered and answers with the page's link for them, and the
page takes them at its next run.

Like the panel, this module imports no torch: the app's module imports it for its routes.
"""

from __future__ import annotations

import json
import math
import secrets
import threading
import weakref
from collections.abc import Callable

import streamlit as st
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

SYNC_BYTES = 16_384  # a release is a few hundred numbers; anything longer is refused unread

Link = Callable[[dict[str, list[float]]], str]  # released slider inputs -> the page's link


class Desk:
    """Where one session's panel leaves what a person released, without a rerun: the route
    `post`s it, the page `take`s it at its next run. Held in the session's state; `DESKS`
    finds it by its token only while the session lives (weakly), so the route reaches no
    other session's desk, and a session that ended leaves nothing behind.

    What the page `offer`s with each render (the slider inputs' shapes, the link for released
    values, and what the values are `about`, handed back with them) is what the next post is
    checked against and answered with: the page takes a post before it offers again. The link
    function runs on the server's event loop: it must be quick and read no Streamlit state.
    """

    def __init__(self) -> None:
        self.token = secrets.token_urlsafe(16)
        self._lock = threading.Lock()
        self._shapes: dict[str, int] = {}
        self._link: Link | None = None
        self._about: object = None
        self._posted: dict[str, list[float]] | None = None
        self._seq = -1

    def offer(self, shapes: dict[str, int], link: Link, about: object = None) -> None:
        with self._lock:
            self._shapes, self._link, self._about = dict(shapes), link, about

    def post(self, payload: object) -> str | None:
        """A release as the browser posted it ({"seq": n, "values": {...}}); the page's link
        for it, or None if it is not the panel's (`released`). A post older than one already
        taken (two in flight, out of order) changes nothing but is answered."""
        if not isinstance(payload, dict) or type(payload.get("seq")) is not int:
            return None
        with self._lock:
            values, link = released(payload.get("values"), self._shapes), self._link
            if values is None or link is None:
                return None
            if payload["seq"] > self._seq:
                self._seq, self._posted = payload["seq"], values
        return link(values)

    def take(self) -> tuple[dict[str, list[float]], object] | None:
        """The last release posted since the last take, once, with what it is `about`."""
        with self._lock:
            posted, self._posted = self._posted, None
            return None if posted is None else (posted, self._about)


DESKS: weakref.WeakValueDictionary[str, Desk] = weakref.WeakValueDictionary()


def take_posted(key: str) -> tuple[dict[str, list[float]], object] | None:
    """What was posted to this session's desk under `key` since it was last taken, if any."""
    found = st.session_state.get(key)
    return found.take() if found is not None else None


def desk(key: str) -> Desk:
    """This session's desk under `key` in its state, made on first use."""
    if key not in st.session_state:
        st.session_state[key] = Desk()
    found = st.session_state[key]
    DESKS[found.token] = found
    return found


async def sync(request: Request) -> Response:
    """POST /morph/sync/<token>: a release for that session's desk; answers {"link": ...}."""
    found = DESKS.get(request.path_params["token"])
    if found is None:
        return JSONResponse({"error": "unknown"}, status_code=404)
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return JSONResponse({"error": "json only"}, status_code=415)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > SYNC_BYTES:
            return JSONResponse({"error": "too long"}, status_code=413)
    try:
        payload = json.loads(body)
    except ValueError:  # also a body that is not UTF-8
        return JSONResponse({"error": "not json"}, status_code=400)
    link = found.post(payload)
    if link is None:
        return JSONResponse({"error": "not the panel's"}, status_code=400)
    return JSONResponse({"link": link}, headers={"Cache-Control": "no-store"})


def released(payload: object, shapes: dict[str, int]) -> dict[str, list[float]] | None:
    """A "released" state as the browser sent it, if it has exactly the slider inputs of
    `shapes` (name -> length), each a list of finite numbers; else None. Anything may come
    over the websocket, so nothing else is taken."""
    if not isinstance(payload, dict) or set(payload) != set(shapes):
        return None
    checked = {}
    for name, n in shapes.items():
        values = payload[name]
        if not isinstance(values, list) or len(values) != n:
            return None
        if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in values):
            return None
        if not all(math.isfinite(x) for x in values):
            return None
        checked[name] = [float(x) for x in values]
    return checked
