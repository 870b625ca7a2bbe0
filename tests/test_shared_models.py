"""The shared models of a cold server: however many sessions open at once, each shipped model
is loaded once."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from streamlit.testing.v1 import AppTest

from aigc.ui import models
from aigc.ui.bench.load import one_runtime
from aigc.weights import shipped_path

EXPLORE_SCRIPT = """
import streamlit as st
from aigc.ui import explore
st.session_state.setdefault("lang", "en")
explore.page()
"""


@pytest.mark.skipif(not shipped_path("gan_mnist").is_file(), reason="no gan_mnist weights")
def test_many_cold_sessions_load_each_shipped_model_once(monkeypatch, tmp_path):
    loads: Counter[str] = Counter()
    lock = threading.Lock()
    real = models.load_shipped

    def counting(name):
        with lock:
            loads[name] += 1
        time.sleep(0.2)  # widen the window in which a second session could start a load
        return real(name)

    monkeypatch.setattr(models, "load_shipped", counting)
    models.shared_model.clear()  # a cold server
    n = 10
    results: list[AppTest | BaseException | None] = [None] * n
    start = threading.Barrier(n)
    script = tmp_path / "explore_page.py"
    script.write_text(EXPLORE_SCRIPT)

    def session(i: int) -> None:
        try:
            at = AppTest.from_file(str(script), default_timeout=120)
            start.wait()
            results[i] = at.run()
        except BaseException as e:
            results[i] = e

    t0 = time.monotonic()
    threads = [threading.Thread(target=session, args=(i,)) for i in range(n)]
    with (
        one_runtime()
    ):  # one Runtime for the sessions, as a server has (AppTest gives each its own)
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    print(f"{n} cold Explore sessions in {time.monotonic() - t0:.1f} s; loads: {dict(loads)}")
    for r in results:
        assert isinstance(r, AppTest), r
        assert not r.exception, [e.value for e in r.exception]
        assert r.image, "a session drew no picture"
    assert loads["gan_mnist"] == 1 and all(count == 1 for count in loads.values()), dict(loads)
    models.shared_model("gan_mnist")
    assert loads["gan_mnist"] == 1, "a later session loaded it again"
