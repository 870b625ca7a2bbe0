"""The morph panel's routes: the vendored runtime as committed, graphs by their sha256, and a
session's desk, which takes the panel's releases and nothing else."""

import asyncio
import gzip
import hashlib
import json
from concurrent.futures import ThreadPoolExecutor

from starlette.requests import Request

from aigc.ui import desks, morph_panel


def call(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None):
    """Call the route that matches `path` the way Starlette would, the body in two chunks."""
    chunks = [body[: len(body) // 2], body[len(body) // 2 :]]

    async def receive():
        chunk = chunks.pop(0) if chunks else b""
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    for route in morph_panel.routes():
        match, child = route.matches({"type": "http", "path": path, "method": method})
        if match.name == "FULL":
            scope = {
                "type": "http",
                "method": method,
                "path": path,
                "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
                **child,
            }
            # A thread of its own: the browser tests' Playwright keeps an event loop running
            # in this one for the whole session.
            with ThreadPoolExecutor(1) as pool:
                return pool.submit(asyncio.run, route.endpoint(Request(scope, receive))).result()
    raise AssertionError(f"no {method} route for {path}")


def post(token: str, payload: object, content_type: str = "application/json"):
    """A release as morph.js posts it to a session's desk."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return call("POST", f"/morph/sync/{token}", body, {"content-type": content_type})


def _get(path: str, accept: str = "gzip, deflate, br"):
    return call("GET", path, headers={"accept-encoding": accept})


def test_the_runtime_is_served_as_committed_and_pinned():
    for name, info in morph_panel.PROVENANCE["files"].items():
        response = _get(f"{morph_panel.PREFIX}/{name}")
        assert response.headers["content-encoding"] == "gzip"
        assert response.headers["content-type"].startswith(morph_panel.TYPES[name])
        assert "immutable" in response.headers["cache-control"]
        assert hashlib.sha256(gzip.decompress(response.body)).hexdigest() == info["sha256"]
    plain = _get(f"{morph_panel.PREFIX}/{morph_panel.ORT_MODULE}", accept="identity")
    assert "content-encoding" not in plain.headers and plain.body.startswith(b"/*!")


def test_nothing_else_in_the_vendor_folder_is_served():
    assert _get(f"{morph_panel.PREFIX}/PROVENANCE.json").status_code == 404


def test_graphs_are_served_by_digest_and_the_least_recently_shelved_go_first():
    shelf = morph_panel.GraphShelf(kept=2)
    graphs = [morph_panel.Graph.of(bytes([i]) * 1000) for i in range(3)]
    first, second = (shelf.put(g) for g in graphs[:2])
    assert first == hashlib.sha256(graphs[0].onnx).hexdigest()
    shelf.put(graphs[0])  # shelved again by a render: now the newest
    shelf.put(graphs[2])
    assert shelf.get(second) is None and shelf.get(first) is not None
    assert gzip.decompress(shelf.get(graphs[2].digest)) == bytes([2]) * 1000
    digest = morph_panel.SHELF.put(morph_panel.Graph.of(b"graph"))
    assert gzip.decompress(_get(f"/morph/graph/{digest}.onnx").body) == b"graph"
    assert _get(f"/morph/graph/{'0' * 64}.onnx").status_code == 404


def _desk() -> desks.Desk:
    desk = desks.Desk()
    desks.DESKS[desk.token] = desk
    desk.offer({"offsets": 2}, lambda values: f"/?pc={values['offsets'][0]:g}", "gan")
    return desk


def test_a_desk_keeps_the_newest_release_until_the_page_takes_it_once():
    desk = _desk()
    answer = post(desk.token, {"seq": 2, "values": {"offsets": [1.5, 0]}})
    assert answer.status_code == 200 and json.loads(answer.body) == {"link": "/?pc=1.5"}
    older = post(desk.token, {"seq": 1, "values": {"offsets": [-1, 0]}})  # overtaken in flight
    assert older.status_code == 200
    assert desk.take() == ({"offsets": [1.5, 0.0]}, "gan")
    assert desk.take() is None


def test_a_desk_refuses_what_the_panel_cannot_have_sent():
    desk = _desk()
    for payload, content_type, status in [
        ({"seq": 1, "values": {"offsets": [1.0, 2.0]}}, "text/plain", 415),
        (b"{" * 20_000, "application/json", 413),
        (b"\xff\xfe", "application/json", 400),
        ({"seq": 1, "values": {"offsets": [1.0]}}, "application/json", 400),
        ({"seq": 1, "values": {"offsets": [1.0, float("nan")]}}, "application/json", 400),
        ({"seq": "1", "values": {"offsets": [1.0, 2.0]}}, "application/json", 400),
        ({"values": {"offsets": [1.0, 2.0]}}, "application/json", 400),
        ([1, 2], "application/json", 400),
    ]:
        assert post(desk.token, payload, content_type).status_code == status, payload
    assert desk.take() is None
    assert post("forged-token", {"seq": 1, "values": {"offsets": [1, 2]}}).status_code == 404


def test_a_sessions_desk_goes_with_it():
    desk = _desk()
    token = desk.token
    del desk  # the session's state let go of it
    assert post(token, {"seq": 1, "values": {"offsets": [1, 2]}}).status_code == 404
