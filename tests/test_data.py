"""The data layer: shipped arrays, the IDX reader on good and broken files, and downloads.

Downloads run against a loopback server this file starts; nothing here touches the internet.
"""

import gzip
import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from aigc.data import (
    CLASS_NAMES,
    DATASETS,
    IDX_FILES,
    DataError,
    ImageSet,
    download,
    load,
    load_idx_folder,
    load_shipped,
    read_idx,
)

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
SHIPPED_COUNTS = {"mnist": (450, 50), "fashion": (900, 100)}  # per class: train, test


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx_pair(folder: Path, prefix: str, n_images: int, n_labels: int) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n_images, 28, 28), dtype=np.uint8)
    labels = np.arange(n_labels, dtype=np.uint8) % 10
    (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images)))
    (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(idx_bytes(labels))


# --- shipped arrays -------------------------------------------------------------------------


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("split", ["train", "test"])
def test_shipped_sets_are_stratified_uint8_with_bright_ink(name: str, split: str) -> None:
    per_class = SHIPPED_COUNTS[name][split == "test"]
    data = load_shipped(name, split)
    assert len(data) == 10 * per_class
    assert data.images.shape == (10 * per_class, 28, 28) and data.images.dtype == np.uint8
    assert data.labels.shape == (10 * per_class,) and data.labels.dtype == np.int64
    assert np.bincount(data.labels, minlength=10).tolist() == [per_class] * 10
    assert data.images.mean() < 0.5 * 255 and data.images.max() == 255
    assert len(CLASS_NAMES[name]) == 10


def test_shipped_splits_are_disjoint_and_cached_read_only() -> None:
    train, test = load_shipped("mnist", "train"), load_shipped("mnist", "test")
    assert load_shipped("mnist", "train").images is train.images
    assert not train.images.flags.writeable and not train.labels.flags.writeable
    train_rows = {row.tobytes() for row in train.images}
    assert not any(row.tobytes() in train_rows for row in test.images)


def test_tensors_are_unit_range_float_images_and_int_labels() -> None:
    x, y = load("fashion", "test").tensors()
    assert x.shape == (1000, 1, 28, 28) and str(x.dtype) == "torch.float32"
    assert y.shape == (1000,) and str(y.dtype) == "torch.int64"
    assert x.is_contiguous() and y.is_contiguous()
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    assert not np.shares_memory(x.numpy(), load_shipped("fashion", "test").images)


def test_unknown_names_are_refused() -> None:
    with pytest.raises(ValueError, match="dataset"):
        load_shipped("cifar")
    with pytest.raises(ValueError, match="split"):
        load_shipped("mnist", "val")


def test_image_set_checks_its_arrays() -> None:
    with pytest.raises(ValueError, match="uint8"):
        ImageSet("mnist", np.zeros((2, 28, 28), np.float32), np.zeros(2, np.int64))
    with pytest.raises(ValueError, match="labels"):
        ImageSet("mnist", np.zeros((2, 28, 28), np.uint8), np.zeros(3, np.int64))


# --- IDX reader -----------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False])
def test_read_idx_round_trips(tmp_path: Path, gz: bool) -> None:
    array = np.random.default_rng(1).integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    raw = idx_bytes(array)
    path = tmp_path / ("x.idx.gz" if gz else "x.idx")
    path.write_bytes(gzip.compress(raw) if gz else raw)
    result = read_idx(path)
    np.testing.assert_array_equal(result, array)
    assert result.dtype == np.uint8 and result.flags.writeable


GOOD = idx_bytes(np.arange(12, dtype=np.uint8).reshape(3, 4))
BROKEN_FILES = {
    "wrong magic": (b"\x01\x00" + GOOD[2:], "magic"),
    "int32 type code": (GOOD[:2] + b"\x0c" + GOOD[3:], "not supported"),
    "zero dimensions": (b"\x00\x00\x08\x00", "dimensions"),
    "short header": (GOOD[:6], "truncated"),
    "truncated data": (GOOD[:-1], "truncated"),
    "trailing bytes": (GOOD + b"\x00", "trailing"),
    "absurd size": (b"\x00\x00\x08\x03" + (60000).to_bytes(4, "big") * 3 + b"\x00", "elements"),
}


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("case", BROKEN_FILES)
def test_read_idx_names_the_file_and_the_problem(tmp_path: Path, case: str, gz: bool) -> None:
    content, problem = BROKEN_FILES[case]
    path = tmp_path / ("broken.gz" if gz else "broken")
    path.write_bytes(gzip.compress(content) if gz else content)
    with pytest.raises(DataError, match=problem) as error:
        read_idx(path)
    assert path.name in str(error.value)


@pytest.mark.parametrize("damage", ["flipped byte", "cut short", "not gzip"])
def test_read_idx_reports_a_corrupt_gzip_stream(tmp_path: Path, damage: str) -> None:
    packed = bytearray(gzip.compress(GOOD))
    if damage == "flipped byte":
        packed[-6] ^= 0xFF  # inside the CRC trailer
    elif damage == "cut short":
        packed = packed[: len(packed) // 2]
    else:
        packed = bytearray(GOOD)
    path = tmp_path / "damaged-idx1-ubyte.gz"
    path.write_bytes(bytes(packed))
    with pytest.raises(DataError, match="gzip") as error:
        read_idx(path)
    assert path.name in str(error.value)


def test_read_idx_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found") as error:
        read_idx(tmp_path / "absent-idx3-ubyte.gz")
    assert "absent-idx3-ubyte.gz" in str(error.value)


def test_load_idx_folder_reads_gz_and_raw_files(tmp_path: Path) -> None:
    write_idx_pair(tmp_path, "t10k", 20, 20)
    data = load("mnist", "test", folder=tmp_path)
    assert len(data) == 20 and data.labels.dtype == np.int64
    assert data.labels.tolist() == [i % 10 for i in range(20)]


def test_load_idx_folder_refuses_mismatched_counts(tmp_path: Path) -> None:
    write_idx_pair(tmp_path, "train", 20, 19)
    with pytest.raises(DataError, match="20 images") as error:
        load_idx_folder(tmp_path, "mnist")
    assert "train-images-idx3-ubyte.gz" in str(error.value)
    assert "train-labels-idx1-ubyte" in str(error.value)


def test_load_idx_folder_refuses_labels_outside_the_classes(tmp_path: Path) -> None:
    write_idx_pair(tmp_path, "train", 2, 2)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.array([1, 10])))
    with pytest.raises(DataError, match="outside 0..9"):
        load_idx_folder(tmp_path, "mnist")


