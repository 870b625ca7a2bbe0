"""Weights files: round trip, what they record, and every kind of hostile or broken file is
refused with one line and nothing in it executed."""

import dataclasses
import io
import json
import os
import pickle
import struct

import pytest
import torch
from safetensors.torch import save as st_save

from aigc.checkpoint import (
    MAX_HEADER_BYTES,
    WeightsError,
    load_model,
    save_model,
    to_bytes,
    training_provenance,
)
from aigc.models import GAN, VAE, GANConfig, VAEConfig
from aigc.training import TrainConfig


@pytest.fixture(scope="module")
def vae_bytes() -> bytes:
    torch.manual_seed(0)
    return to_bytes(VAE(VAEConfig(z_dim=4)), {"seed": 0})


def _with(vae_bytes: bytes, change) -> bytes:
    """Re-save the VAE's tensors and metadata after `change(tensors, metadata)`."""
    (n,) = struct.unpack("<Q", vae_bytes[:8])
    meta = json.loads(vae_bytes[8 : 8 + n])["__metadata__"]
    model, _ = load_model(vae_bytes)
    tensors = dict(model.state_dict())
    change(tensors, meta)
    return st_save(tensors, metadata=meta)


def test_round_trip_rebuilds_from_config(tmp_path, vae_bytes):
    torch.manual_seed(1)
    gan = GAN(GANConfig(num_classes=10)).eval()
    path = save_model(gan, tmp_path / "g.safetensors", {"steps": 3})
    loaded, prov = load_model(path)
    assert isinstance(loaded, GAN) and loaded.config == gan.config and prov == {"steps": 3}
    assert all(
        torch.equal(a, b)
        for a, b in zip(gan.state_dict().values(), loaded.state_dict().values(), strict=True)
    )
    assert not loaded.training
    assert [p.name for p in tmp_path.iterdir()] == ["g.safetensors"]  # no temp file left


class Canary:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_pickle_that_would_write_a_canary_is_refused_unopened(tmp_path):
    canary = tmp_path / "canary"
    payload = pickle.dumps({"weights": Canary(str(canary))})
    bad = tmp_path / "weights.safetensors"
    bad.write_bytes(payload)
    with pytest.raises(WeightsError, match="pickle"):
        load_model(bad)
    assert not canary.exists()


def test_a_torch_save_file_is_refused(tmp_path):
    buf = io.BytesIO()
    torch.save(VAE(VAEConfig()).state_dict(), buf)
    with pytest.raises(WeightsError, match="pickle or torch.save"):
        load_model(buf.getvalue(), "model.pt")


@pytest.mark.parametrize(
    ("name", "change", "message"),
    [
        ("wrong shape", lambda t, m: t.update({"mu.bias": torch.zeros(5)}), "shape"),
        (
            "wrong dtype",
            lambda t, m: t.update({"mu.bias": torch.zeros(4, dtype=torch.float16)}),
            "dtype",
        ),
        ("missing key", lambda t, m: t.pop("mu.bias"), "missing tensors: mu.bias"),
        ("extra key", lambda t, m: t.update({"evil": torch.zeros(1)}), "unexpected tensors: evil"),
        ("NaN", lambda t, m: t.update({"mu.bias": torch.full((4,), float("nan"))}), "NaN or Inf"),
        (
            "Inf",
            lambda t, m: t.update({"mu.weight": torch.full_like(t["mu.weight"], float("inf"))}),
            "NaN or Inf",
        ),
        ("unknown kind", lambda t, m: m.update({"kind": "os.system"}), "unknown model kind"),
        ("no format", lambda t, m: m.pop("format"), "not an aigc weights file"),
        ("bad config", lambda t, m: m.update({"config": "{not json"}), "not valid JSON"),
        (
            "unknown field",
            lambda t, m: m.update({"config": json.dumps({"__class__": 1})}),
            "unknown fields",
        ),
        (
            "absurd size",
            lambda t, m: m.update({"config": json.dumps({"hidden": 10**12})}),
            "out of range",
        ),
        (
            "wrong type",
            lambda t, m: m.update({"config": json.dumps({"z_dim": "4"})}),
            "should be int",
        ),
        (
            "too big a model",
            lambda t, m: m.update(
                {
                    "config": json.dumps(
                        {"hidden": 4096, "z_dim": 4096, "arch": "conv", "width": 4096}
                    )
                }
            ),
            "parameters; the limit",
        ),
        ("bad arch", lambda t, m: m.update({"config": json.dumps({"arch": "rce"})}), "buildable"),
        (
            "bad activation",
            lambda t, m: m.update({"config": json.dumps({"activation": "eval"})}),
            "buildable",
        ),
    ],
)
def test_broken_files_are_refused_with_one_line(vae_bytes, name, change, message):
    with pytest.raises(WeightsError, match=message) as info:
        load_model(_with(vae_bytes, change), "upload.safetensors")
    assert "\n" not in str(info.value) and str(info.value).startswith("upload.safetensors: ")


def test_truncated_and_garbage_files(vae_bytes):
    """Each has its code, which names the page's plain words for it."""
    for data, code in (
        (vae_bytes[:-7], "weights_truncated"),
        (vae_bytes[:5], "weights_not_safetensors"),
        (vae_bytes[:200], "weights_truncated"),
        (b"", "file_empty"),
        (os.urandom(4096), "weights_not_safetensors"),
    ):
        with pytest.raises(WeightsError) as info:
            load_model(data)
        assert info.value.code == code, str(info.value)


def test_an_oversized_header_is_refused_before_reading_it():
    data = struct.pack("<Q", MAX_HEADER_BYTES + 1) + b"{" * 64
    with pytest.raises(WeightsError, match="header declares"):
        load_model(data)


def test_a_huge_declared_tensor_shape_is_refused(vae_bytes):
    (n,) = struct.unpack("<Q", vae_bytes[:8])
    header = json.loads(vae_bytes[8 : 8 + n])
    header["mu.bias"]["shape"] = [2**40]
    raw = json.dumps(header).encode()
    with pytest.raises(WeightsError, match="shape"):
        load_model(struct.pack("<Q", len(raw)) + raw + vae_bytes[8 + n :])


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(WeightsError, match="nope.safetensors: cannot read"):
        load_model(tmp_path / "nope.safetensors")


def test_a_trained_file_records_its_budget_settings_and_maker(tmp_path):
    config = TrainConfig(steps=10, seed=4, lr=3e-3)
    provenance = training_provenance(
        config, dataset="mnist", data_source="shipped", steps=7, seconds=1.26, made_by="a test"
    )
    _, loaded = load_model(
        save_model(VAE(VAEConfig(z_dim=4)), tmp_path / "v.safetensors", provenance)
    )
    assert loaded == provenance
    assert (loaded["steps"], loaded["seconds"], loaded["seed"]) == (7, 1.3, 4)
    assert loaded["train_config"] == dataclasses.asdict(config) and loaded["made_by"] == "a test"
    assert loaded["torch"] == torch.__version__ and loaded["date"]
