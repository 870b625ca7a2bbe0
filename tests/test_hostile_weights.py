"""Hostile weights files: a pickle is never run, a safe load that fails is never retried
unsafely, a well-formed but wrong file leaves the shared model alone, and the size limits hold.

Uploads go through the page's own handler (``models.upload_ui`` under AppTest, or
``models.load_upload``). What ``tests/test_checkpoint.py`` and ``tests/test_app.py`` already
check is not repeated here.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import tomllib
from pathlib import Path

import pytest
import torch
from safetensors.torch import save as st_save
from streamlit.testing.v1 import AppTest

from aigc.checkpoint import MAX_FILE_BYTES, MAX_HEADER_BYTES, WeightsError, load_model, to_bytes
from aigc.models import GAN, GANConfig
from aigc.ui import i18n, models
from aigc.weights import shipped_path

ROOT = Path(__file__).resolve().parent.parent

needs_gan = pytest.mark.skipif(
    not shipped_path("gan_mnist").is_file(), reason="weights/gan_mnist.safetensors not trained"
)

UPLOAD_SCRIPT = """
import streamlit as st
from aigc.ui import i18n, models
models.upload_ui()
st.write(str(id(models.shared_model("gan_mnist"))))
"""


def upload_app(tmp_path: Path) -> AppTest:
    path = tmp_path / "upload.py"
    path.write_text(UPLOAD_SCRIPT)
    return AppTest.from_file(str(path), default_timeout=60)


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def own_models(at: AppTest) -> dict:
    """The session's own (uploaded or trained) models; none until one is added."""
    try:
        return at.session_state["custom_models"]
    except KeyError:
        return {}


def clone_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same_state(model: torch.nn.Module, before: dict[str, torch.Tensor]) -> None:
    after = model.state_dict()
    assert after.keys() == before.keys()
    for key, value in before.items():
        assert torch.equal(after[key], value), f"{key} changed"