def test_load_idx_folder_names_the_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="train-images-idx3-ubyte"):
        load_idx_folder(tmp_path, "fashion")


@pytest.mark.skipif(
    not DEBIAN_FASHION.is_dir(), reason="Debian dataset-fashion-mnist not installed"
)
def test_reads_the_full_debian_fashion_mnist() -> None:
    train = load_idx_folder(DEBIAN_FASHION, "fashion", "train")
    test = load_idx_folder(DEBIAN_FASHION, "fashion", "test")
    assert train.images.shape == (60000, 28, 28) and len(test) == 10000
    assert np.bincount(test.labels).tolist() == [1000] * 10
    # Provenance: every shipped Fashion image is a t10k image with the same label.
    t10k = {image.tobytes(): label for image, label in zip(test.images, test.labels, strict=True)}
    for split in ("train", "test"):
        shipped = load_shipped("fashion", split)
        assert all(
            t10k[image.tobytes()] == label
            for image, label in zip(shipped.images, shipped.labels, strict=True)
        )


# --- download -------------------------------------------------------------------------------


class FileServer:
    """Serves ``files`` (name -> bytes) on 127.0.0.1 and counts the requests per path."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.truncate: set[str] = set()
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = self.path.rsplit("/", 1)[-1]
                server.requests.append(name)
                if name not in server.files:
                    self.send_error(404)
                    return
                body = server.files[name]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if name in server.truncate else body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/data/"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def checksums(self) -> dict[str, str]:
        return {name: hashlib.md5(body).hexdigest() for name, body in self.files.items()}


@pytest.fixture
def server() -> Iterator[FileServer]:
    served = FileServer()
    rng = np.random.default_rng(2)
    for name in IDX_FILES:
        shape = (8, 28, 28) if "images" in name else (8,)
        served.files[name] = gzip.compress(idx_bytes(rng.integers(0, 10, size=shape)))
    served.thread.start()
    yield served
    served.httpd.shutdown()
    served.httpd.server_close()


def test_download_fetches_verifies_and_reuses(server: FileServer, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    folder = download("mnist", cache, base_url=server.url, checksums=server.checksums())
    assert folder == cache
    assert sorted(p.name for p in cache.iterdir()) == sorted(IDX_FILES)
    assert len(load_idx_folder(folder, "mnist", "test")) == 8
    assert len(server.requests) == 4

    download("mnist", cache, base_url=server.url, checksums=server.checksums())
    assert len(server.requests) == 4  # every file was already there and verified


def test_download_uses_the_cache_env_var(
    server: FileServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIGC_CACHE", str(tmp_path))
    folder = download("fashion", base_url=server.url, checksums=server.checksums())
    assert folder == tmp_path / "fashion" and len(list(folder.iterdir())) == 4


def test_download_checksum_mismatch_leaves_nothing(server: FileServer, tmp_path: Path) -> None:
    checksums = server.checksums()
    checksums["t10k-images-idx3-ubyte.gz"] = "0" * 32
    with pytest.raises(DataError, match="checksum mismatch") as error:
        download("mnist", tmp_path, base_url=server.url, checksums=checksums)
    message = str(error.value)
    assert "t10k-images-idx3-ubyte.gz" in message and "0" * 32 in message
    assert checksums["t10k-labels-idx1-ubyte.gz"] not in message
    left = {p.name for p in tmp_path.iterdir()}
    assert left == {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"}  # no temp files


def test_interrupted_download_leaves_nothing(server: FileServer, tmp_path: Path) -> None:
    server.truncate.add("train-images-idx3-ubyte.gz")
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz"):
        download("mnist", tmp_path, base_url=server.url, checksums=server.checksums())
    assert list(tmp_path.iterdir()) == []


def test_download_reports_http_errors(server: FileServer, tmp_path: Path) -> None:
    checksums = server.checksums()
    del server.files["train-labels-idx1-ubyte.gz"]
    with pytest.raises(DataError, match="404") as error:
        download("mnist", tmp_path, base_url=server.url, checksums=checksums)
    assert "train-labels-idx1-ubyte.gz" in str(error.value)
    assert [p.name for p in tmp_path.iterdir()] == ["train-images-idx3-ubyte.gz"]
