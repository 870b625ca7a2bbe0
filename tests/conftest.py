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
