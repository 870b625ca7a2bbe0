"""The images the models learn from: small shipped arrays, and readers for the full datasets.

The package ships a few thousand MNIST and Fashion-MNIST images as ``.npz`` files (built by
``scripts/build_datasets.py``, provenance in ``aigc/datasets/PROVENANCE.json``) so that a model
trains in seconds without a network. The full 60,000-image sets come as the standard IDX files,
either from a folder already on disk or fetched once by :func:`download`.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.client
import math
import os
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

if TYPE_CHECKING:
    import torch

DATASETS = ("mnist", "fashion")
# What a model's config names as its dataset when it learnt from a user's own images
# (aigc.image_folder); its class names travel in the weights file's provenance.
OWN_IMAGES = "custom"
MAX_CLASS_NAME_CHARS = 40  # a class name is shown wherever a label is: one short line
SPLITS = ("train", "test")
CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "mnist": tuple(str(digit) for digit in range(10)),
    "fashion": (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
}
IMAGE_SHAPE = (28, 28)
SHIPPED_DIR = Path(__file__).parent / "datasets"

# The IDX type codes, so an unsupported file is named rather than just "bad magic".
_IDX_UBYTE = 0x08
_IDX_TYPE_NAMES = {
    0x09: "signed byte",
    0x0B: "int16",
    0x0C: "int32",
    0x0D: "float32",
    0x0E: "float64",
}
_IDX_MAX_DIMS = 4
# Far above the 47M bytes of the largest real file, far below what would exhaust memory:
# a corrupt header is refused before anything is allocated.
IDX_MAX_ELEMENTS = 100_000_000

# The four files of each full release, as published; the MD5s are torchvision's
# (torchvision/datasets/mnist.py) and, for Fashion-MNIST, also those in the upstream README.
IDX_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
BASE_URLS = {
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/",
    # The S3 website endpoint serves http only; the MD5 check is what guards the bytes.
    "fashion": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
}
MD5 = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    "fashion": {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
}
_CHUNK = 1 << 20


class DataError(ValueError):
    """A data file is missing, corrupt or not what it claims to be; the message names it."""


@dataclass(frozen=True)
class ImageSet:
    """Labelled 28x28 grayscale images, ink bright (255) on a dark (0) background.

    Attributes:
        name: the dataset, one of :data:`DATASETS`, or :data:`OWN_IMAGES` for a user's own.
        images: (N, 28, 28) uint8.
        labels: (N,) int64 class indices into :attr:`class_names`.
        classes: the class names of a user's own set; empty for a shipped dataset, whose
            names are its :data:`CLASS_NAMES`.
    """

    name: str
    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.images.dtype != np.uint8 or self.images.shape[1:] != IMAGE_SHAPE:
            raise ValueError(
                f"images must be uint8 (N, 28, 28), got {self.images.dtype} {self.images.shape}"
            )
        if self.labels.dtype != np.int64 or self.labels.shape != self.images.shape[:1]:
            raise ValueError(
                f"labels must be int64 ({len(self.images)},), "
                f"got {self.labels.dtype} {self.labels.shape}"
            )

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.classes or CLASS_NAMES.get(self.name, ())  # an own set may be empty

    def counts(self) -> dict[str, int]:
        """Images per class, every class named (a class with no image counts 0)."""
        n = np.bincount(self.labels, minlength=len(self.class_names))
        return dict(zip(self.class_names, n.tolist(), strict=False))

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The whole set as training tensors: x (N, 1, 28, 28) float32 in [0, 1], y (N,) int64.

        Both are fresh contiguous copies, so a trainer may index or modify them freely; the
        shipped arrays behind them stay read-only and shared.
        """
        import torch

        x = self.images.astype(np.float32)  # (N, 28, 28), a writable copy
        x /= 255.0
        return torch.from_numpy(x).unsqueeze(1), torch.from_numpy(self.labels.copy())


def is_class_name(name: object) -> bool:
    """Whether `name` can name a class of one's own: shown wherever a label is, so one short
    printable line that is not blank (the folder reader, the weights loader and the class
    room's set all hold names to it)."""
    return (
        isinstance(name, str)
        and 0 < len(name) <= MAX_CLASS_NAME_CHARS
        and name.isprintable()
        and bool(name.strip())
    )


def _check_choice(value: str, choices: tuple[str, ...], what: str) -> None:
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}; expected one of {choices}")


