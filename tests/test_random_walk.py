"""Seeded random walks through the whole app, headless: no sequence of clicks may crash a page.

Feature tests replay the orders someone planned; people click in others. Each walk starts a
fresh session and, step after step, picks any widget the page shows (main area and sidebar),
gives it a value its options or range allow, and reruns; it also switches page, language,
and uploads weights. The walk knows no widget keys or labels, so it follows the pages as
they change.

The walk answers as a browser does, not as AppTest does. Before each run AppTest re-derives
every widget's state from the server's value, formatted with the options of the page it
just drew; a browser sends back what it last sent (an option's label, a number), until the
server sets a new value. A class picked on MNIST is still "8" in the browser after the
dataset switched to Fashion-MNIST, whose labels are names: crashes live in that gap.
"""

from __future__ import annotations

import functools
import math
import os
from pathlib import Path

from hypothesis import HealthCheck, Phase, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from streamlit.proto.WidgetStates_pb2 import WidgetState, WidgetStates
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Expander, Widget

from aigc.checkpoint import to_bytes
from aigc.models import GAN, VAE, Classifier, ClassifierConfig, GANConfig, VAEConfig

SEED = 20240601
WALKS = 40  # fresh sessions; after the first, a new AppTest starts in ~0.2 s (models are cached)
STEPS = 40  # actions per walk
TIMEOUT = 60  # the first run of a process loads every model and computes its directions

# Starting a run trains in a background thread for up to minutes on the CI's two cores, and
# outlives the session; tests/test_app_train.py covers the live run.
NEVER_CLICKED = frozenset({"Start", "开始"})

OPTION_KINDS = ("selectbox", "radio", "multiselect", "select_slider", "pills", "feedback")
NUMBER_KINDS = ("slider", "number_input")
BUTTON_KINDS = ("button", "download_button", "form_submit_button")
SWITCH_KINDS = ("checkbox", "toggle", "expander")
TEXT_KINDS = ("text_input", "text_area", "chat_input")
LABEL_LISTS = ("multiselect", "select_slider", "pills", "segmented_control")
LABEL_KINDS = ("selectbox", "radio", *LABEL_LISTS)  # the browser sends the option's label
GROUPS = ("pills", "segmented_control")
MULTI_SELECT = 1  # ButtonGroup.ClickMode
TEXTS = ("", " ", "0", "-1", "1,2,3", "9" * 40, "é中文🎛️", "<img src=x onerror=alert(1)>")
TRIGGERS = frozenset({"trigger_value", "string_trigger_value", "chat_input_value"})
FEEDBACK_OPTIONS = {0: 2, 1: 5, 2: 5}  # thumbs, faces, stars
UNBOUNDED = 10**6  # a number typed into an input with no min or max

TOTAL = {"walks": 0, "actions": 0}


@functools.cache
def upload_files() -> tuple[tuple[str, bytes], ...]:
    """What someone might upload: weights of each kind, a classifier, a pickle, noise, a
    drawing and a broken image."""
    return (
        ("gan_fashion.safetensors", to_bytes(GAN(GANConfig(dataset="fashion")))),
        ("vae_mnist.safetensors", to_bytes(VAE(VAEConfig()))),
        ("classifier.safetensors", to_bytes(Classifier(ClassifierConfig()))),
        ("model.pt", b"\x80\x04\x95 a pickle, never opened"),
        ("pickle.safetensors", b"\x80\x04\x95 a pickle, renamed"),
        ("broken.safetensors", b"not a weights file"),
        ("digit.png", digit_png()),
        ("noise.jpg", os.urandom(2000)),
    )


def digit_png() -> bytes:
    import io

    from PIL import Image, ImageDraw

    img = Image.new("L", (96, 96), 255)
    ImageDraw.Draw(img).line([(20, 20), (76, 20), (40, 80)], fill=0, width=10)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def accepted(node, name: str) -> bool:
    """Whether the uploader's file picker offers `name`: a browser sends nothing else."""
    types = list(node.proto.type)
    return not types or any(name.lower().endswith(t.lower()) for t in types)


def kind(node) -> str:
    """The widget's kind as its Streamlit command is called (segmented_control, not
    button_group)."""
    if node.type == "button_group":
        return "pills" if node.proto.style == node.proto.Style.PILLS else "segmented_control"
    if node.type == "button" and node.proto.is_form_submitter:
        return "form_submit_button"
    return node.type


