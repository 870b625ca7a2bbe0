"""Your data: a training set of one's own, drawn on a pad or uploaded (a ZIP of class folders,
or loose photos under one class name), seen as a grid with its counts, with bad images
relabelled or deleted, then trained on live.

The set belongs to the session (`SET`): every edit replaces it with a new one
(`aigc.own_set`), so a half-finished edit never leaves it changed, and nothing of it is kept
on disk: a ZIP is read from memory, never extracted.
"""

from __future__ import annotations

import base64

import numpy as np
import streamlit as st

from aigc import classroom, image_folder, imaging, own_set
from aigc.data import OWN_IMAGES, ImageSet
from aigc.errors import InputError
from aigc.store import StoreUnavailable
from aigc.ui import draw_pad, pages, room
from aigc.ui.i18n import error_text, tr

SET = "od_set"  # session state: this session's own set (an ImageSet)
VERSION = "od_version"  # session state: counts the set's replacements; keys the editor
_REPORT = "od_report"  # session state: what the last addition did, shown once
_UPLOADS = "od_uploads"  # session state: bumps the uploader's key, which empties it
SHOWN_PER_CLASS = 40  # the grid's row for a class; the editor below lists every image
THUMB = 2  # the editor's thumbnails: 56 px


def own_images() -> ImageSet:
    """This session's set (empty until something is added)."""
    return st.session_state.get(SET) or own_set.empty()


def _replace(images: ImageSet | None) -> None:
    """A new set for the session (None: none), and a fresh editor for it."""
    if images is None:
        st.session_state.pop(SET, None)
    else:
        st.session_state[SET] = images
    st.session_state[VERSION] = st.session_state.get(VERSION, 0) + 1


def page() -> None:
    st.title(tr("pages.own_data"))
    st.caption(
        tr(
            "own_data.intro",
            per_class=image_folder.MIN_PER_CLASS,
            limit=image_folder.MAX_CLASSES,
        )
    )
    draw_tab, upload_tab = st.tabs([tr("own_data.draw"), tr("own_data.upload")])
    with draw_tab:
        _draw_ui()
    with upload_tab:
        _upload_ui()
    _class_ui()
    _report_ui()
    st.divider()
    _set_ui(own_images())


# -- adding ------------------------------------------------------------------------------------


def _draw_ui() -> None:
    left, right = st.columns([3, 2], gap="large")
    with right:
        st.text_input(
            tr("own_data.class"), value="0", key="od_class", help=tr("own_data.class_help")
        )
        st.caption(tr("own_data.draw_help"))
        last = st.session_state.get("od_last")
        if last is not None:
            st.caption(tr("own_data.last"))
            st.image(imaging.png_bytes(last, 4), output_format="PNG")
    with left:
        draw_pad.pad("od_pad", on_drawn=_add_drawing, on_refused=_refused)


def _add_drawing(png: bytes) -> None:
    name = own_set.class_name(st.session_state.get("od_class", ""))
    if not name:
        st.session_state[_REPORT] = ("warning", tr("own_data.no_class"))
        return
    try:
        image = imaging.to_uint8(imaging.prepare_upload(png, "drawing")[None])
    except InputError as error:
        _refused(error)
        return
    _replace(own_set.added(own_images(), image, [name]))
    st.session_state["od_last"] = image[0]
    count = own_images().counts()[name]
    st.session_state[_REPORT] = ("success", tr("own_data.drawn", name=name, n=count))


def _refused(error: Exception) -> None:
    st.session_state[_REPORT] = ("error", error_text(error))


def _upload_ui() -> None:
    key = f"od_upload_{st.session_state.get(_UPLOADS, 0)}"
    st.file_uploader(
        tr("own_data.files"),
        type=["zip", "png", "jpg", "jpeg"],
        accept_multiple_files=True,
        key=key,
        help=tr("own_data.files_help"),
    )
    st.text_input(tr("own_data.loose_class"), key="od_loose_class")
    st.button(tr("own_data.add_files"), on_click=_add_files, args=(key,), key="od_add_files")


def _add_files(key: str) -> None:
    """Every ZIP's class folders and every loose image (under the class typed for them) into
    the set; files that cannot be used are reported by name and skipped."""
    files = st.session_state.get(key) or []
    if not files:
        st.session_state[_REPORT] = ("warning", tr("own_data.no_files"))
        return
    loose_class = own_set.class_name(st.session_state.get("od_loose_class", ""))
    found, skipped, refused = own_set.empty(), [], []
    loose_images, loose_names = [], []
    for file in files:
        data = file.getvalue()
        try:
            if file.name.lower().endswith(".zip"):
                got = image_folder.read_zip(data)
                found = own_set.merged(found, got.images)
                skipped += [f"{s.name}: {error_text(s.why)}" for s in got.skipped]
            elif not loose_class:
                skipped.append(f"{file.name}: {tr('own_data.loose_needs_class')}")
            else:
                digit = imaging.prepare_upload(data, file.name)
                loose_images.append(imaging.to_uint8(digit[None])[0])
                loose_names.append(loose_class)
        except InputError as error:
            refused.append(f"{file.name}: {error_text(error)}")
    if loose_images:
        found = own_set.added(found, np.stack(loose_images), loose_names)
    if len(found):
        _replace(own_set.merged(own_images(), found))
    st.session_state[_UPLOADS] = st.session_state.get(_UPLOADS, 0) + 1  # empties the uploader
    lines = [tr("own_data.added_files", n=len(found), k=len(found.class_names))]
    lines += [f"- {line}" for line in refused + skipped]
    level = (
        "error" if refused and not len(found) else "warning" if refused or skipped else "success"
    )
    st.session_state[_REPORT] = (level, "\n".join(lines))