@functools.cache
def _shipped_arrays(name: str) -> dict[str, np.ndarray]:
    """Read one shipped ``.npz`` once; the arrays are read-only because every caller shares them."""
    path = SHIPPED_DIR / f"{name}.npz"
    if not path.is_file():
        raise DataError(f"{path}: shipped dataset missing; run scripts/build_datasets.py")
    keys = ("train_images", "train_labels", "test_images", "test_labels")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in keys if key in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, zlib.error) as error:
        raise DataError(f"{path}: not a readable .npz file ({error})") from error
    missing = [key for key in keys if key not in arrays]
    if missing:
        raise DataError(f"{path}: missing arrays {missing}")
    for split in SPLITS:
        arrays[f"{split}_labels"] = arrays[f"{split}_labels"].astype(np.int64)
    for array in arrays.values():
        array.flags.writeable = False
    return arrays


def load_shipped(name: str, split: str = "train") -> ImageSet:
    """The small set shipped with the package: 4,500/500 MNIST or 9,000/1,000 Fashion-MNIST.

    Args:
        name: ``"mnist"`` or ``"fashion"``.
        split: ``"train"`` or ``"test"``; both are stratified, with equal counts per class.
    """
    _check_choice(name, DATASETS, "dataset")
    _check_choice(split, SPLITS, "split")
    arrays = _shipped_arrays(name)
    return ImageSet(name, arrays[f"{split}_images"], arrays[f"{split}_labels"])


def _open_idx(path: Path) -> BinaryIO:
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")  # noqa: SIM115


def _read_exact(stream: BinaryIO, size: int, path: Path, what: str) -> bytes:
    data = stream.read(size)
    if len(data) < size:
        raise DataError(f"{path}: truncated: {what} needs {size} bytes, file has {len(data)}")
    return data


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file of unsigned bytes (the MNIST format), gzip'd (``.gz``) or raw.

    The header is checked before the data are read, so a corrupt or hostile file fails with a
    :class:`DataError` naming it instead of allocating gigabytes or returning garbage.

    Returns:
        A writable uint8 array with the shape the header declares.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        with _open_idx(path) as stream:
            magic = _read_exact(stream, 4, path, "the IDX header")
            if magic[0] != 0 or magic[1] != 0:
                raise DataError(
                    f"{path}: not an IDX file (magic number {magic.hex()} should start 0000)"
                )
            if magic[2] != _IDX_UBYTE:
                kind = _IDX_TYPE_NAMES.get(magic[2], "unknown")
                raise DataError(
                    f"{path}: IDX type code 0x{magic[2]:02x} ({kind}) is not supported; "
                    "only 0x08 (unsigned byte) is"
                )
            ndim = magic[3]
            if not 1 <= ndim <= _IDX_MAX_DIMS:
                raise DataError(
                    f"{path}: header declares {ndim} dimensions; expected 1 to {_IDX_MAX_DIMS}"
                )
            header = _read_exact(stream, 4 * ndim, path, f"a header of {ndim} dimensions")
            shape = tuple(int.from_bytes(header[i : i + 4], "big") for i in range(0, 4 * ndim, 4))
            count = math.prod(shape)  # Python ints: a forged header cannot overflow
            if count > IDX_MAX_ELEMENTS:
                raise DataError(
                    f"{path}: header declares shape {shape} = {count:,} elements, "
                    f"more than the {IDX_MAX_ELEMENTS:,} this reader accepts"
                )
            if path.suffix != ".gz" and path.stat().st_size < 4 + 4 * ndim + count:
                # Raw file: refuse a lying header before allocating the buffer for it.
                size = path.stat().st_size - 4 - 4 * ndim
                raise DataError(
                    f"{path}: truncated: shape {shape} needs {count} data bytes, file has {size}"
                )
            data = bytearray(count)  # bytearray, so the returned array is writable without a copy
            got = stream.readinto(data)
            if got < count:
                raise DataError(
                    f"{path}: truncated: shape {shape} needs {count} data bytes, file has {got}"
                )
            if stream.read(1):
                raise DataError(f"{path}: trailing bytes after the {count} declared by the header")
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise DataError(f"{path}: corrupt gzip stream ({error})") from error
    return np.frombuffer(data, dtype=np.uint8).reshape(shape)


def find_idx_file(folder: str | Path, stem: str) -> Path:
    """The file ``stem`` or ``stem.gz`` in ``folder``, e.g. ``t10k-labels-idx1-ubyte``."""
    folder = Path(folder)
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise DataError(f"{folder / stem}: file not found (nor {stem}.gz)")


