"""What the first visitor's first picture needs, loaded before they arrive.

`warm` runs once at server start (streamlit_app's lifespan hook) on its own thread. It fills
the same ``st.cache_resource`` caches the pages read (the shared models, the held-out images,
the sliders' directions) and draws one picture so that torch's kernels are built; a page that
asks for any of them meanwhile waits for the one computation instead of starting its own.
The morph panel's graph is exported last, here rather than in the first visitor's first run,
where its CPU delayed the picture (`python -m aigc.bench --only morph`, first paint panel /
native).
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
        pictures.graph(model, classifier, steering, FIRST_MODEL, FIRST_DATASET)  # last
    except Exception:  # a missing or broken file: the page reports it when it gets there
        log.exception("preloading the first page's models failed")
