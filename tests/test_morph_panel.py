"""The morph panel's routes: the vendored runtime as committed, and graphs by their sha256."""

import asyncio
import gzip
import hashlib
from concurrent.futures import ThreadPoolExecutor

from starlette.requests import Request

from aigc.ui import morph_panel


def _get(path: str, accept: str = "gzip, deflate, br"):
    """Call the route that matches `path` the way Starlette would."""
    for route in morph_panel.routes():
        match, child = route.matches({"type": "http", "path": path, "method": "GET"})
        if match.name == "FULL":
            scope = {
                "type": "http",
                "method": "GET",
                "path": path,
                "headers": [(b"accept-encoding", accept.encode())],
                **child,
            }
            # A thread of its own: the browser tests' Playwright keeps an event loop running
            # in this one for the whole session.
            with ThreadPoolExecutor(1) as pool:
                return pool.submit(asyncio.run, route.endpoint(Request(scope))).result()
    raise AssertionError(f"no route for {path}")


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
