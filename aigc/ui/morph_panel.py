"""The morph panel: sliders whose picture repaints in the browser while they are dragged.

The browser runs the model's ONNX graph (`aigc.morph`) with ONNX Runtime Web on every `input`
event and paints the 28x28 pixels on a canvas; only on release (`change`) does the value go
back to Python, once per gesture, through the component's state.

How the bytes reach the browser. The app is an `st.App` (streamlit_app.py), and an `st.App`
takes Starlette routes of its own (Streamlit 1.67, `starlette_app.App(routes=...)`; only
`/_stcore/`, `/media/`, `/component/` and `/static/` are reserved). `routes()` serves
ONNX Runtime Web's module and `.wasm` from the committed `.gz` files with
`Content-Encoding: gzip` (3.7 MB on the wire for the 14 MB binary), and each model's graph
by its sha256. The alternatives, read in the same source:

- components v2 `asset_dir` is found only through an installed distribution's
  `pyproject.toml` (`components/v2/manifest_scanner.py`), so `pip install -r requirements.txt`
  alone would not find it;
- `server.enableStaticServing` sends `.wasm` as `application/wasm` (`guess_content_type`), but
  Streamlit's GZip middleware re-compresses every response at level 9 on every request: a
  full second of a 2-core server per visitor for the binary, and 14 MB committed raw;
- inline (`js=`, the bytes in `data`) puts the payload into the element's protobuf, sent again
  whenever the panel's data changes.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

import streamlit as st
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

HERE = Path(__file__).resolve().parent / "morph"
VENDOR = HERE / "vendor"
PROVENANCE = json.loads((VENDOR / "PROVENANCE.json").read_text())
ORT_MODULE, ORT_WASM = "ort.wasm.bundle.min.mjs", "ort-wasm-simd-threaded.wasm"
PREFIX = f"/morph/ort-{PROVENANCE['version']}"  # the version in the path: cached for a year
TYPES = {ORT_MODULE: "text/javascript", ORT_WASM: "application/wasm"}
IMMUTABLE = "public, max-age=31536000, immutable"
GRAPHS_KEPT = 32  # a conv VAE's graph is 5 MB: at most ~160 MB held for recent models


@dataclass(frozen=True)
class Slider:
    """One range input: which graph input it moves, and how."""

    input: str  # "offsets", "raw_values" (its "raw_mask" is set on first touch) or "amount"
    index: int
    label: str  # shown beside it, and its aria-label
    min: float
    max: float
    step: float


class GraphShelf:
    """The graphs the panels on this server point at, gzip-compressed once, by sha256: the
    route serves them to whichever session asks. Bounded; the oldest go first."""

    def __init__(self, kept: int = GRAPHS_KEPT):
        self._kept = kept
        self._graphs: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, graph: bytes) -> str:
        digest = hashlib.sha256(graph).hexdigest()
        with self._lock:
            if digest not in self._graphs:
                self._graphs[digest] = gzip.compress(graph, compresslevel=1, mtime=0)
                while len(self._graphs) > self._kept:
                    self._graphs.popitem(last=False)
            self._graphs.move_to_end(digest)
        return digest

    def get(self, digest: str) -> bytes | None:
        with self._lock:
            return self._graphs.get(digest)


SHELF = GraphShelf()


def _base() -> str:
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{base}" if base else ""


def _gzipped(request: Request, packed: bytes, media_type: str) -> Response:
    """Precompressed bytes as they are, or inflated for the rare client that takes no gzip.
    The Content-Encoding header also keeps Streamlit's GZip middleware from compressing again."""
    headers = {"Cache-Control": IMMUTABLE, "X-Content-Type-Options": "nosniff"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(
            packed, media_type=media_type, headers=headers | {"Content-Encoding": "gzip"}
        )
    return Response(gzip.decompress(packed), media_type=media_type, headers=headers)


@cache
def _vendored(name: str) -> bytes:
    return (VENDOR / PROVENANCE["files"][name]["served_as"]).read_bytes()


async def _runtime_file(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in TYPES:
        return Response(status_code=404)
    return _gzipped(request, _vendored(name), TYPES[name])


async def _graph(request: Request) -> Response:
    packed = SHELF.get(request.path_params["digest"])
    if packed is None:
        return Response(status_code=404)
    return _gzipped(request, packed, "application/octet-stream")


def routes() -> list[BaseRoute]:
    """What `st.App(routes=...)` needs for the panel: the runtime and the graphs."""
    base = _base()
    return [
        Route(f"{base}{PREFIX}/{{name}}", _runtime_file, methods=["GET"]),
        Route(f"{base}/morph/graph/{{digest}}.onnx", _graph, methods=["GET"]),
    ]


@cache
def _component():
    return st.components.v2.component(
        "aigc_morph_panel",
        js=(HERE / "morph.js").read_text(),
        css=(HERE / "morph.css").read_text(),
    )


def morph_panel(
    graph: bytes,
    inputs: dict[str, list[float]],
    sliders: Sequence[Slider],
    *,
    alt: str,
    key: str,
) -> dict[str, list[float]] | None:
    """Mount the panel on a model's graph (`aigc.morph.export_onnx`) at `inputs`
    (`aigc.morph.morph_inputs`); return the inputs as the person released them, or None
    before the first release. `alt` describes the picture to screen readers."""
    base = _base()
    data = {
        "graph_url": f"{base}/morph/graph/{SHELF.put(graph)}.onnx",
        "ort_url": f"{base}{PREFIX}/{ORT_MODULE}",
        "wasm_url": f"{base}{PREFIX}/{ORT_WASM}",
        "inputs": inputs,
        "sliders": [asdict(s) for s in sliders],
        "alt": alt,
    }
    # "released", not "values": the result is a dict, and `.values` is its method.
    result = _component()(
        data=data, key=key, default={"released": None}, on_released_change=lambda: None
    )
    return result["released"]
