import time
from collections.abc import Callable

import pytest
import torch
from streamlit import config

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
