"""A real server and a real Chromium for the browser tests.

One Streamlit server per test session on a free loopback port (feedback in a temporary
database, one training core, two runs at once, Streamlit's sliders on Explore unless a test
asks for the morph panel), and one headless Chromium; each test gets
its own browser context, so its own Streamlit session.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from aigc.bench.browser import CHROMIUM_ARGS

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("no Chromium at /usr/bin/chromium", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 90
TIMEOUT_MS = 30_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.fixture(scope="session")
def server_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The store every server of the test session shares, as a school's replicas share one."""
    return tmp_path_factory.mktemp("store") / "feedback.sqlite"


@contextmanager
def serve(db: Path, log_dir: Path) -> Iterator[str]:
    """A `streamlit run` of the app on a free loopback port, stopped (its whole process
    group) on the way out."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "AIGC_FEEDBACK_DB": str(db),
        "AIGC_TRAIN_CORES": "1",
        "AIGC_MAX_RUNS": "2",
        # Explore's own sliders and picture, which these tests drive; the morph panel's
        # tests (test_morph_browser.py) ask for it with ?sliders=live.
        "AIGC_SLIDERS": "native",
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    }
    log_path = log_dir / f"server-{port}.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "streamlit_app.py",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, killed whole at teardown
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _healthy(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(f"streamlit did not start:\n{log_path.read_text()}")
            time.sleep(0.3)
        yield url
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@pytest.fixture(scope="session")
def app_url(server_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve(server_db, tmp_path_factory.mktemp("logs")) as url:
        yield url


@pytest.fixture(scope="session")
def second_url(server_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Another server process on the same store: rooms opened on one are joined on the other."""
    with serve(server_db, tmp_path_factory.mktemp("logs")) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator:
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,  # the same headless set-up the bench's browser figures use
        )
        sync_api.expect.set_options(timeout=TIMEOUT_MS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, app_url):
    """Open a fresh session (its own browser context) at a path of the app."""
    contexts = []

    def open_page(path: str = "/", base: str | None = None):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.goto((base or app_url) + path)
        return page

    yield open_page
    for context in contexts:
        context.close()
