"""The latent-space playground: `streamlit run streamlit_app.py`.

This file is the frame around every page: the language switch, your own weights, and the
navigation. The pages themselves live in `aigc/ui/`, and the work in `aigc/`.
"""

from __future__ import annotations

import streamlit as st

from aigc.ui import explore, feedback, interpolate, latent_map, learn, models, train_live
from aigc.ui.i18n import language_ui, tr


def main() -> None:
    st.set_page_config(page_title="aigc · latent playground", page_icon="🎛️", layout="wide")
    # Drawn before the navigation so that the page titles below are already in this language.
    language_ui()

    def page(module, name: str, icon: str, **kwargs) -> st.Page:
        return st.Page(
            module.page,
            title=tr(f"pages.{name}"),
            icon=icon,
            url_path=name.replace("_", "-"),
            **kwargs,
        )

    current = st.navigation(
        {
            tr("pages.play"): [
                page(explore, "explore", "🎛️", default=True),
                page(interpolate, "interpolate", "🎞️"),
                page(latent_map, "latent_map", "🗺️"),
            ],
            tr("pages.build"): [
                page(train_live, "train_live", "🏋️"),
                page(learn, "learn", "📖"),
                page(feedback, "feedback", "💬"),
            ],
        }
    )
    models.upload_ui()
    with st.sidebar:
        train_live.sidebar_status()  # keeps this session's training run alive on every page
    current.run()


if __name__ == "__main__":
    main()
