"""Where the app's own routes are served (the morph panel's files, the followers' pulse):
below the server's ``server.baseUrlPath``, as Streamlit's own are, so a school that serves the
app under a path prefix behind its proxy needs nothing else."""

from __future__ import annotations

import streamlit as st


def base_path() -> str:
    """ "" or "/prefix": what goes before an app route's path."""
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{base}" if base else ""