def load_idx_folder(folder: str | Path, name: str, split: str = "train") -> ImageSet:
    """Load a full split from a folder holding the standard IDX files, gzip'd or not.

    Args:
        folder: e.g. ``/usr/share/datasets/fashion-mnist`` or the folder :func:`download` returns.
        name: ``"mnist"`` or ``"fashion"``, which only picks the class names.
        split: ``"train"`` (``train-*`` files, 60,000 images) or ``"test"`` (``t10k-*``, 10,000).
    """
    _check_choice(name, DATASETS, "dataset")
    _check_choice(split, SPLITS, "split")
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: folder not found")
    prefix = "train" if split == "train" else "t10k"
    images_path = find_idx_file(folder, f"{prefix}-images-idx3-ubyte")
    labels_path = find_idx_file(folder, f"{prefix}-labels-idx1-ubyte")
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise DataError(f"{images_path}: images have shape {images.shape}, expected (N, 28, 28)")
    if labels.ndim != 1:
        raise DataError(f"{labels_path}: labels have shape {labels.shape}, expected (N,)")
    if len(images) != len(labels):
        raise DataError(
            f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels"
        )
    if labels.size and labels.max() > 9:
        raise DataError(f"{labels_path}: label {labels.max()} outside 0..9")
    return ImageSet(name, images, labels.astype(np.int64))


def default_cache_dir(name: str) -> Path:
    """Where :func:`download` keeps a dataset: ``$AIGC_CACHE/<name>``, else ``~/.cache/aigc/<name>``."""
    root = os.environ.get("AIGC_CACHE") or Path.home() / ".cache" / "aigc"
    return Path(root).expanduser() / name


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch(url: str, target: Path, expected_md5: str, timeout: float) -> None:
    """Download ``url`` to ``target`` through a temp file that is renamed only once verified.

    The temp file sits in the target's folder so ``os.replace`` is an atomic rename: whatever
    stops the download (error, bad checksum, Ctrl-C), no file ever appears under the final name.
    """
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.md5(usedforsecurity=False)
        received = 0
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    declared = response.headers.get("Content-Length")
                    while chunk := response.read(_CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        received += len(chunk)
            except urllib.error.HTTPError as error:
                raise DataError(
                    f"{target.name}: download from {url} failed: HTTP {error.code} {error.reason}"
                ) from error
            except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
                raise DataError(f"{target.name}: download from {url} failed: {error}") from error
        if declared is not None and received != int(declared):
            raise DataError(
                f"{target.name}: download from {url} interrupted after {received} of "
                f"{declared} bytes"
            )
        actual = digest.hexdigest()
        if actual != expected_md5:
            raise DataError(
                f"{target.name}: checksum mismatch for {url}: expected MD5 {expected_md5}, "
                f"got {actual}"
            )
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def download(
    name: str,
    cache_dir: str | Path | None = None,
    *,
    base_url: str | None = None,
    timeout: float = 30,
    checksums: dict[str, str] | None = None,
) -> Path:
    """Fetch the four full-dataset ``.gz`` files once, verified, and return their folder.

    A file already there with the right MD5 is not fetched again, so
    ``load_idx_folder(download("mnist"), "mnist")`` costs a network round only the first time.

    Args:
        name: ``"mnist"`` or ``"fashion"``.
        cache_dir: the folder to fill; default :func:`default_cache_dir`.
        base_url: mirror to fetch ``<base_url>/<file>`` from; default :data:`BASE_URLS`.
        timeout: seconds to wait on the server for each connection or read.
        checksums: MD5 per file name, replacing :data:`MD5` (a mirror serving other bytes,
            or a test serving small files).

    Raises:
        DataError: a file could not be fetched or its MD5 differs; the file is named.
    """
    _check_choice(name, DATASETS, "dataset")
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir(name)
    folder.mkdir(parents=True, exist_ok=True)
    base = (base_url or BASE_URLS[name]).rstrip("/")
    expected = MD5[name] if checksums is None else checksums
    for filename in IDX_FILES:
        if filename not in expected:
            raise ValueError(f"checksums has no MD5 for {filename}")
        target = folder / filename
        if target.is_file() and _md5(target) == expected[filename]:
            continue
        _fetch(f"{base}/{filename}", target, expected[filename], timeout)
    return folder


def load(name: str, split: str = "train", folder: str | Path | None = None) -> ImageSet:
    """The shipped set when ``folder`` is None, else the full split from that IDX folder."""
    if folder is None:
        return load_shipped(name, split)
    return load_idx_folder(folder, name, split)