def node_id(node) -> str:
    return node.proto.id if isinstance(node, Expander) else node.id


def title(node) -> str:
    return f"{kind(node)} {getattr(node, 'label', '') or node.key or node.id[-12:]!r}"


def shown(node) -> WidgetState:
    """The state the browser takes from the server's message for an option widget: the
    labels the server set, else the default's. (AppTest would format the server's value
    again, outside the session, so a label in the session's language comes out in English.)"""
    p, k = node.proto, kind(node)
    state = WidgetState(id=node.id)
    if k in ("selectbox", "radio"):
        if p.set_value:
            label = p.raw_value if p.HasField("raw_value") else None
        else:
            label = node.options[p.default] if p.HasField("default") and node.options else None
        if label is not None:
            state.string_value = label
        return state
    if p.set_value:
        labels = list(p.raw_value if k == "select_slider" else p.raw_values)
    else:
        labels = [node.options[int(i)] for i in p.default]
    state.string_array_value.data[:] = labels
    return state


def pick(data, nodes: list):
    """One of the widgets, drawn by its place on the page: an index prints and replays, an
    AppTest node does not."""
    return nodes[data.draw(st.integers(0, len(nodes) - 1))]


def grid_values(lo: float, hi: float, step: float) -> st.SearchStrategy[float]:
    """A value a slider can take: lo + k * step, with both ends drawn more often."""
    n = max(0, math.floor((hi - lo) / step + 1e-9))
    k = st.one_of(st.sampled_from([0, n]), st.integers(0, n))
    return k.map(lambda i: min(hi, round(lo + i * step, 9)))  # 0.1, as the browser sends it


