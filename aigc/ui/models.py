"""Which models a page can show, and where they live.

Shipped models load once per server (``st.cache_resource``), in eval mode with every parameter
frozen, and are shared read-only by all sessions. Models a session trained or uploaded live in
that session's ``st.session_state["custom_models"]`` and are seen by no one else.
"""

from __future__ import annotations

import time
import uuid
import weakref
from pathlib import Path

import streamlit as st

from aigc.checkpoint import WeightsError, class_names, kind_of, load_model
from aigc.data import DATASETS, OWN_IMAGES, ImageSet
from aigc.data import load_shipped as load_dataset
from aigc.models import Classifier
from aigc.render import Model, Tensor
from aigc.ui.i18n import error_text, tr
from aigc.weights import SHIPPED, load_shipped, shipped_path

UPLOAD_SUFFIX = ".safetensors"
MAX_SESSION_MODELS = 8  # each is a few MB of this session's memory


def dataset_name(dataset: str) -> str:
    return tr(f"names.{dataset}")


def _shipped_kind(name: str) -> tuple[str, str]:
    """("gan", "mnist") for "gan_mnist"; the 2-D VAEs ("vae2d_...") are VAEs too."""
    prefix, dataset = name.split("_", 1)
    return ("vae" if prefix == "vae2d" else prefix), dataset


@st.cache_resource(show_spinner=False, max_entries=len(SHIPPED))
def shared_model(name: str) -> Model:
    """A shipped model, loaded once per server and frozen: shared by every session, so nothing
    may train or move it (requires_grad is off on every parameter)."""
    model = load_shipped(name)
    model.eval().requires_grad_(False)
    return model


def session_models() -> dict[str, Model]:
    """Models this session trained or uploaded: its own copies, in eval mode."""
    return st.session_state.setdefault("custom_models", {})


def available_models(kind: str, dataset: str) -> list[str]:
    """Labels of the shipped models on disk, then this session's, of that kind and dataset."""
    shipped = [
        name
        for name in SHIPPED
        if _shipped_kind(name) == (kind, dataset) and shipped_path(name).is_file()
    ]
    own = [
        label
        for label, model in session_models().items()
        if kind_of(model) == kind and model.config.dataset == dataset
    ]
    return shipped + own


def get_model(label: str) -> Model:
    """The model behind a label from `available_models`."""
    own = session_models()
    if label in own:
        return own[label]
    if label in SHIPPED:
        return shared_model(label)
    raise KeyError(label)


def model_title(label: str) -> str:
    """What the model list shows: shipped names spelled out, session labels as they are."""
    if label not in SHIPPED:
        return label
    kind, dataset = _shipped_kind(label)
    kind_name = tr("names.vae2d" if label.startswith("vae2d") else f"names.{kind}")
    return tr("models.shipped", kind=kind_name, dataset=dataset_name(dataset))


_session_keys: weakref.WeakKeyDictionary[Model, str] = weakref.WeakKeyDictionary()


def model_key(label: str, model: Model) -> str:
    """A cache key naming this exact model across sessions: the shipped name, or a random
    token per session model (two sessions may both have a "my GAN (mnist, 14:02)")."""
    if label in SHIPPED and model is shared_model(label):
        return label
    if model not in _session_keys:
        _session_keys[model] = f"session-{uuid.uuid4().hex}"
    return _session_keys[model]


# A model trained on a session's own set, and the set it learnt (its class names and images):
# what the pages use in place of a shipped dataset's held-out images and class names. Weak:
# gone with the model, which lives only in its session.
_own_sets: weakref.WeakKeyDictionary[Model, ImageSet] = weakref.WeakKeyDictionary()


def remember_own_set(model: Model, images: ImageSet) -> None:
    _own_sets[model] = images


def reference_images(model: Model, dataset: str) -> tuple[Tensor, Tensor]:
    """The images a page encodes for `model` (a VAE's directions, its fitted prior): the
    shipped dataset's held-out split, or the own set a session's model learnt."""
    if dataset == OWN_IMAGES:
        return _own_sets[model].tensors()
    return heldout(dataset)


