"""Your data in a real Chromium: drawing on the pad with a mouse (pointer events a test of the
server cannot send), a real ZIP upload, and a live run on the set; and the must-not: a drawing
never costs the server a message before "Add"."""

from __future__ import annotations

import io
import zipfile

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_browser import expect_no_exception, main
from tests.test_image_folder import as_jpeg

pytestmark = pytest.mark.browser


def stroke(page: Page, x0: float, y0: float, x1: float, y1: float) -> None:
    box = main(page).locator(".draw-pad canvas").bounding_box()
    page.mouse.move(box["x"] + x0, box["y"] + y0)
    page.mouse.down()
    for t in range(1, 11):
        page.mouse.move(box["x"] + x0 + (x1 - x0) * t / 10, box["y"] + y0 + (y1 - y0) * t / 10)
    page.mouse.up()


def class_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for c in ("0", "1"):
            for i in range(10):
                zf.writestr(f"{c}/{i}.jpg", as_jpeg(c, shift=i - 5))
    return buf.getvalue()


def test_a_drawing_joins_the_set_and_a_zip_makes_it_trainable(new_page):
    page = new_page("/own-data")
    add = main(page).get_by_role("button", name="Add", exact=True)
    expect(add).to_be_disabled()  # nothing drawn, nothing to send
    frames = []
    page.on("websocket", lambda ws: ws.on("framesent", frames.append))
    stroke(page, 140, 40, 140, 240)
    page.wait_for_timeout(300)
    assert not frames, "drawing sent something to the server before Add"
    expect(add).to_be_enabled()
    add.click()
    expect(main(page).get_by_text("Your set: 1 images; classes: 1")).to_be_visible()
    expect(add).to_be_disabled()  # the pad cleared itself

    main(page).get_by_role("tab", name="Upload").click()
    main(page).locator("input[type=file]").set_input_files(
        {"name": "set.zip", "mimeType": "application/zip", "buffer": class_zip()}
    )
    expect(main(page).get_by_text("set.zip")).to_be_visible()  # uploaded
    main(page).get_by_role("button", name="Add to the set").click()
    expect(main(page).get_by_text("Your set: 21 images; classes: 2")).to_be_visible(timeout=60_000)
    expect(main(page).get_by_text("Ready to train on.")).to_be_visible()
    main(page).get_by_role("button", name="Train live on your set").click()
    dataset = main(page).get_by_role("combobox", name="Dataset")
    expect(dataset).to_have_value("Your own set (21 images; classes: 2)")
    main(page).get_by_role("button", name="Start").click()
    grid = main(page).get_by_test_id("stImage").first
    expect(grid).to_contain_text("Rows, top to bottom: 0, 1.", timeout=60_000)
    expect(main(page).get_by_text("Finished")).to_be_visible(timeout=60_000)
    page.get_by_role("link", name="Explore").click()  # the model it made, on another page
    main(page).get_by_role("radio", name="your own images").click()
    expect(main(page).get_by_role("radio", name="1", exact=True)).to_be_visible()  # its classes
    expect(main(page).get_by_test_id("stImage").first).to_be_visible()
    expect_no_exception(page)
