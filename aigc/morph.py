"""A model and its slider directions as one ONNX graph, so a browser can repaint the picture
while a slider is dragged, without asking the server.

`SteeredDecoder` is `render.image`'s pixel path as a module: raw overrides of the seed's z,
the direction offsets and the class push (VAE) or class blend (conditional GAN) go in as
float32 tensors, and the (1, 28, 28) uint8 image comes out, rounded as `imaging.to_uint8`
rounds. The steering is folded into the graph as constants, so no latent math is written a
second time in JavaScript; seeding stays in Python (the server sends the seed's z).
The judges come along (`render.judges`): the shipped classifier's class probabilities and a
GAN's realness are outputs too, so the verdict under the picture is the browser's as well.
`morph_inputs` turns a `Look` into the graph's inputs; `export_onnx` makes the bytes.
"""

from __future__ import annotations

import contextlib
import io
import threading
import warnings
from collections.abc import Iterator
from dataclasses import replace

import torch
from torch import nn

from aigc import explore_math, latent, render
from aigc.models import GAN, VAE, Classifier
from aigc.prior import FittedPrior
from aigc.render import Look, Steering

OPSET = 17  # onnxruntime-web 1.2x runs it on its CPU (wasm) backend
SLIDER_INPUTS = ("offsets", "raw_mask", "raw_values", "amount")  # what `moved` reads back


class SteeredDecoder(nn.Module):
    """(z_base, raw_mask, raw_values, offsets[, label_onehot][, target_onehot, amount]) ->
    (pixels[, probs][, realness]): the (1, 28, 28) uint8 picture `render.image` paints for the
    same look, and what it says of that picture (`output_names`).

    The class inputs exist only where the model uses them (`input_names`): a conditional model
    takes `label_onehot`; a conditional GAN blends towards `target_onehot` by `amount`, a VAE
    is pushed `amount` times along the target's attribute vector.
    """

    def __init__(self, model: nn.Module, steer: Steering, classifier: Classifier | None = None):
        super().__init__()
        self.model = model
        self.classifier = classifier
        self.register_buffer("directions", steer.directions.vectors.detach().clone())  # (K, D)
        vectors = steer.class_vectors if isinstance(model, VAE) else None
        self.register_buffer(
            "class_vectors", None if vectors is None else vectors.detach().clone()
        )  # (C, D)
        self.conditional = render.conditional(model)
        self.blends = isinstance(model, GAN) and self.conditional
        self.input_names = input_names(model, steer)
        self.output_names = output_names(model, classifier)

    def forward(
        self,
        z_base: torch.Tensor,  # (1, D) the seed's z
        raw_mask: torch.Tensor,  # (1, D) 1 where raw_values overrides z
        raw_values: torch.Tensor,  # (1, D)
        offsets: torch.Tensor,  # (1, K) direction coefficients
        *classes: torch.Tensor,  # label_onehot (1, C); target_onehot (1, C), amount (1, 1)
    ) -> tuple[torch.Tensor, ...]:
        rest = list(classes)
        label_onehot = rest.pop(0) if self.conditional else None
        target_onehot, amount = rest if rest else (None, None)
        z = torch.where(raw_mask > 0.5, raw_values, z_base)
        attribute = None
        if self.class_vectors is not None:
            attribute = target_onehot @ self.class_vectors  # (1, D): class_vectors[target]
        z = explore_math.steer(z, self.directions, offsets, attribute, amount)
        weights = label_onehot
        if self.blends:
            weights = explore_math.blend_classes(label_onehot, target_onehot, amount)
        x = latent.generate(self.model, z, weights)  # (1, 1, 28, 28) in [0, 1]
        # imaging.to_uint8: clip, * 255, round half to even (numpy's and ONNX Round's rule)
        pixels = torch.round(torch.clamp(x, 0, 1) * 255).to(torch.uint8).reshape(-1, 28, 28)
        probs, realness = render.judges(self.model, self.classifier, x, weights)
        return (pixels, *(t for t in (probs, realness) if t is not None))


def morph_inputs(
    model: nn.Module, steer: Steering, look: Look, fitted: FittedPrior | None = None
) -> dict[str, list[float]]:
    """The graph's inputs for a look, flat float lists (each of shape (1, len)): what the
    server sends the browser; its sliders then change `offsets`, `raw_values` and `amount`.

    The same choices as `render._latents` and `render._class_weights`: raw overrides beyond
    the model's dimensions are dropped, an out-of-range label falls back to class 0, and a
    target moves the class only when the model can move it.
    """
    dim = model.latent_dim
    k = len(steer.directions.vectors)
    mask, values = [0.0] * dim, [0.0] * dim
    for j, value in look.raw:
        if j < dim:
            mask[j], values[j] = 1.0, float(value)
    offsets = [float(c) for c in look.directions[:k]]
    inputs = {
        "z_base": list(render.base_latent(model, look.seed, fitted)),  # the prior's, if fitted
        "raw_mask": mask,
        "raw_values": values,
        "offsets": offsets + [0.0] * (k - len(offsets)),
    }
    names = input_names(model, steer)
    if "label_onehot" in names:
        ok = look.label is not None and look.label < render.classes(model)
        inputs["label_onehot"] = _onehot(model.config.num_classes, look.label if ok else 0)
    if "target_onehot" in names:
        n = _targets(model, steer)
        moves = look.target is not None and look.target < n
        inputs["target_onehot"] = _onehot(n, look.target if moves else None)
        inputs["amount"] = [float(look.amount) if moves else 0.0]
    return inputs


