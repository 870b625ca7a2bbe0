"""The morph panel: sliders whose picture repaints in the browser while they are dragged.

The browser runs the model's ONNX graph (`aigc.morph`) with ONNX Runtime Web on every `input`
event and paints the 28x28 pixels on a canvas; only on release (`change`) does the value go
back to Python, once per gesture, through the component's state.

This module imports no torch (nor anything that does): the app's module imports it for its
routes, and torch's import must wait for the server's lifespan hook (streamlit_app.py), where
it overlaps the boot.

One panel is several instances of one component, so a page keeps its layout: a `picture`
(the canvas, over the server's PNG until the graph has painted, and the judges' verdict
under it, from the same graph), `sliders` blocks, each where the page's own sliders would be,
and the page's `link`. They share one `group` in the browser (morph.js).

A release costs the server no rerun. The browser posts the released values to the session's
`Desk` (`desks`, `/morph/sync/<token>`); the route answers with the page's link for them, which the
browser writes into the address bar and the link block; the page takes the values into its
session state when it next runs for any reason (a click, a page switch), before it draws, so
ratings, the verdict and everything else read them as if a slider had rerun it. Where the
server must act on the release at once (a classroom, whose followers watch the page), or the
post fails (a proxy that sends the route to another server), the panel sets its state
instead, which reruns the page as a Streamlit slider does.

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

import base64
import gzip
import hashlib
import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from aigc.ui import desks
from aigc.ui.i18n import tr
from aigc.ui.served import base_path

if TYPE_CHECKING:
    from aigc.render import Frame

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent / "morph"
VENDOR = HERE / "vendor"
PROVENANCE = json.loads((VENDOR / "PROVENANCE.json").read_text())
ORT_MODULE, ORT_WASM = "ort.wasm.bundle.min.mjs", "ort-wasm-simd-threaded.wasm"
PREFIX = f"/morph/ort-{PROVENANCE['version']}"  # the version in the path: cached for a year
TYPES = {ORT_MODULE: "text/javascript", ORT_WASM: "application/wasm"}
IMMUTABLE = "public, max-age=31536000, immutable"
GRAPHS_KEPT = 32  # a conv VAE's graph is 5 MB: at most ~160 MB held for recent models
SLIDERS_ENV = "AIGC_SLIDERS"  # "native": Streamlit's own sliders for every visitor
SLIDERS_PARAM = "sliders"  # ?sliders=native (or =live): the same choice, for one session
SLIDER_CHOICES = ("live", "native")
_ASKED = "morph_sliders"  # session state: the session's SLIDERS_PARAM
_LIVE = "morph_live"  # session state: "ready" once a panel painted in this browser, or "failed"


@dataclass(frozen=True)
class Slider:
    """One range input: which graph input it moves, and how."""

    input: str  # "offsets", "raw_values" (its "raw_mask" is set on first touch) or "amount"
    index: int
    label: str  # shown beside it
    min: float
    max: float
    step: float
    aria: str = ""  # its aria-label where the visible label is terse ("z3"); else `label`
    help: str = ""  # a tooltip


@dataclass(frozen=True)
class Readout:
    """The judges' verdict under the picture, which the browser writes again after each paint
    from the graph's outputs: the catalogue's sentences with their fields left blank for it
    (`template`), and the server's own verdict, shown until the graph has painted."""

    says: str  # the classifier's sentence: {name} and {p|.0%}
    real: str  # the discriminator's: {p|.0%}
    names: tuple[str, ...]  # the class names, in the page's language
    help: str
    label: int | None  # the server's verdict on the look it rendered
    confidence: float
    realness: float | None


def readout(frame: Frame, names: Sequence[str]) -> Readout:
    """`widgets.readout_ui`'s verdict on a frame (`names`: the classes' names), for the panel
    to write again after each repaint."""
    return Readout(
        says=template("widgets.says", "name", "p"),
        real=template("widgets.real", "p"),
        names=tuple(names),
        help=tr("widgets.readout_help"),
        label=frame.label,
        confidence=frame.confidence,
        realness=frame.realness,
    )


class _Blank:
    """A field left for the browser: formats as ``{name|spec}``."""

    def __init__(self, name: str):
        self.name = name

    def __format__(self, spec: str) -> str:
        return "{" + self.name + (f"|{spec}" if spec else "") + "}"