def _class_ui() -> None:
    """In a class room: everyone sends their set into the room's, and the teacher takes the
    room's whole set as hers, to train on while the class watches."""
    m = room.membership()
    if m is None:
        return
    st.subheader(tr("own_data.class_set"))
    send, take = st.columns(2)
    send.button(
        tr("own_data.send_class"), on_click=_send_to_class, icon="📤", key="od_send_class",
        disabled=not len(own_images()), help=tr("own_data.send_class_help"),
    )  # fmt: skip
    if m.teacher:
        take.button(
            tr("own_data.take_class"), on_click=_take_class, icon="🧑‍🏫", key="od_take_class",
            help=tr("own_data.take_class_help"),
        )  # fmt: skip


def _send_to_class() -> None:
    m = room.membership()
    mine = own_images()
    try:
        total = classroom.send_drawings(m.code, m.follower_id, own_set.as_pngs(mine))
    except (InputError, StoreUnavailable) as error:
        _refused(error)
        return
    st.session_state[_REPORT] = ("success", tr("own_data.sent_class", n=len(mine), total=total))


def _take_class() -> None:
    m = room.membership()
    try:
        drawings = classroom.class_drawings(m.code, m.token)
    except (InputError, StoreUnavailable) as error:
        _refused(error)
        return
    images = own_set.from_pngs([(d.class_name, d.png) for d in drawings])
    people = len({d.follower_id for d in drawings})
    _replace(images if len(images) else None)
    st.session_state[_REPORT] = ("success", tr("own_data.took_class", n=len(images), people=people))


def _report_ui() -> None:
    report = st.session_state.pop(_REPORT, None)
    if report is not None:
        level, text = report
        getattr(st, level)(text)


# -- the set -----------------------------------------------------------------------------------


def _set_ui(images: ImageSet) -> None:
    st.subheader(tr("own_data.set", n=len(images), k=len(images.class_names)))
    if not len(images):
        st.info(tr("own_data.empty"))
        return
    try:
        image_folder.check_trainable(images, conditional=True)
    except InputError as error:
        st.warning(error_text(error))
    else:
        st.success(tr("own_data.ready"))
        if st.button(tr("own_data.train"), icon="🏋️", type="primary", key="od_train"):
            st.session_state["train_dataset"] = OWN_IMAGES  # Train live opens on this set
            st.switch_page(pages.page("train_live"))
    for name, count in images.counts().items():
        st.caption(tr("own_data.class_row", name=name, n=count))
        picked = images.images[images.labels == images.class_names.index(name)]
        st.image(
            imaging.png_bytes(imaging.grid(picked[:SHOWN_PER_CLASS], 20), 2), output_format="PNG"
        )
    # Drawn only while open: the editor makes a thumbnail of every image, up to thousands.
    box = st.expander(tr("own_data.fix"), key="od_fix_open", on_change="rerun")
    if box.open:
        with box:
            _editor_ui(images)


def _thumbnail(image: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(imaging.png_bytes(image, THUMB)).decode()


def _editor_ui(images: ImageSet) -> None:
    """Every image with its class (a choice among the set's) and a delete box; nothing changes
    until "apply", so a slip of the mouse is undone by leaving the page."""
    import pandas as pd

    names = own_set.names_of(images)
    table = pd.DataFrame(
        {
            "image": [_thumbnail(im) for im in images.images],
            "class": names,
            "delete": [False] * len(names),
        }
    )
    key = f"od_editor_{st.session_state.get(VERSION, 0)}"
    st.data_editor(
        table,
        column_config={
            "image": st.column_config.ImageColumn(tr("own_data.image")),
            "class": st.column_config.SelectboxColumn(
                tr("own_data.class_column"), options=list(images.class_names), required=True
            ),
            "delete": st.column_config.CheckboxColumn(tr("own_data.delete")),
        },
        disabled=["image"],
        key=key,
    )
    st.download_button(
        tr("own_data.download"),
        data=lambda: own_set.to_zip(images),
        file_name="my_set.zip",
        mime="application/zip",
        on_click="ignore",
        key="od_download",
        help=tr("own_data.download_help"),
    )
    apply, clear = st.columns(2)
    apply.button(tr("own_data.apply"), on_click=_apply, args=(key, images), key="od_apply")
    clear.button(tr("own_data.clear_set"), on_click=_clear, key="od_clear", type="tertiary")


def _apply(key: str, images: ImageSet) -> None:
    """The editor's changes to the set it showed: a row's class only if it is one of the
    set's (a value the editor cannot have sent is ignored), deleted rows left out."""
    names: list[str | None] = own_set.names_of(images)
    for row, change in (st.session_state.get(key) or {}).get("edited_rows", {}).items():
        i = int(row) if str(row).isdigit() else -1
        if not 0 <= i < len(names):
            continue
        if change.get("class") in images.class_names:
            names[i] = change["class"]
        if change.get("delete") is True:
            names[i] = None
    _replace(own_set.edited(images, names))
    st.session_state[_REPORT] = ("success", tr("own_data.applied", n=len(own_images())))


def _clear() -> None:
    _replace(None)
    st.session_state.pop("od_last", None)
