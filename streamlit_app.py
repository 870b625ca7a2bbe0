"""The latent-space playground: `streamlit run streamlit_app.py`.

This file is two things. Run as the page script (on every rerun, as ``__main__``) it draws the
frame around every page: the language switch, your own weights, and the navigation. Imported
by `streamlit run`, which finds `app` below, it is the server: its lifespan hook starts loading
torch and the first page's models while the server boots, before any browser connects, and
its error hook shows visitors a translated message instead of a traceback. The pages live in
`aigc/ui/`, and the work in `aigc/`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import streamlit as st

from aigc.ui import morph_panel, preload, room
from aigc.ui.i18n import language_ui, tr

log = logging.getLogger("aigc")


def main() -> None:
    # Imported here, not above: the server side of this file runs before Streamlit's runtime
    # exists, and the pages' caches belong to the runtime.
    from aigc.ui import models, pages, room, train_live

    st.set_page_config(page_title="aigc · latent playground", page_icon="🎛️", layout="wide")
    # Drawn before the navigation so that the page titles below are already in this language.
    language_ui()
    room.join_from_url()

    current = st.navigation(pages.navigation())
    name = pages.name_of(current)
    teachers_page = room.take_teacher_view(name)
    if teachers_page is not None:
        st.switch_page(pages.page(teachers_page), query_params=st.query_params.to_dict())
    room.keep_in_address_bar()
    models.upload_ui()
    with st.sidebar:
        # Filled after the page: a change the student makes on it branches her off the room.
        room_line = st.container()
        train_live.sidebar_status()  # keeps this session's training run alive on every page
    current.run()
    if name not in pages.LINKED:  # the linked pages tell the room themselves, on every change
        room.lead(name, *(train_live.room_view() if name == "train_live" else ({}, None)))
    with room_line:
        room.sidebar_ui()


def friendly_error(error: Exception) -> bool:
    """Any uncaught error in a page: the traceback to the server log, a message to the visitor.
    Returning True keeps Streamlit's own exception box (and the server's paths) off the page."""
    log.error("uncaught error in a page", exc_info=error)
    st.error(tr("common.page_error"), icon="⚠️")
    return True


@asynccontextmanager
async def warm_start(_app: st.App) -> AsyncIterator[None]:
    """Load the first page's models on a thread while the server starts, so that torch's
    import and the models' set-up overlap the server's boot instead of following it."""
    threading.Thread(target=preload.warm, name="aigc-preload", daemon=True).start()
    yield


if __name__ == "__main__":
    main()
else:
    # The app's own routes: the morph panel's runtime and graphs, the followers' pulse.
    app = st.App(
        __file__,
        lifespan=warm_start,
        on_script_error=friendly_error,
        routes=[*morph_panel.routes(), *room.routes()],
    )
