"""How long the page's pictures take to make: `aigc.render.image` (one picture, the
classifier's verdict and the discriminator's realness) and `aigc.render.grid` (64 images and
their verdicts), the very calls behind Explore, for every shipped generator.

The grid is also timed on a channels_last copy of the model, interleaved, to see whether that
memory format pays; and PNG encoding alone, to say how much of the grid's time it is.
"""

from __future__ import annotations

import statistics
import time

import torch

from aigc import imaging, render
from aigc.bench.report import Figure, Target
from aigc.bench.timing import interleaved, ratios
from aigc.data import load_shipped as load_dataset
from aigc.models import Classifier
from aigc.weights import SHIPPED, load_shipped, shipped_path

GRID_SIDE = 8
GRID_SCALE = 2  # an 8 x 8 grid about 480 px wide
GRID_TARGET_MS = Target("<=", 10.0)
NOTE = (
    f"Pictures through aigc.render on 1 thread, as the page makes them: 1 image at "
    f"{render.SCALE}x with its verdicts, the {GRID_SIDE}x{GRID_SIDE} grid at {GRID_SCALE}x."
)


def _classifier(dataset: str) -> Classifier | None:
    name = f"classifier_{dataset}"
    return load_shipped(name) if shipped_path(name).exists() else None


def _ms(call) -> float:
    t0 = time.perf_counter()
    call()
    return (time.perf_counter() - t0) * 1000


def figures(repeats: int) -> tuple[list[Figure], list[str]]:
    figures, notes = [], []
    for name in [n for n in SHIPPED if not n.startswith("classifier")]:
        if not shipped_path(name).exists():
            notes.append(f"- {name}: weights file missing, not timed.")
            continue
        model_figures, note = _model_figures(name, repeats)
        figures += model_figures
        notes.append(note)
    return figures, notes


def _model_figures(name: str, repeats: int) -> tuple[list[Figure], str]:
    model = load_shipped(name)
    fast = load_shipped(name).to(memory_format=torch.channels_last)
    dataset = model.config.dataset
    classifier = _classifier(dataset)
    steer = render.steering(model, load_dataset(dataset, "test").tensors())

    def image(r: int) -> float:
        look = render.Look(seed=r, label=r % 10)
        return _ms(lambda: render.image(model, classifier, steer, look))

    def grid(r: int, m: torch.nn.Module = model) -> float:
        look = render.Look(seed=r, label=r % 10)
        return _ms(lambda: render.grid(m, classifier, steer, look, GRID_SIDE, GRID_SCALE))

    grid(0), grid(0, fast)  # warm-up: the first calls build kernels
    times = interleaved({"1": image, "64": grid, "64 cl": lambda r: grid(r, fast)}, repeats)
    share = _png_ms(model, repeats) / statistics.median(times["64"])
    return [
        Figure(f"{name}: 1 image with its verdicts (render.image)", "ms", times["1"]),
        Figure(f"{name}: 64-image grid (render.grid)", "ms", times["64"], GRID_TARGET_MS),
        Figure(
            f"{name}: 64-image grid, channels_last / default",
            "x",
            ratios(times["64 cl"], times["64"]),
        ),
    ], f"- {name}: PNG encoding is {share:.0%} of the 64-grid's time."


def _png_ms(model: torch.nn.Module, repeats: int) -> float:
    """Median ms to encode the grid's PNG alone, from frames decoded once."""
    z = torch.randn(GRID_SIDE**2, model.latent_dim, generator=torch.Generator().manual_seed(0))
    labels = torch.arange(GRID_SIDE**2) % 10 if render.conditional(model) else None
    with torch.no_grad():
        cells = imaging.grid(imaging.to_uint8(model.decode(z, labels)), GRID_SIDE)
    return statistics.median(
        _ms(lambda: imaging.png_bytes(cells, GRID_SCALE)) for _ in range(repeats)
    )
