"""Training on your own images: a folder of photographed-style digits (shipped MNIST digits
rendered as 96-px RGB JPEGs, dark ink on tinted paper, with uneven light, noise and blur), read
by :func:`aigc.image_folder.read_folder` and trained on as ``python -m aigc train --images``
does; the figure is the share of samples the shipped MNIST classifier takes for the class they
were drawn for (:func:`aigc.evaluation.judge_own_images`)."""

from __future__ import annotations

import io
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from aigc import image_folder, recipes
from aigc.bench import browser
from aigc.bench.report import Figure, Mode, Section, Target
from aigc.data import load_shipped
from aigc.evaluation import judge_own_images
from aigc.training import TrainingRun

NAME = "own-images"
SIDE = 96
TARGET_AGREEMENT = 0.7  # issue 13, after 30 s
PER_CLASS = 50


@dataclass(frozen=True)
class Settings:
    budgets_s: tuple[float, ...]
    seeds: tuple[int, ...]
    per_class: int = PER_CLASS


SETTINGS = {
    "smoke": Settings((1.0,), (0,), 10),
    "quick": Settings((30.0,), (0,)),
    "full": Settings((10.0, 30.0, 60.0), (0, 1)),
}


def photo_digit(digit: np.ndarray, rng: np.random.Generator, side: int = SIDE) -> Image.Image:
    """A (28, 28) uint8 MNIST digit as it might come off a phone: RGB, `side` px, dark ink on
    tinted paper, light falling off across the page, sensor noise and a little blur."""
    ink = np.asarray(Image.fromarray(digit).resize((side, side), Image.BILINEAR), np.float32)
    ink = ink[..., None] / 255.0
    paper = np.array([235, 228, 210], np.float32) + rng.uniform(-20, 15, 3)
    pen = np.array([40, 45, 70], np.float32) + rng.uniform(-25, 25, 3)
    rgb = paper * (1 - ink) + pen * ink
    yy, xx = np.mgrid[0:side, 0:side] / side
    rgb *= (1 - 0.12 * (rng.uniform() * xx + rng.uniform() * yy))[..., None]
    rgb += rng.normal(0, 6, rgb.shape)
    pil = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))
    return pil.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.2)))


def write_photo_digits(folder: Path, per_class: int = PER_CLASS, seed: int = 0) -> Path:
    """`per_class` photographed-style JPEGs of each digit from the shipped MNIST training
    split, in `folder`/0 .. `folder`/9, as a user's folder for ``train --images`` would be."""
    train = load_shipped("mnist", "train")
    rng = np.random.default_rng(seed)
    for digit in range(10):
        (folder / str(digit)).mkdir(parents=True, exist_ok=True)
        picks = np.flatnonzero(train.labels == digit)[:per_class]
        for i, index in enumerate(picks):
            image = photo_digit(train.images[index], rng)
            image.save(folder / str(digit) / f"photo_{i:03d}.jpg", quality=85)
    return folder


def agreement_after(folder: Path, seconds: float, seed: int) -> tuple[float, int]:
    """(class agreement, steps reached) of a conditional GAN trained `seconds` on `folder` the
    way ``python -m aigc train --model gan --images FOLDER --label-conditional`` trains it."""
    own = image_folder.read_folder(folder)
    image_folder.check_trainable(own.images, conditional=True)
    config = recipes.live_train_config("gan", seconds=seconds, seed=seed)
    model = recipes.new_model("gan", own.images, conditional=True, seed=seed)
    run = TrainingRun(model, own.images, config)
    for _ in run:
        pass
    figures = judge_own_images(run.model, own.images.class_names, "mnist", seed=seed)
    return figures["class_agreement"], run.step


def _zipped(folder: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path in sorted(folder.rglob("*.jpg")):
            zf.write(path, path.relative_to(folder).as_posix())
    return buf.getvalue()


def upload_to_grid_s(zipped: bytes, n: int) -> float:
    """Seconds, in Chromium on a fresh server, from choosing the ZIP on Your data to the first
    grid of a live run on it: the upload, "Add to the set", "Train live on your set", Start."""
    root = Path(__file__).resolve().parents[2]
    with browser.server(root / "streamlit_app.py", root) as served, browser.chromium() as chrome:
        page = chrome.new_context().new_page()
        page.set_default_timeout(browser.SERVER_START_S * 1000)
        page.goto(f"{served.url}/own-data")
        main = page.get_by_test_id("stMain")
        main.get_by_role("tab", name="Upload").click()
        started = time.perf_counter()
        main.locator("input[type=file]").set_input_files(
            {"name": "digits.zip", "mimeType": "application/zip", "buffer": zipped}
        )
        main.get_by_text("digits.zip").wait_for()
        main.get_by_role("button", name="Add to the set").click()
        main.get_by_text(f"Your set: {n} images").wait_for()
        main.get_by_role("button", name="Train live on your set").click()
        main.get_by_role("button", name="Start").click()
        main.get_by_text("Samples from fixed noise at step").wait_for()
        return time.perf_counter() - started


def run(mode: Mode) -> Section:
    s = SETTINGS[mode]
    section = Section(NAME, "Training on your own images")
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_photo_digits(Path(tmp) / "digits", s.per_class)
        try:
            seconds = upload_to_grid_s(_zipped(folder), 10 * s.per_class)
        except browser.BrowserError as e:
            section.notes.append(f"upload to first grid not measured: {e}")
        else:
            section.figures.append(
                Figure(
                    f"browser: upload a ZIP of {10 * s.per_class} photo digits -> first grid",
                    "s",
                    [seconds],
                    note="fresh server, Chromium",
                )
            )
        for budget in s.budgets_s:
            results = [agreement_after(folder, budget, seed) for seed in s.seeds]
            target = Target(">=", TARGET_AGREEMENT) if budget == 30.0 else None
            section.figures += [
                Figure(
                    f"gan on {10 * s.per_class} photo digits: agreement after {budget:g} s",
                    "frac",
                    [a for a, _ in results],
                    target,
                    note=f"{len(s.seeds)} seeds",
                ),
                Figure(
                    f"gan on photo digits: steps in {budget:g} s", "steps", [n for _, n in results]
                ),
            ]
    section.notes.append(
        f"{s.per_class} shipped MNIST training digits per class rendered as {SIDE}-px RGB JPEGs "
        "(tinted paper, uneven light, noise, blur), read and prepared by aigc.image_folder, then "
        "a conditional live-recipe GAN trained from random init for each budget, as `python -m "
        "aigc train --images` trains; agreement is the shipped MNIST classifier's on 1,000 "
        "samples, 100 per class."
    )
    return section