def own_class_names(model: Model) -> tuple[str, ...] | None:
    """The class names of the own set `model` learnt; None for any other model."""
    own = _own_sets.get(model)
    return None if own is None else own.class_names


def has_own_models() -> bool:
    return any(m.config.dataset == OWN_IMAGES for m in session_models().values())


def classifier(dataset: str) -> Classifier | None:
    """The dataset's shipped scoring classifier, or None while its weights are missing (or
    for a session's own set, which has none)."""
    name = f"classifier_{dataset}"
    return shared_model(name) if name in SHIPPED and shipped_path(name).is_file() else None


@st.cache_resource(show_spinner=False)
def heldout(dataset: str) -> tuple[Tensor, Tensor]:
    """The shipped test split as (x (N, 1, 28, 28) in [0, 1], y (N,)): images no model was
    trained on, shared read-only."""
    return load_dataset(dataset, "test").tensors()


def load_upload(data: bytes, filename: str) -> Model:
    """A user's weights file -> a model of their own, in eval mode.

    Only safetensors is opened: .pt/.pkl files are Python pickles, which can run code when
    loaded, so they are refused by name before a byte is read.

    Raises:
        WeightsError: the file is refused; `i18n.error_text` says why in the page's language.
    """
    suffix = Path(filename).suffix.lower()
    if suffix != UPLOAD_SUFFIX:
        raise WeightsError(
            f"{filename}: only .safetensors weights are opened here; a {suffix or 'suffix-less'} "
            "file may be a Python pickle, which can run code when loaded, so it was not opened",
            "weights_wrong_suffix",
            name=filename,
        )
    model, provenance = load_model(data, filename)
    if model.config.dataset not in DATASETS:  # the pages pick models by shipped dataset
        classes = ", ".join(class_names(model, provenance))
        raise WeightsError(
            f"{filename}: trained on its own images ({classes}); the pages show models of "
            f"{' and '.join(DATASETS)} only",
            "weights_own_images",
            classes=classes,
        )
    if kind_of(model) == "classifier":
        raise WeightsError(
            f"{filename}: a classifier has no latent space to explore", "weights_classifier"
        )
    return model.eval().requires_grad_(False)


def add_upload(data: bytes, filename: str) -> str:
    """Load a user's weights file into this session's models and return its label.

    Raises:
        WeightsError: the file is refused, or the session holds all the models it may.
    """
    own = session_models()
    if len(own) >= MAX_SESSION_MODELS:  # checked first: no point opening what cannot be kept
        raise WeightsError(
            f"{filename}: this session already holds {MAX_SESSION_MODELS} models of its own",
            "session_full",
            n=MAX_SESSION_MODELS,
        )
    model = load_upload(data, filename)
    label = _upload_label(filename, model)
    own[label] = model
    return label


def _upload_label(filename: str, model: Model) -> str:
    own = session_models()
    dataset = dataset_name(model.config.dataset)
    base = f"⬆ {Path(filename).stem} ({dataset}, {time.strftime('%H:%M')})"
    label, n = base, 2
    while label in own or label in SHIPPED:
        label, n = f"{base} #{n}", n + 1
    return label


def upload_ui() -> None:
    """Sidebar: upload a weights file into this session's models; errors shown, never raised."""
    with st.sidebar.expander(tr("models.your_weights")):
        upload = st.file_uploader(
            tr("models.upload"),
            type=[UPLOAD_SUFFIX[1:]],
            key="weights_upload",
            help=tr("models.upload_help"),
        )
        if upload is None:
            return
        # The uploader hands back the same file on every rerun: load it once per file. The
        # error is kept, not its text, so switching language translates it too.
        results = st.session_state.setdefault("_uploads", {})
        if upload.file_id not in results:
            try:
                results[upload.file_id] = add_upload(upload.getvalue(), upload.name)
            except WeightsError as e:
                results[upload.file_id] = e.with_traceback(None)
        result = results[upload.file_id]
        if isinstance(result, WeightsError):
            st.error(f"{tr('models.failed', file=upload.name)} {error_text(result)}")
        else:
            st.success(tr("models.loaded", label=result))
