"""The app in a real Chromium: what AppTest cannot reach (real uploads, the live-training
refresh, several sessions at once, links, and HTML in user text).

Each scenario waits with `expect(...)` (30 s, the machine is shared) and checks one thing that
must NOT happen. Run with ``python -m pytest tests/browser -q``.
"""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.browser

FIRST_PAINT_MS = 90_000  # the first page of a cold server computes every model's directions
XSS = "<img src=x onerror=alert(1)>"


def main(page: Page) -> Locator:
    return page.get_by_test_id("stMain")


def picture(page: Page) -> Locator:
    """The first image in the main area (Explore's picture, Train live's grid)."""
    return main(page).get_by_test_id("stImage").locator("img").first


def expect_painted(page: Page, img: Locator, timeout: float = FIRST_PAINT_MS) -> str:
    """Wait until the image has decoded pixels; return its src."""
    expect(img).to_be_visible(timeout=timeout)
    img.element_handle().wait_for_element_state("stable")
    page.wait_for_function(
        "el => el.complete && el.naturalWidth > 0", arg=img.element_handle(), timeout=timeout
    )
    return img.get_attribute("src")


def expect_no_exception(page: Page) -> None:
    expect(page.get_by_test_id("stException")).to_have_count(0)


def slider(page: Page, name: str) -> Locator:
    return main(page).get_by_role("slider", name=re.compile("^" + re.escape(name)))


def digit_png() -> bytes:
    """A white "7" stroke on black, larger than 28 px, as a user's drawing would be."""
    img = Image.new("L", (112, 112), 0)
    draw = ImageDraw.Draw(img)
    draw.line([(24, 22), (88, 22), (48, 96)], fill=255, width=12)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_first_page_paints_an_image(new_page):
    page = new_page("/")
    img = picture(page)
    expect_painted(page, img)
    assert img.evaluate("el => el.naturalWidth") > 0
    expect_no_exception(page)


def test_slider_repaints_the_image(new_page):
    page = new_page("/")
    img = picture(page)
    before = expect_painted(page, img)
    direction = slider(page, "Direction 1")
    direction.focus()
    direction.press("ArrowRight")
    expect(img).not_to_have_attribute("src", before)
    expect_painted(page, img)
    expect(main(page).locator(".morph-link code")).to_contain_text("pc=0.1")  # the link follows
    expect_no_exception(page)


def test_two_sessions_keep_their_own_state(new_page):
    a, b = new_page("/"), new_page("/")
    img_a, img_b = picture(a), picture(b)
    before_a = expect_painted(a, img_a)
    before_b = expect_painted(b, img_b)
    assert before_a == before_b  # same default view, same cached picture

    seed_a = main(a).get_by_role("spinbutton", name="Seed")
    seed_a.fill("5")
    seed_a.press("Enter")
    expect(img_a).not_to_have_attribute("src", before_a)
    expect_painted(a, img_a)
    # Must NOT happen: B's view follows A's seed.
    b.wait_for_timeout(1000)  # give a stray cross-session rerun the time to show
    expect(main(b).get_by_role("spinbutton", name="Seed")).to_have_value("0")
    expect(img_b).to_have_attribute("src", before_b)


def test_train_live_refreshes_then_stops(new_page):
    page = new_page("/train-live")
    m = main(page)
    m.get_by_role("radiogroup", name="Model").get_by_text("VAE", exact=True).click()
    seconds = m.get_by_role("spinbutton", name="Seconds of training")
    seconds.fill("30")
    seconds.press("Enter")
    expect(seconds).to_have_value("30")
    m.get_by_role("button", name="Start").click()
    # Collect the distinct grid images the page shows, in the page, as they arrive.
    page.wait_for_function(
        """() => {
            const seen = (window.__grids ??= new Set());
            const img = document.querySelector('[data-testid="stMain"] [data-testid="stImage"] img');
            if (img && img.naturalWidth > 0) seen.add(img.src);
            return seen.size >= 3;
        }""",
        polling=100,
        timeout=60_000,
    )
    m.get_by_role("button", name="Stop").click()
    expect(m.get_by_text(re.compile(r"^Stopped at step"))).to_be_visible()
    img = picture(page)
    after_stop = expect_painted(page, img)
    # Must NOT happen: the grid keeps refreshing after Stop.
    page.wait_for_timeout(2500)  # five refresh periods of the live panel
    expect(img).to_have_attribute("src", after_stop)
    expect(m.get_by_role("button", name="Start")).to_be_enabled()
    expect_no_exception(page)


def _interpolate_upload_source(page: Page) -> Locator:
    """Interpolate with the VAE and "My image": returns the image file input."""
    m = main(page)
    expect(m.get_by_role("heading", name="Interpolate")).to_be_visible(timeout=FIRST_PAINT_MS)
    m.get_by_role("radiogroup", name="Model").get_by_role("radio", name="VAE").click()
    m.get_by_role("radio", name="My image").click(timeout=FIRST_PAINT_MS)
    expect(m.get_by_text("Upload an image of a digit")).to_be_visible()
    return m.locator("input[type=file]")


