import os
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import torch
from streamlit import config

from aigc import classroom, store
from aigc.bench.postgres import Cluster, Unavailable
from aigc.data import ImageSet, load_shipped

# The app hides error details from visitors (.streamlit/config.toml); AppTest reads the same
# file, and a failing test should say what went wrong.
config.set_option("client.showErrorDetails", "full")


@pytest.fixture(scope="session")
def small_mnist() -> ImageSet:
    """256 real digits: enough for a few training steps, small enough to be instant."""
    full = load_shipped("mnist", "train")
    idx = torch.randperm(len(full), generator=torch.Generator().manual_seed(0))[:256].numpy()
    return ImageSet("mnist", full.images[idx], full.labels[idx])


@pytest.fixture
def wait_until() -> Callable[..., float]:
    """Poll `condition()` every 10 ms until it holds; fail after `timeout` seconds naming
    `what`; return the seconds it took."""

    def wait(condition: Callable[[], bool], timeout: float = 10.0, what: str = "condition"):
        t0 = time.monotonic()
        while not condition():
            assert time.monotonic() - t0 < timeout, f"timed out waiting for {what}"
            time.sleep(0.01)
        return time.monotonic() - t0

    return wait


@pytest.fixture(autouse=True)
def _no_database_from_the_shell(monkeypatch):
    """No test writes to a database that $AIGC_DB_URL of the shell running them names."""
    monkeypatch.delenv("AIGC_DB_URL", raising=False)


@pytest.fixture
def at_once() -> Callable[..., list[BaseException]]:
    """Run `work(i)` for i in range(n) in n threads released together; return what they
    raised (a lost write or "database is locked" would land there)."""

    def run(n: int, work: Callable[[int], object]) -> list[BaseException]:
        start, errors = threading.Barrier(n), []

        def one(i: int) -> None:
            try:
                start.wait()
                work(i)
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return errors

    return run


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    """A PostgreSQL 15 server of the tests' own, for the whole run. Skipped where the binaries
    are missing or it cannot start, unless $AIGC_REQUIRE_POSTGRES is set (CI), where that fails."""
    try:
        cluster = Cluster()
    except Unavailable as e:
        _no_postgres(str(e))
    try:
        cluster.start()
    except Unavailable as e:
        cluster.remove()
        _no_postgres(str(e))
    yield cluster
    store.dispose()
    cluster.remove()


def _no_postgres(reason: str) -> None:
    if os.environ.get("AIGC_REQUIRE_POSTGRES"):
        pytest.fail(f"PostgreSQL is required here: {reason}")
    pytest.skip(f"no PostgreSQL server: {reason}")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request, tmp_path, monkeypatch) -> Iterator[str]:
    """An empty store on each backend, made the default (as $AIGC_FEEDBACK_DB or $AIGC_DB_URL
    would for a server), with the brute-force counts of this process reset."""
    monkeypatch.setenv("AIGC_FEEDBACK_DB", str(tmp_path / "feedback.sqlite3"))
    if request.param == "postgresql":
        monkeypatch.setenv("AIGC_DB_URL", request.getfixturevalue("postgres").new_database())
    url = store.url()
    classroom.reset_limits()
    yield url
    store.dispose(url)
    classroom.reset_limits()