class AppWalk(RuleBasedStateMachine):
    """One session of the app, driven as a browser would drive it."""

    feedback_dir: Path  # set by the test

    def __init__(self) -> None:
        super().__init__()
        # Ratings are shared by every session: a walk that rated an image would change what
        # the Feedback page shows the next one, and a replayed walk must meet the same pages.
        path = self.feedback_dir / f"walk-{TOTAL['walks']}.sqlite"
        os.environ["AIGC_FEEDBACK_DB"] = str(path)
        self.at = AppTest.from_file("../streamlit_app.py", default_timeout=TIMEOUT)
        self.sent: dict[str, WidgetState] = {}  # what the browser shows: its last answer
        self.staged: dict[str, dict[str, WidgetState]] = {}  # form -> changes not yet sent
        self.history: list[str] = []
        TOTAL["walks"] += 1
        self._run(None, "open the app")

    # --- the browser ---------------------------------------------------------------------

    def widgets(self, *kinds: str) -> list:
        found = [
            node
            for block in (self.at.main, self.at.sidebar)
            for node in block
            if isinstance(node, Widget) and not getattr(node.proto, "disabled", False)
        ]
        found += [e for e in self.at.expander if e.proto.id]  # keyed: its open state reruns
        return [w for w in found if kind(w) in kinds] if kinds else found

    def _answer(self, node) -> WidgetState:
        """A widget's state as the browser sends it: its last answer, unless the server has set
        the value since; before it answers, what the server's message showed."""
        if isinstance(node, Expander):
            return WidgetState(id=node.proto.id, bool_value=node.proto.expanded)
        if node.id in self.sent:
            return self.sent[node.id]
        if kind(node) in LABEL_KINDS:
            return shown(node)
        return node._widget_state  # numbers, text, switches: the server's value as it is

    def _run(self, changes: list[WidgetState] | None, action: str) -> None:
        """Send every widget's state, with `changes` overriding, and rerun the page."""
        TOTAL["actions"] += changes is not None
        self.history.append(f"{self._page()}: {action}" if changes is not None else action)
        if changes is not None:
            new = {s.id: s for s in changes}
            states = [new.pop(node_id(w), None) or self._answer(w) for w in self.widgets()]
            states += new.values()
            self.sent = {s.id: s for s in states if s.WhichOneof("value") not in TRIGGERS}
            # AppTest.run() would recompute every state from the server's values; _run() is
            # the entry point run() itself calls, and takes the states as they are.
            self.at._run(WidgetStates(widgets=states))
        else:
            self.at.run()
        # The browser forgets widgets the page no longer shows, and adopts values the server set.
        present = {node_id(w): w for w in self.widgets()}
        self.sent = {
            i: s
            for i, s in self.sent.items()
            if i in present and not getattr(present[i].proto, "set_value", False)
        }

    def _page(self) -> str:
        page = self.at._registered_pages.get(self.at._finished_page_script_hash, {})
        return page.get("page_name") or "?"

    def _story(self) -> str:
        steps = "\n".join(f"  {i}. {s}" for i, s in enumerate(self.history))
        return f"after {len(self.history) - 1} actions (seed {SEED}):\n{steps}"

    def _act(self, node, state: WidgetState, action: str) -> None:
        """Send one widget's new state; a widget in a form waits for the form's submit."""
        form = getattr(node, "form_id", "") or getattr(node.proto, "form_id", "")
        if form and kind(node) != "form_submit_button":
            self.staged.setdefault(form, {})[state.id] = state
            self.history.append(f"{self._page()}: {action} (in a form, not sent yet)")
            return
        changes = [state, *self.staged.pop(form, {}).values()] if form else [state]
        self._run(changes, action)

    # --- the rules -----------------------------------------------------------------------

    @precondition(lambda self: self.widgets("segmented_control"))
    @rule(data=st.data())
    def switch_segment(self, data) -> None:
        """Segmented controls change what a page is (model kind, dataset, view), so they get
        a rule of their own rather than sharing one with every class pill and selectbox."""
        self._pick_option(data, self.widgets("segmented_control"))

    @precondition(lambda self: self.widgets(*OPTION_KINDS))
    @rule(data=st.data())
    def pick_option(self, data) -> None:
        self._pick_option(data, self.widgets(*OPTION_KINDS))

    def _pick_option(self, data, nodes: list) -> None:
        node = pick(data, nodes)
        k = kind(node)
        state = WidgetState(id=node.id)
        if k == "feedback":
            value = data.draw(st.none() | st.integers(0, FEEDBACK_OPTIONS[node.proto.type] - 1))
            state = node.set_value(value)._widget_state
        elif not node.options:
            return
        elif k == "multiselect" or (k in GROUPS and node.proto.click_mode == MULTI_SELECT):
            most = getattr(node.proto, "max_selections", 0) or len(node.options)
            value = data.draw(st.lists(st.sampled_from(node.options), unique=True, max_size=most))
            state.string_array_value.data[:] = value
        elif k == "select_slider" and len(node.proto.default) == 2:
            ends = st.lists(st.sampled_from(node.options), min_size=2, max_size=2)
            value = sorted(data.draw(ends), key=node.options.index)
            state.string_array_value.data[:] = value
        elif k in LABEL_LISTS:
            required = getattr(node.proto, "required", True) or k == "select_slider"
            choices = st.sampled_from(node.options)
            value = data.draw(choices if required else st.none() | choices)
            state.string_array_value.data[:] = [] if value is None else [value]
        else:  # selectbox, radio: the browser sends the option's label
            value = data.draw(st.sampled_from(node.options))
            state.string_value = value
        self._act(node, state, f"{title(node)} -> {value!r}")

    @precondition(lambda self: self.widgets(*NUMBER_KINDS))
    @rule(data=st.data())
    def set_number(self, data) -> None:
        node = pick(data, self.widgets(*NUMBER_KINDS))
        p = node.proto
        integer = p.data_type == p.DataType.INT
        if kind(node) == "slider":
            if p.data_type not in (p.DataType.INT, p.DataType.FLOAT):
                return  # date and time sliders: the app has none
            values = grid_values(p.min, p.max, p.step or 1)
            ranged = len(p.default) == 2
            if ranged:
                value = sorted(data.draw(st.lists(values, min_size=2, max_size=2)))
            else:
                value = data.draw(values)
        else:
            lo = p.min if p.has_min else -UNBOUNDED
            hi = p.max if p.has_max else UNBOUNDED
            if integer:
                number = st.integers(int(lo), int(hi))
            else:
                number = st.floats(lo, hi, allow_nan=False, allow_infinity=False)
            value = data.draw(st.sampled_from([lo, hi]) | number)
        if integer:
            value = [int(v) for v in value] if isinstance(value, list) else int(value)
        self._act(node, node.set_value(value)._widget_state, f"{title(node)} -> {value!r}")

    @precondition(lambda self: self.buttons())
    @rule(data=st.data())
    def click_button(self, data) -> None:
        node = pick(data, self.buttons())
        self._act(node, node.set_value(True)._widget_state, f"click {title(node)}")

    def buttons(self) -> list:
        return [b for b in self.widgets(*BUTTON_KINDS) if b.label not in NEVER_CLICKED]

    @precondition(lambda self: self.widgets(*SWITCH_KINDS))
    @rule(data=st.data())
    def flip_switch(self, data) -> None:
        node = pick(data, self.widgets(*SWITCH_KINDS))
        if isinstance(node, Expander):
            state = WidgetState(id=node.proto.id, bool_value=not node.proto.expanded)
            action = f"{'close' if node.proto.expanded else 'open'} {title(node)}"
        else:
            state = node.set_value(not node.value)._widget_state
            action = f"{title(node)} -> {not node.value}"
        self._act(node, state, action)

    @precondition(lambda self: self.widgets(*TEXT_KINDS))
    @rule(data=st.data())
    def type_text(self, data) -> None:
        node = pick(data, self.widgets(*TEXT_KINDS))
        most = getattr(node.proto, "max_chars", 0) or None
        text = data.draw(st.sampled_from(TEXTS) | st.text(max_size=30))[:most]
        self._act(node, node.set_value(text)._widget_state, f"type {text!r} into {title(node)}")

    @precondition(lambda self: self.widgets("file_uploader"))
    @rule(data=st.data())
    def upload_file(self, data) -> None:
        node = pick(data, self.widgets("file_uploader"))
        files = [f for f in upload_files() if accepted(node, f[0])]
        name, content = files[data.draw(st.integers(0, len(files) - 1))]
        state = node.set_value((name, content, "application/octet-stream"))._widget_state
        self._act(node, state, f"upload {name} to {title(node)}")

    @precondition(lambda self: self.languages())
    @rule(data=st.data())
    def switch_language(self, data) -> None:
        node = self.languages()[0]
        other = [o for o in node.options if o != self._answer(node).string_value]
        value = data.draw(st.sampled_from(other))
        self._act(node, WidgetState(id=node.id, string_value=value), f"language -> {value!r}")

    def languages(self) -> list:
        """The selectbox that offers Chinese, wherever the sidebar puts it."""
        return [
            w
            for w in self.at.sidebar.selectbox
            if any(o in ("zh", "中文") for o in w.options) and not w.disabled
        ]

    @rule(data=st.data())
    def switch_page(self, data) -> None:
        # AppTest.switch_page() reaches only file pages; st.navigation registers function
        # pages under the hash of their url_path, and a run asks for a page by that hash.
        pages = self.at._registered_pages
        target = data.draw(st.sampled_from(sorted(pages)))
        self.at._page_hash = target
        self._run([], f"open page {pages[target].get('page_name')!r}")

    @invariant()
    def no_exception(self) -> None:
        errors = [f"{e.message}\n" + "\n".join(e.stack_trace[-4:]) for e in self.at.exception]
        assert not errors, "\n\n".join(errors) + "\n\n" + self._story()


WALK = settings(
    max_examples=WALKS,
    stateful_step_count=STEPS,
    deadline=None,
    database=None,  # the same walks every run, whatever an earlier failure left behind
    # No explain phase: it traces every line the app runs, and the walk's story says more.
    phases=(Phase.explicit, Phase.generate, Phase.shrink),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def test_no_sequence_of_clicks_crashes_any_page(monkeypatch, tmp_path):
    """The walks are seeded: a failure replays exactly, and Hypothesis shrinks it to the
    shortest sequence of clicks it can find."""
    monkeypatch.setenv("AIGC_FEEDBACK_DB", "")  # each walk sets its own; restored after
    monkeypatch.setattr(AppWalk, "feedback_dir", tmp_path, raising=False)
    TOTAL.update(walks=0, actions=0)
    try:
        run_state_machine_as_test(seed(SEED)(AppWalk), settings=WALK)
    finally:
        print(f"random walk: {TOTAL['actions']} actions in {TOTAL['walks']} sessions, seed {SEED}")
