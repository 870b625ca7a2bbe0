"""The browser's graph (`aigc.morph`) paints what the server paints, look for look."""

import contextlib
import io

import numpy as np
import pytest
import torch
from PIL import Image

from aigc import morph, render, weights
from aigc.data import load_shipped
from aigc.models import GAN, VAE, GANConfig, VAEConfig
from aigc.render import Look
from tests.test_server import fresh_python

ort = pytest.importorskip("onnxruntime")

LOOKS = [
    Look(seed=3, label=7),
    Look(seed=5, label=2, directions=(1.5, -2.0, 0.5)),
    Look(seed=9, label=1, raw=((0, 2.0), (3, -1.0), (400, 5.0))),  # 400: beyond D, dropped
    Look(seed=11, label=4, target=8, amount=0.4, directions=(0, 0, 0, 0, 0, 3)),
    Look(seed=13, target=3, amount=-1.5, directions=(-3, 3, -3, 3, -3, 3, 9)),  # 7th: ignored
    Look(seed=17, label=12, target=0, amount=1.0, raw=((1, -3.0),)),  # label out of range
]


def _heldout(dataset: str, n: int = 300) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = load_shipped(dataset, "test").tensors()
    return x[:n], y[:n]


def _shipped(name: str):
    model = weights.load_shipped(name)
    data = _heldout(name.split("_")[1]) if isinstance(model, VAE) else None
    return model, render.steering(model, data), _classifier(name.split("_")[1])


def _classifier(dataset: str):
    return weights.load_shipped(f"classifier_{dataset}").eval()


def _tiny(kind: str):
    """Untrained models of the shapes a person may upload: unconditional GAN, a GAN of the
    live recipe's upsampling, MLP CVAE."""
    torch.manual_seed(0)
    if kind == "gan_unconditional":
        model = GAN(GANConfig(num_classes=0, z_dim=8, g_width=8, d_width=8)).eval()
        return model, render.steering(model), None
    if kind == "gan_nearest":
        model = GAN(GANConfig(z_dim=8, g_width=8, d_width=8, upsample="nearest")).eval()
        return model, render.steering(model), _classifier("mnist")
    model = VAE(VAEConfig(num_classes=10, z_dim=4, hidden=32)).eval()
    return model, render.steering(model, _heldout("mnist")), _classifier("mnist")


def _server(model, classifier, steer, look: Look) -> tuple[np.ndarray, render.Frame]:
    frame = render.image(model, classifier, steer, look, scale=1)
    return np.asarray(Image.open(io.BytesIO(frame.png))), frame


SHIPPED = ["gan_mnist", "vae_mnist", "gan_fashion", "vae_fashion"]
TINY = ["gan_unconditional", "gan_nearest", "cvae"]


@pytest.fixture(scope="module", params=SHIPPED + TINY)
def exported(request):
    name = request.param
    model, steer, classifier = _tiny(name) if name in TINY else _shipped(name)
    graph = morph.export_onnx(model, steer, classifier)
    return model, steer, classifier, ort.InferenceSession(graph)


def test_the_graph_paints_the_servers_pixels_and_says_what_it_says(exported):
    model, steer, classifier, session = exported
    assert tuple(i.name for i in session.get_inputs()) == morph.input_names(model, steer)
    names = tuple(o.name for o in session.get_outputs())
    assert names == morph.output_names(model, classifier)
    for look in LOOKS:
        inputs = {
            k: np.asarray([v], np.float32)
            for k, v in morph.morph_inputs(model, steer, look).items()
        }
        out = dict(zip(names, session.run(None, inputs), strict=True))
        pixels, frame = _server(model, classifier, steer, look)
        assert out["pixels"].dtype == np.uint8 and out["pixels"].shape == (1, 28, 28)
        diff = np.abs(out["pixels"][0].astype(int) - pixels).max()
        assert diff <= 2, f"{look}: {diff}/255"
        if classifier is not None:
            assert int(out["probs"][0].argmax()) == frame.label
            assert out["probs"][0].max() == pytest.approx(frame.confidence, abs=1e-4)
        if isinstance(model, GAN):
            assert out["realness"][0] == pytest.approx(frame.realness, abs=1e-4)


def test_the_class_inputs_are_only_those_the_model_uses():
    assert morph.input_names(*_tiny("gan_unconditional")[:2]) == (
        "z_base",
        "raw_mask",
        "raw_values",
        "offsets",
    )
    assert morph.input_names(*_tiny("cvae")[:2])[-3:] == ("label_onehot", "target_onehot", "amount")


def test_sliders_change_the_picture_in_the_graph(exported):
    """The traced look's zeros are not baked in: moving an offset or the amount repaints."""
    model, steer, _, session = exported
    base = morph.morph_inputs(model, steer, Look(seed=1, label=3, target=5))
    feeds = {k: np.asarray([v], np.float32) for k, v in base.items()}
    still = session.run(["pixels"], feeds)[0]
    feeds["offsets"] = feeds["offsets"] + 3.0
    moved = session.run(["pixels"], feeds)[0]
    assert not np.array_equal(still, moved)


def test_what_the_sliders_send_back_is_the_look_they_show(exported):
    model, steer, _, _ = exported
    for look in LOOKS:
        inputs = morph.morph_inputs(model, steer, look)
        assert morph.morph_inputs(model, steer, morph.moved(look, inputs)) == inputs


@pytest.mark.parametrize("name", ["gan_mnist", "vae_mnist", *TINY])
def test_skipping_torchs_onnxscript_pass_changes_no_byte(name, monkeypatch):
    model, steer, classifier = _tiny(name) if name in TINY else _shipped(name)
    fast = morph.export_onnx(model, steer, classifier)
    monkeypatch.setattr(morph, "_no_onnxscript_pass", contextlib.nullcontext)
    assert morph.export_onnx(model, steer, classifier) == fast  # torch's own path, onnx imported


def test_an_export_imports_no_onnx():
    """`onnx`'s import was most of a first export's CPU (~0.8 s of ~0.85 s)."""
    code = (
        "import sys; from aigc import morph, render, weights; "
        "m = weights.load_shipped('gan_mnist'); c = weights.load_shipped('classifier_mnist'); "
        "morph.export_onnx(m, render.steering(m), c); "
        "print('onnx' in sys.modules)"
    )
    assert fresh_python(code) == "False"