def test_uploaded_image_is_encoded(new_page):
    page = new_page("/interpolate")
    m = main(page)
    _interpolate_upload_source(page).set_input_files(
        files=[{"name": "seven.png", "mimeType": "image/png", "buffer": digit_png()}]
    )
    expect(m.get_by_text("Upload an image of a digit")).to_have_count(0)
    expect(
        m.get_by_text("Strip (23 frames)")
    ).to_be_visible()  # 3 points: 2 segments of 12, shared ends
    expect_painted(page, m.get_by_test_id("stImage").last.locator("img"))
    # Must NOT happen: an error box instead of (or beside) the path.
    expect(m.get_by_test_id("stAlertContentError")).to_have_count(0)
    expect_no_exception(page)


def test_bad_uploads_show_errors_and_page_keeps_working(new_page):
    page = new_page("/interpolate")
    m = main(page)
    _interpolate_upload_source(page).set_input_files(
        files=[{"name": "fake.png", "mimeType": "image/png", "buffer": b"this is not an image"}]
    )
    expect(
        m.get_by_text("This is not a PNG or JPEG image, whatever its name says.")
    ).to_be_visible()

    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text("Your own weights").click()
    pickle = b"\x80\x04\x95" + bytes(16)
    sidebar.locator("input[type=file]").set_input_files(
        files=[{"name": "evil.pt", "mimeType": "application/octet-stream", "buffer": pickle}]
    )
    # The picker offers only .safetensors: another name is refused before it is sent.
    expect(sidebar.get_by_text("files are not allowed")).to_be_visible()
    expect(sidebar.get_by_test_id("stAlertContentError")).to_have_count(0)
    sidebar.locator("input[type=file]").set_input_files(
        files=[
            {"name": "evil.safetensors", "mimeType": "application/octet-stream", "buffer": pickle}
        ]
    )
    expect(sidebar.get_by_text("This is a Python pickle")).to_be_visible()

    # The path still runs through the two dataset images, and still reacts.
    expect(m.get_by_text("Strip (12 frames)")).to_be_visible()
    frames = slider(page, "Frames per segment")
    frames.focus()
    frames.press("ArrowRight")
    expect(m.get_by_text("Strip (13 frames)")).to_be_visible()
    # Must NOT happen: a traceback from either bad file.
    expect_no_exception(page)


def test_comment_html_is_shown_as_text(new_page):
    page = new_page("/")
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    m = main(page)
    expect_painted(page, picture(page))
    m.get_by_text("Rate this image").first.click()
    m.get_by_role("radio", name="4 out of 5 stars").click()
    m.get_by_label("Comment (optional)").fill(XSS)
    m.get_by_role("button", name="Send rating").click()
    expect(page.get_by_text("Thanks: your rating is saved.")).to_be_visible()

    page.goto(page.url.split("?")[0].rsplit("/", 1)[0] + "/feedback")
    table = main(page).get_by_test_id("stDataFrame")
    # The grid draws on a canvas; its accessible table holds each cell's text.
    expect(table.locator("td").filter(has_text=XSS).first).to_have_text(XSS)
    # Must NOT happen: the comment runs as HTML (an <img src=x> element, an alert).
    expect(page.locator("img[src='x']")).to_have_count(0)
    page.wait_for_timeout(500)
    assert dialogs == []
    expect_no_exception(page)


def test_shared_link_restores_state(new_page):
    page = new_page("/?seed=123&kind=gan&data=mnist&cls=7")
    m = main(page)
    expect_painted(page, picture(page))
    expect(m.get_by_role("spinbutton", name="Seed")).to_have_value("123")
    expect(m.get_by_role("radio", name="7")).to_be_checked()
    expect_no_exception(page)


def test_malformed_link_is_clamped_not_raised(new_page):
    page = new_page("/?seed=abc&z=1e999&blend=1e999")
    m = main(page)
    expect_painted(page, picture(page))
    expect(page.get_by_text("Link parameter seed='abc' is not a number")).to_be_visible()
    expect(m.get_by_role("spinbutton", name="Seed")).to_have_value("0")
    # Must NOT happen: an exception box.
    expect_no_exception(page)


def test_switching_the_dataset_keeps_every_view_working(new_page):
    """Explore -> Fashion-MNIST -> Grid of seeds once raised a TypeError: the blend target
    came back as MNIST's text "8". It must stay class 8, shown as "Bag", in every view."""
    page = new_page("/")
    expect_painted(page, picture(page))
    main(page).get_by_role("radio", name="Fashion-MNIST").click()
    expect(main(page).get_by_text("Bag", exact=True)).to_be_visible()
    main(page).get_by_role("radio", name="Grid of seeds").click()
    expect_painted(page, picture(page))
    expect(main(page).get_by_text("Bag", exact=True)).to_be_visible()
    main(page).get_by_role("button", name="🎲").click()
    expect_painted(page, picture(page))
    expect_no_exception(page)
