"""What the first visitor's first picture needs, loaded before they arrive.

`warm` runs once at server start (streamlit_app's lifespan hook) on its own thread. It fills
the same ``st.cache_resource`` caches the pages read (the shared models, the held-out images,
the sliders' directions) and draws one picture so that torch's kernels are built; a page that
asks for any of them meanwhile waits for the one computation instead of starting its own.
The morph panel's graph is not among them: its first export (then onnx's import, ~0.7 s of
CPU; `aigc.morph` no longer imports onnx, ~0.2 s now) ran beside the first visitor's first page
and delayed its picture by about as much (bench section interaction); the panel exports it
after the picture is on its way.
"""

from __future__ import annotations

import logging
import time

from streamlit import runtime

log = logging.getLogger(__name__)
FIRST_MODEL = "gan_mnist"  # what Explore opens on
FIRST_DATASET = "mnist"


def warm() -> None:
    from aigc import render  # torch's import: most of the wait, and it needs no runtime

    while not runtime.exists():  # the pages' caches are the runtime's
        time.sleep(0.05)
    from aigc.ui import models, pictures

    try:
        model = models.shared_model(FIRST_MODEL)
        classifier = models.classifier(FIRST_DATASET)
        steering = pictures.steering(model, FIRST_MODEL, FIRST_DATASET)
        render.image(model, classifier, steering, render.Look())
        for dataset in ("mnist", "fashion"):
            models.heldout(dataset)
    except Exception:  # a missing or broken file: the page reports it when it gets there
        log.exception("preloading the first page's models failed")