def template(key: str, *fields: str) -> str:
    """The catalogue's text for `key` in the page's language with `fields` left blank, as
    morph.js fills them (a string; ``.N%`` for a share, as Python writes it)."""
    return tr(key, **{name: _Blank(name) for name in fields})


@dataclass(frozen=True)
class Graph:
    """An exported graph and its sha256, hashed once: the panel re-shelves it on every
    render, and a 5 MB graph would cost a hash each time."""

    onnx: bytes
    digest: str

    @classmethod
    def of(cls, onnx: bytes) -> Graph:
        return cls(onnx, hashlib.sha256(onnx).hexdigest())


class GraphShelf:
    """The graphs the panels on this server point at, gzip-compressed once, by sha256: the
    route serves them to whichever session asks, and nothing lists them, so a session's own
    model is fetched only by whoever has its digest. Bounded; the least recently shelved go
    first, and every render shelves its graph again, so a page's graph is always there."""

    def __init__(self, kept: int = GRAPHS_KEPT):
        self._kept = kept
        self._graphs: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, graph: Graph) -> str:
        with self._lock:
            if graph.digest in self._graphs:
                self._graphs.move_to_end(graph.digest)
                return graph.digest
        packed = gzip.compress(graph.onnx, compresslevel=1, mtime=0)  # outside the lock
        with self._lock:
            self._graphs[graph.digest] = packed
            self._graphs.move_to_end(graph.digest)
            while len(self._graphs) > self._kept:
                self._graphs.popitem(last=False)
        return graph.digest

    def get(self, digest: str) -> bytes | None:
        with self._lock:
            return self._graphs.get(digest)


SHELF = GraphShelf()


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
    """What `st.App(routes=...)` needs for the panel: the runtime, the graphs, the desks."""
    base = base_path()
    return [
        Route(f"{base}{PREFIX}/{{name}}", _runtime_file, methods=["GET"]),
        Route(f"{base}/morph/graph/{{digest}}.onnx", _graph, methods=["GET"]),
        Route(f"{base}/morph/sync/{{token}}", desks.sync, methods=["POST"]),
    ]


def take_asked() -> None:
    """A link's ``?sliders=`` choice, kept for the session (the pages' own links leave it out)."""
    asked = st.query_params.get(SLIDERS_PARAM)
    if asked in SLIDER_CHOICES:
        st.session_state[_ASKED] = asked


def mode() -> str:
    """Who draws a page's live sliders. "live": the panel, repainting in the browser while
    dragged. "probe": Streamlit's own, while a hidden panel picture loads the runtime and the
    graph and says whether it painted (nothing changes for a browser where it never can: no
    WebAssembly, a blocked download, a script error). "native": Streamlit's own only, when
    asked for (`SLIDERS_PARAM`, `SLIDERS_ENV`) or when the panel failed in this browser. One
    answer for the whole session: what a browser can run on one page it can on the next."""
    ss = st.session_state
    choice = ss.get(_ASKED) or os.environ.get(SLIDERS_ENV, "live")
    if choice == "native" or failed_here():
        return "native"
    return "live" if ss.get(_LIVE) == "ready" else "probe"


def failed_here() -> bool:
    """The panel failed in this session's browser: its pages say so under the picture."""
    return st.session_state.get(_LIVE) == "failed"


def _ready(key: str) -> None:
    """A hidden picture painted in this browser: from the next run on the panel draws the
    sliders (once per session; a later failure still wins)."""
    if st.session_state[key]["ready"] and not failed_here():
        st.session_state[_LIVE] = "ready"


def _failed(key: str) -> None:
    """The runtime or the graph did not load here: Streamlit's sliders for the rest of the
    session, since a browser that failed once (no WebAssembly, a blocked download) will again."""
    reason = st.session_state[key]["failed"]
    if reason:
        log.warning("morph panel failed in a browser, back to native sliders: %.200r", reason)
        st.session_state[_LIVE] = "failed"


@cache
def _component():
    return st.components.v2.component(
        "aigc_morph_panel",
        js=(HERE / "morph.js").read_text(),
        css=(HERE / "morph.css").read_text(),
    )


