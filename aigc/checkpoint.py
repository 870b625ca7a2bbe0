"""Weights files: safetensors with the model's kind, config and provenance in the metadata.

Loading never unpickles. Before a byte of tensor data is trusted, the header is parsed by hand
and checked against the model the config describes (built on the meta device, so an absurd
config costs no memory): every key, shape and dtype must match, the header must be small and
the data must be complete, and every value must be finite. Anything else is a WeightsError: one
line saying what is wrong, and a code naming the plain-words explanation a page shows.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import glob
import json
import os
import struct
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import nn

from aigc.data import CLASS_NAMES, DATASETS, OWN_IMAGES, is_class_name
from aigc.errors import InputError
from aigc.models import KINDS

if TYPE_CHECKING:
    from aigc.training import TrainConfig

FORMAT = "aigc-weights/1"
MAX_FILE_BYTES = 64 * 1024 * 1024  # the largest shipped file (the Fashion-MNIST VAE) is 21.2 MB
MAX_HEADER_BYTES = 1024 * 1024
MAX_PARAMETERS = 16_000_000
MAX_CONFIG_INT = 4096
STALE_TEMP_S = 3600  # a temp file this old was left by a save that was killed mid-write


class WeightsError(InputError):
    """A weights file that cannot be used (see :class:`aigc.errors.InputError`)."""

    default_code = "weights_unusable"


def training_provenance(
    config: TrainConfig,
    *,
    dataset: str,
    data_source: str,
    steps: int,
    seconds: float,
    **extra: Any,
) -> dict[str, Any]:
    """What a file trained here records about how it was made, the same whether the CLI or the
    page trained it: enough to train it again. `extra` adds what only one caller knows (the
    command line, the page's name)."""
    return {
        "dataset": dataset,
        "data_source": data_source,
        "steps": steps,
        "seconds": round(seconds, 1),
        "seed": config.seed,
        "train_config": dataclasses.asdict(config),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "torch": torch.__version__,
        **extra,
    }


def save_model(
    model: nn.Module, path: str | Path, provenance: dict[str, Any] | None = None
) -> Path:
    """Write `model` as safetensors atomically: a temp file in the same folder, then rename,
    so a crash mid-write never leaves a half-written file under `path`."""
    path = Path(path)
    data = to_bytes(model, provenance)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes files private; weights are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _remove_stale_temps(path: Path) -> None:
    """Delete temp files of earlier saves to `path` that were killed before their rename
    (SIGKILL, power loss); recent ones may belong to a save still in progress, so they stay."""
    cutoff = time.time() - STALE_TEMP_S
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        with contextlib.suppress(OSError):
            if tmp.stat().st_mtime < cutoff:
                tmp.unlink()


def to_bytes(model: nn.Module, provenance: dict[str, Any] | None = None) -> bytes:
    kind = kind_of(model)
    tensors = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    metadata = {
        "format": FORMAT,
        "kind": kind,
        "config": json.dumps(dataclasses.asdict(model.config)),
        "provenance": json.dumps(provenance or {}),
    }
    return st_save(tensors, metadata=metadata)


def kind_of(model: nn.Module) -> str:
    for kind, (_, cls) in KINDS.items():
        if type(model) is cls:
            return kind
    raise TypeError(f"not a model this package saves: {type(model).__name__}")


def load_model(source: str | Path | bytes, name: str | None = None) -> tuple[nn.Module, dict]:
    """Load a weights file (path or bytes) into a fresh model in eval mode.

    Returns (model, provenance). Raises WeightsError naming the file and the problem.
    """
    if isinstance(source, bytes | bytearray):
        data, label = bytes(source), name or "uploaded file"
    else:
        path = Path(source)
        label = name or path.name
        try:
            size = path.stat().st_size
        except OSError as e:
            raise WeightsError(
                f"{label}: cannot read ({e.strerror})", "weights_unreadable", reason=e.strerror
            ) from None
        if size > MAX_FILE_BYTES:
            raise _too_large(size).named(label)
        data = path.read_bytes()
    try:
        return _load(data)
    except WeightsError as e:
        raise e.named(label) from None


def _too_large(size: int) -> WeightsError:
    return WeightsError(
        f"{size:,} bytes is larger than the {MAX_FILE_BYTES:,} allowed",
        "weights_too_large",
        megabytes=size / 2**20,
        limit_megabytes=MAX_FILE_BYTES / 2**20,
    )


def _load(data: bytes) -> tuple[nn.Module, dict]:
    if len(data) > MAX_FILE_BYTES:
        raise _too_large(len(data))
    header = _header(data)
    meta = header.pop("__metadata__", None) or {}
    if meta.get("format") != FORMAT:
        raise WeightsError(
            "not an aigc weights file (no 'format: aigc-weights/1' in its metadata)",
            "weights_not_aigc",
        )
    kind = meta.get("kind")
    if kind not in KINDS:
        raise WeightsError(
            f"unknown model kind {kind!r}; expected one of {', '.join(KINDS)}",
            "weights_unknown_kind",
        )
    config_cls, model_cls = KINDS[kind]
    config = _config(config_cls, meta.get("config", ""))
    try:
        with torch.device("meta"):
            expected = model_cls(config).state_dict()
    except (ValueError, RuntimeError) as e:
        raise _damaged(f"config does not describe a buildable model ({e})") from None
    n_params = sum(t.numel() for t in expected.values())
    if n_params > MAX_PARAMETERS:
        raise WeightsError(
            f"config asks for {n_params:,} parameters; the limit is {MAX_PARAMETERS:,}",
            "weights_too_many_parameters",
            parameters=n_params,
            limit=MAX_PARAMETERS,
        )
    _check_entries(header, expected)
    (n,) = struct.unpack("<Q", data[:8])
    if _data_end(header) > len(data) - 8 - n:
        raise WeightsError("file is truncated (tensor data runs past the end)", "weights_truncated")
    try:
        tensors = st_load(data)
    except Exception as e:  # safetensors raises its own error types for malformed files
        raise _damaged(f"malformed safetensors data ({e})") from None
    for key, t in tensors.items():
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise WeightsError(f"tensor {key} holds NaN or Inf values", "weights_not_finite")
    model = model_cls(config)
    model.load_state_dict(tensors, strict=True)
    try:
        provenance = json.loads(meta.get("provenance", "{}"))
    except json.JSONDecodeError:
        provenance = {}
    provenance = provenance if isinstance(provenance, dict) else {}
    _check_class_names(provenance.get("class_names"), config.num_classes)
    return model.eval(), provenance


def _check_class_names(names: object, num_classes: int) -> None:
    """A file's own class names (a model trained on a user's images) are shown wherever a
    label is: each must be a short printable line, one per class the model draws."""
    if names is None:
        return
    ok = (
        isinstance(names, list)
        and all(is_class_name(n) for n in names)
        and len(set(names)) == len(names)
        and (len(names) == num_classes if num_classes else len(names) <= MAX_CONFIG_INT)
    )
    if not ok:
        raise _damaged(f"provenance 'class_names' is not {num_classes or 'a list of'} short names")


def class_names(model: nn.Module, provenance: dict[str, Any]) -> tuple[str, ...]:
    """What each label of `model` is called: the names its file carries (a model trained on a
    user's own images, checked by :func:`load_model`), else its dataset's, else the indices."""
    if provenance.get("class_names"):
        return tuple(provenance["class_names"])
    if model.config.dataset in CLASS_NAMES:
        return CLASS_NAMES[model.config.dataset]
    return tuple(str(i) for i in range(model.config.num_classes))


def _header(data: bytes) -> dict:
    if not data:
        raise WeightsError("the file is empty", "file_empty")
    if len(data) < 8:
        raise WeightsError(
            "file is truncated (shorter than a safetensors header)", "weights_not_safetensors"
        )
    (n,) = struct.unpack("<Q", data[:8])
    if n > MAX_HEADER_BYTES and (data[:1] == b"\x80" or data[:2] == b"PK"):
        raise WeightsError(
            "this is a pickle or torch.save file, not safetensors; it was not opened",
            "weights_pickle",
        )
    if n > MAX_HEADER_BYTES:  # what random bytes look like
        raise WeightsError(
            f"header declares {n:,} bytes; the limit is {MAX_HEADER_BYTES:,}",
            "weights_not_safetensors",
        )
    if 8 + n > len(data):
        raise WeightsError("file is truncated (header runs past the end)", "weights_truncated")
    try:
        header = json.loads(data[8 : 8 + n])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise WeightsError(
            "header is not valid JSON: not a safetensors file", "weights_not_safetensors"
        ) from None
    if not isinstance(header, dict):
        raise WeightsError(
            "header is not a JSON object: not a safetensors file", "weights_not_safetensors"
        )
    return header


def _data_end(header: dict) -> int:
    """Where the header says the tensor data ends, in bytes after the header."""
    offsets = [entry.get("data_offsets") for entry in header.values()]
    return max(
        (o[1] for o in offsets if isinstance(o, list) and len(o) == 2 and isinstance(o[1], int)),
        default=0,
    )


def _damaged(message: str) -> WeightsError:
    """A file that says it is this app's weights but whose parts do not fit together."""
    return WeightsError(message, "weights_damaged")


def _config(config_cls: type, text: str):
    try:
        values = json.loads(text)
    except (TypeError, json.JSONDecodeError):
        raise _damaged("metadata 'config' is not valid JSON") from None
    if not isinstance(values, dict):
        raise _damaged("metadata 'config' is not a JSON object")
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    unknown = set(values) - set(fields)
    if unknown:
        raise _damaged(f"config has unknown fields: {', '.join(sorted(unknown))}")
    for key, value in values.items():
        default = fields[key].default
        if type(value) is not type(default):
            raise _damaged(f"config field {key} should be {type(default).__name__}, got {value!r}")
        if isinstance(value, int) and not 0 <= value <= MAX_CONFIG_INT:
            raise _damaged(f"config field {key}={value} is out of range 0..{MAX_CONFIG_INT}")
    if values.get("dataset", "mnist") not in (*DATASETS, OWN_IMAGES):
        raise _damaged(f"config names an unknown dataset {values['dataset']!r}")
    return config_cls(**values)


def _check_entries(header: dict, expected: dict[str, torch.Tensor]) -> None:
    missing = sorted(set(expected) - set(header))
    extra = sorted(set(header) - set(expected))
    if missing:
        raise _damaged(
            f"missing tensors: {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}"
        )
    if extra:
        raise _damaged(
            f"unexpected tensors: {', '.join(extra[:3])}{' ...' if len(extra) > 3 else ''}"
        )
    dtypes = {torch.float32: "F32", torch.int64: "I64"}
    for key, want in expected.items():
        entry = header[key]
        if not isinstance(entry, dict):
            raise _damaged(f"tensor {key}: malformed header entry")
        if entry.get("dtype") != dtypes.get(want.dtype):
            raise _damaged(
                f"tensor {key} has dtype {entry.get('dtype')}, expected {dtypes.get(want.dtype)}"
            )
        if entry.get("shape") != list(want.shape):
            raise _damaged(
                f"tensor {key} has shape {entry.get('shape')}, expected {list(want.shape)}"
            )
