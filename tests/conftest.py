import pytest
import torch

from aigc.data import ImageSet, load_shipped


@pytest.fixture(scope="session")
def small_mnist() -> ImageSet:
    """256 real digits: enough for a few training steps, small enough to be instant."""
    full = load_shipped("mnist", "train")
    idx = torch.randperm(len(full), generator=torch.Generator().manual_seed(0))[:256].numpy()
    return ImageSet("mnist", full.images[idx], full.labels[idx])