class Canary:
    """Unpickling this opens (creates) `path`: proof that a pickle ran."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def canary_files(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    """Files whose unpickling would create `canary`: plain pickles and a torch.save zip."""
    canary = tmp_path / "canary"
    payload = pickle.dumps({"state_dict": Canary(str(canary))}, protocol=4)
    buf = io.BytesIO()
    torch.save({"state_dict": Canary(str(canary))}, buf)
    return canary, {
        "evil.pt": payload,
        "evil.pkl": payload,
        "evil.pth": buf.getvalue(),
        "evil.ckpt": buf.getvalue(),
        "evil.bin": payload,
        "evil.safetensors": payload,  # a pickle under the right name
        "zip.safetensors": buf.getvalue(),  # torch.save's zip under the right name
    }


# --- pickles ------------------------------------------------------------------------------


@needs_gan
def test_pickle_uploads_are_refused_by_the_page_and_never_unpickled(tmp_path):
    canary, files = canary_files(tmp_path)
    assert not canary.exists()
    for name, payload in files.items():
        at = upload_app(tmp_path).run()
        no_exception(at)
        at.file_uploader(key="weights_upload").upload(name, payload).run()
        if not name.endswith(".safetensors"):
            # The uploader offers only .safetensors; a client that sends another name anyway
            # is stopped by Streamlit's own check before the page sees the file.
            [refusal] = at.exception
            assert "Invalid file extension" in refusal.value, refusal.value
        else:
            no_exception(at)
            [error] = at.error
            assert error.value.startswith("Could not load"), error.value
            assert name in error.value and "pickle" in error.value, error.value
        assert not canary.exists(), f"{name} was unpickled"
        assert not own_models(at)


@pytest.fixture
def no_unpickling(monkeypatch):
    """Every way to unpickle raises: a loader that falls back to pickle fails loudly."""
    calls: list[str] = []

    def refuse(name):
        def raiser(*args, **kwargs):
            calls.append(name)
            raise AssertionError(f"{name} was called on an upload")

        return raiser

    monkeypatch.setattr(pickle, "loads", refuse("pickle.loads"))
    monkeypatch.setattr(pickle, "load", refuse("pickle.load"))
    monkeypatch.setattr(pickle, "Unpickler", refuse("pickle.Unpickler"))
    monkeypatch.setattr(torch, "load", refuse("torch.load"))
    monkeypatch.setattr(torch.serialization, "load", refuse("torch.serialization.load"))
    return calls


def test_failed_safe_loads_are_never_retried_with_pickle(tmp_path, no_unpickling):
    canary, files = canary_files(tmp_path)
    good = to_bytes(GAN(GANConfig(g_width=8, d_width=8)))
    files |= {
        "truncated.safetensors": good[: len(good) // 2],
        "garbage.safetensors": os.urandom(2048),
        "empty.safetensors": b"",
        "header_only.safetensors": good[:8],
    }
    for name, payload in files.items():
        path = tmp_path / name
        path.write_bytes(payload)
        for source in (payload, path):
            with pytest.raises(WeightsError) as info:
                load_model(source, name)
            assert str(info.value).startswith(f"{name}: ") and "\n" not in str(info.value)
        with pytest.raises(WeightsError, match=name):
            models.load_upload(payload, name)
    assert no_unpickling == [] and not canary.exists()
    # The guards are live: a good file still loads without any of them.
    assert isinstance(models.load_upload(good, "good.safetensors"), GAN)


# --- well-formed but wrong safetensors ----------------------------------------------------


def _shipped_gan_parts() -> tuple[dict, dict[str, torch.Tensor], bytes]:
    raw = shipped_path("gan_mnist").read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    meta = json.loads(raw[8 : 8 + n])["__metadata__"]
    return meta, dict(load_model(raw)[0].state_dict()), raw


def _hostile_gan_files() -> dict[str, tuple[bytes, str, str]]:
    """name -> (bytes, a fragment of the error's English line, its code), each built on the
    shipped GAN's own config so that only the one thing named is wrong."""
    meta, tensors, raw = _shipped_gan_parts()
    key = next(k for k, v in tensors.items() if v.is_floating_point() and v.dim() == 2)

    def saved(change) -> bytes:
        t = {k: v.clone() for k, v in tensors.items()}
        change(t)
        return st_save(t, metadata=meta)

    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    header[key]["shape"] = [2**40, 2**20]
    huge = json.dumps(header).encode()
    return {
        "renamed_key.safetensors": (
            saved(lambda t: t.update({"evil." + key: t.pop(key)})),
            "missing tensors",
            "weights_damaged",
        ),
        "wrong_shape.safetensors": (
            saved(lambda t: t.update({key: t[key][:1]})),
            "shape",
            "weights_damaged",
        ),
        "wrong_dtype.safetensors": (
            saved(lambda t: t.update({key: t[key].half()})),
            "dtype",
            "weights_damaged",
        ),
        "nan.safetensors": (
            saved(lambda t: t[key].view(-1).__setitem__(0, float("nan"))),
            "NaN or Inf",
            "weights_not_finite",
        ),
        "huge_shape.safetensors": (
            struct.pack("<Q", len(huge)) + huge + raw[8 + n :],
            "shape",
            "weights_damaged",
        ),
        "huge_header.safetensors": (
            struct.pack("<Q", MAX_HEADER_BYTES + 1) + b"{" * 64,
            "header declares",
            "weights_not_safetensors",
        ),
        "truncated.safetensors": (raw[: len(raw) - 1000], "truncated", "weights_truncated"),
    }


@needs_gan
def test_wrong_safetensors_show_an_error_and_leave_the_shared_model_untouched(tmp_path):
    shared = models.shared_model("gan_mnist")
    before = clone_state(shared)
    at = upload_app(tmp_path).run()
    no_exception(at)
    assert at.markdown[-1].value == str(id(shared)), "the page sees the same shared object"
    english = i18n.catalogue("en")
    for name, (payload, fragment, code) in _hostile_gan_files().items():
        with pytest.raises(WeightsError, match=fragment) as info:  # the CLI's line
            load_model(payload, name)
        assert info.value.code == code, name
        at.file_uploader(key="weights_upload").upload(name, payload).run()
        no_exception(at)
        [error] = at.error  # the page's plain words
        assert name in error.value and english[f"errors.{code}"] in error.value, error.value
        assert not at.success
    assert not own_models(at)
    assert models.shared_model("gan_mnist") is shared
    assert_same_state(shared, before)
    assert not shared.training and not any(p.requires_grad for p in shared.parameters())


# --- size limits --------------------------------------------------------------------------


def test_upload_size_limits_are_configured_and_enforced(tmp_path, monkeypatch):
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    limit_mb = config["server"]["maxUploadSize"]
    assert isinstance(limit_mb, int) and 1 <= limit_mb <= MAX_FILE_BYTES // 2**20
    largest = max(
        shipped_path(n).stat().st_size for n in models.SHIPPED if shipped_path(n).is_file()
    )
    assert largest <= limit_mb * 2**20, "a shipped weights file could not be uploaded back"

    too_big = bytes(MAX_FILE_BYTES + 1)
    for call in (
        lambda: load_model(too_big, "big.safetensors"),
        lambda: models.load_upload(too_big, "big.safetensors"),
    ):
        with pytest.raises(WeightsError, match="larger than the 67,108,864 allowed") as info:
            call()
        assert str(info.value).startswith("big.safetensors: ")
    # On disk the size is checked before a byte is read (a sparse file costs nothing here).
    path = tmp_path / "big.safetensors"
    with open(path, "wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail("the file was read"))
    with pytest.raises(WeightsError, match="larger than"):
        load_model(path)
