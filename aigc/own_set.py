"""A user's own training set as it is being built on the page: drawings added one by one,
uploads merged in, images relabelled or deleted. Each edit returns a new set and leaves the
one it was given alone, so a session's set is only ever replaced, never changed in place.

Classes stay in sorted order of their names (as a folder of class folders gives them), so the
same images under the same names are the same set however they were gathered; a class left
with no image is dropped.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence

import numpy as np
from PIL import Image

from aigc import imaging
from aigc.data import IMAGE_SHAPE, MAX_CLASS_NAME_CHARS, OWN_IMAGES, ImageSet


def empty() -> ImageSet:
    return ImageSet(OWN_IMAGES, np.zeros((0, *IMAGE_SHAPE), np.uint8), np.zeros(0, np.int64))


def class_name(text: str) -> str:
    """A class name as typed: trimmed, and cut to what a label can show ("" if nothing is left)."""
    return " ".join(text.split())[:MAX_CLASS_NAME_CHARS]


def _named(images: np.ndarray, names: Sequence[str]) -> ImageSet:
    classes = tuple(sorted(set(names)))
    index = {name: i for i, name in enumerate(classes)}
    labels = np.array([index[name] for name in names], dtype=np.int64)
    return ImageSet(OWN_IMAGES, images.astype(np.uint8, copy=True), labels, classes)


def names_of(images: ImageSet) -> list[str]:
    """Each image's class name, in the set's order."""
    return [images.class_names[i] for i in images.labels.tolist()]


def added(images: ImageSet, more: np.ndarray, names: Sequence[str]) -> ImageSet:
    """`images` with `more` (K, 28, 28) uint8 appended under the class `names` (K,)."""
    if len(more) != len(names):
        raise ValueError(f"{len(more)} images but {len(names)} class names")
    return _named(np.concatenate([images.images, more]), [*names_of(images), *names])


def merged(images: ImageSet, other: ImageSet) -> ImageSet:
    """Both sets in one, classes joined by name."""
    return added(images, other.images, names_of(other))


def edited(images: ImageSet, names: Sequence[str | None]) -> ImageSet:
    """`images` relabelled: image i now of class `names[i]`, or deleted where it is None."""
    if len(names) != len(images):
        raise ValueError(f"{len(names)} names for {len(images)} images")
    keep = [i for i, name in enumerate(names) if name is not None]
    return _named(images.images[keep], [names[i] for i in keep])


def to_zip(images: ImageSet) -> bytes:
    """The set as a ZIP of class folders of 28x28 PNGs (ink dark on light, as drawn), which
    `aigc.image_folder.read_zip` and ``train --images`` read back as the same set."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for i, (image, name) in enumerate(zip(images.images, names_of(images), strict=True)):
            zf.writestr(f"{name}/{i:04d}.png", imaging.png_bytes(255 - image))
    return buf.getvalue()


def as_pngs(images: ImageSet) -> list[tuple[str, bytes]]:
    """Each image as (class name, its 28x28 PNG): how a class room's set holds it."""
    return [
        (name, imaging.png_bytes(im))
        for im, name in zip(images.images, names_of(images), strict=True)
    ]


def from_pngs(drawings: Sequence[tuple[str, bytes]]) -> ImageSet:
    """The set of (class name, 28x28 grayscale PNG) pairs; a PNG of any other size, or none, is
    left out unread (the sizes are in its header)."""
    kept, names = [], []
    for name, png in drawings:
        try:
            with Image.open(io.BytesIO(png), formats=["PNG"]) as img:
                if img.size != IMAGE_SHAPE[::-1]:
                    continue
                kept.append(np.asarray(img.convert("L"), dtype=np.uint8))
        except (OSError, ValueError):
            continue
        names.append(class_name(name))
    images = np.stack(kept) if kept else np.zeros((0, *IMAGE_SHAPE), np.uint8)
    return _named(images, names)