def moved(look: Look, inputs: dict[str, list[float]]) -> Look:
    """The look a person left the browser's sliders at: `morph_inputs`'s inverse for what
    the sliders move (direction offsets, raw values where masked, the class amount)."""
    pairs = enumerate(zip(inputs["raw_mask"], inputs["raw_values"], strict=True))
    raw = tuple((j, float(v)) for j, (m, v) in pairs if m)
    amount = float(inputs["amount"][0]) if "amount" in inputs else look.amount
    return replace(
        look, directions=tuple(float(c) for c in inputs["offsets"]), raw=raw, amount=amount
    )


def input_names(model: nn.Module, steer: Steering) -> tuple[str, ...]:
    """The graph's inputs, in order: the class ones only where the model uses them."""
    names = ("z_base", "raw_mask", "raw_values", "offsets")
    if render.conditional(model):
        names += ("label_onehot",)
    if _targets(model, steer):
        names += ("target_onehot", "amount")
    return names


def output_names(model: nn.Module, classifier: Classifier | None) -> tuple[str, ...]:
    """The graph's outputs, in order: "probs" (1, C) with a classifier, "realness" (1,) for
    a GAN."""
    names = ("pixels",)
    if classifier is not None:
        names += ("probs",)
    if isinstance(model, GAN):
        names += ("realness",)
    return names


def _targets(model: nn.Module, steer: Steering) -> int:
    """Classes a look's target can name: a conditional GAN's inputs, a VAE's attribute
    vectors; 0 where the target means nothing (an unconditional GAN)."""
    if isinstance(model, GAN):
        return model.config.num_classes
    return 0 if steer.class_vectors is None else len(steer.class_vectors)


def _onehot(n: int, index: int | None) -> list[float]:
    return [1.0 if i == index else 0.0 for i in range(n)]


def example_inputs(model: nn.Module, steer: Steering) -> tuple[torch.Tensor, ...]:
    """The default look's inputs as (1, n) float32 tensors, in the graph's order."""
    inputs = morph_inputs(model, steer, Look())
    return tuple(torch.tensor([v], dtype=torch.float32) for v in inputs.values())


def export_onnx(model: nn.Module, steer: Steering, classifier: Classifier | None = None) -> bytes:
    """The model, its steering and the classifier that judges its pictures as an ONNX model
    (opset `OPSET`), weights inside.

    TorchScript's exporter (`dynamo=False`): it needs only the `onnx` package (the dynamo one
    also needs `onnxscript` and imports torch._dynamo: ~4 s for the first export here against
    ~0.7 s, same pixels), and a fixed-shape trace of one look at batch 1 is all the browser
    asks of the graph. The models are only read. Not even `onnx` is imported
    (`_no_onnxscript_pass`): a first export takes ~0.06 s of CPU instead of ~0.85 s.
    """
    decoder = SteeredDecoder(model, steer, classifier).eval()
    buf = io.BytesIO()
    with _no_onnxscript_pass(), render.one_thread(), torch.no_grad(), warnings.catch_warnings():
        # Known and harmless here: the trace's fixed shapes (one look at batch 1) and the
        # legacy exporter's deprecation notice.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            decoder,
            example_inputs(model, steer),
            buf,
            dynamo=False,
            input_names=list(decoder.input_names),
            output_names=list(decoder.output_names),
            opset_version=OPSET,
            do_constant_folding=True,
        )
    return buf.getvalue()


_EXPORTING = threading.Lock()  # one export at a time while torch's pass is swapped out


@contextlib.contextmanager
def _no_onnxscript_pass() -> Iterator[None]:
    """torch's TorchScript exporter imports the `onnx` package (~0.8 s of CPU, nearly all of a
    first export here; on the first visitor's page it ran beside the browser's first paint) only
    for one pass, `_add_onnxscript_fn`, which copies the onnxscript functions of custom-domain
    ops into the model. `SteeredDecoder` exports standard ONNX ops alone (the default domain,
    no custom opsets), so that pass finds nothing and returns the bytes it was given:
    skipping it changes no byte (tests/test_morph.py). Where torch has no such pass (another
    version), the export runs as torch has it."""
    try:
        from torch.onnx._internal.torchscript_exporter import onnx_proto_utils as utils
    except ImportError:
        utils = None
    original = getattr(utils, "_add_onnxscript_fn", None)
    if original is None:
        yield
        return

    def only_custom(model_bytes: bytes, custom_opsets) -> bytes:
        return original(model_bytes, custom_opsets) if custom_opsets else model_bytes

    with _EXPORTING:
        utils._add_onnxscript_fn = only_custom
        try:
            yield
        finally:
            utils._add_onnxscript_fn = original