def _common(group: str, graph: Graph, inputs: dict[str, list[float]]) -> dict[str, object]:
    """What every instance of one panel is sent: the inputs of the look Python rendered,
    stamped so the browser resyncs its sliders only when they changed."""
    base = base_path()
    url = f"{base}/morph/graph/{SHELF.put(graph)}.onnx"
    stamp = hashlib.sha1(json.dumps([url, inputs]).encode()).hexdigest()
    return {"group": group, "graph_url": url, "inputs": inputs, "stamp": stamp}


def picture(
    group: str,
    graph: Graph,
    inputs: dict[str, list[float]],
    *,
    png: bytes,
    alt: str,
    show: bool,
    report: bool,
    key: str,
    readout: Readout | None = None,
) -> None:
    """The panel's picture: the server's `png` until the browser has run the graph (a model
    `aigc.morph.export_onnx` made) at `inputs` (`aigc.morph.morph_inputs`), then the canvas
    the sliders repaint, with the `readout` under it. Hidden unless `show`. With `report`, it
    sets its state "ready" once painted, which makes `mode` "live"; it sets "failed" (a
    reason) if the runtime or the graph did not load, which makes it "native". `alt`
    describes the picture to screen readers."""
    base = base_path()
    data = _common(group, graph, inputs) | {
        "role": "picture",
        "ort_url": f"{base}{PREFIX}/{ORT_MODULE}",
        "wasm_url": f"{base}{PREFIX}/{ORT_WASM}",
        # Only where it is seen: a hidden picture would resend it with every rerun.
        "png": "data:image/png;base64," + base64.b64encode(png).decode() if show else "",
        "alt": alt,
        "show": show,
        "report": report,
        "readout": asdict(readout) if readout is not None and show else None,
    }
    _component()(
        data=data,
        key=key,
        default={"ready": False, "failed": None},
        on_ready_change=lambda: _ready(key),
        on_failed_change=lambda: _failed(key),
    )


def sliders(
    group: str,
    graph: Graph,
    inputs: dict[str, list[float]],
    specs: Sequence[Slider],
    *,
    columns: int,
    key: str,
    on_released: Callable[[], None],
    sync: desks.Desk | None = None,
) -> None:
    """A block of the panel's sliders, `columns` to a row, moving the `group`'s picture
    while dragged. On release (or a key press) the slider inputs as the person left them go
    to the `sync` desk, with no rerun; without one (or if the post fails) the block's state
    "released" becomes them (`released` checks them), and `on_released` runs before the
    rerun, as a widget's on_change does."""
    data = _common(group, graph, inputs) | {
        "role": "sliders",
        "sliders": [asdict(s) for s in specs],
        "columns": columns,
        "sync_url": f"{base_path()}/morph/sync/{sync.token}" if sync is not None else "",
    }
    # "released", not "values": the result is a dict, and `.values` is its method.
    _component()(data=data, key=key, default={"released": None}, on_released_change=on_released)


def film(
    film_png: bytes,
    frames: int,
    value: int,
    *,
    label: str,
    alt: str,
    key: str,
    on_released: Callable[[], None],
    sync: desks.Desk | None = None,
) -> None:
    """A scrubber over precomputed frames: `film_png` holds `frames` 28 x 28 pictures stacked
    top to bottom (`render.Animation.film`), and dragging its slider (1..frames, at `value`)
    shows them in the browser, exact, with no model there. A release goes to the `sync` desk
    as {"frame": [n]}, or, without one (or if the post fails), becomes the state "released",
    and `on_released` runs before the rerun."""
    data = {
        "role": "film",
        "film": "data:image/png;base64," + base64.b64encode(film_png).decode(),
        "frames": frames,
        "value": value,
        "label": label,
        "alt": alt,
        "sync_url": f"{base_path()}/morph/sync/{sync.token}" if sync is not None else "",
    }
    _component()(data=data, key=key, default={"released": None}, on_released_change=on_released)


def link(group: str, address: str, *, key: str) -> None:
    """The page's link to what it shows, with a copy button, which the `group`'s sliders
    rewrite after each release (the server's link for the released values)."""
    data = {
        "role": "link",
        "group": group,
        "link": address,
        "caption": tr("state.share"),
        "copy": tr("state.copy"),
        "copied": tr("state.copied"),
        "copy_failed": tr("state.copy_failed"),
    }
    _component()(data=data, key=key)
