"""A folder of one's own pictures becomes a training set: any size and colour made MNIST-like by
the same function as a single upload, class names from the folder names, files that cannot be
used skipped and named, and a set too small or oddly shaped refused with what to change."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from aigc import image_folder, imaging
from aigc.checkpoint import WeightsError, class_names, load_model
from aigc.cli import main
from aigc.image_folder import ImageFolderError, check_trainable, read_folder
from tests.test_hostile_images import bomb_png

PAPER, INK = (232, 226, 206), (35, 40, 75)


def draw(kind: str, shift: int = 0, side: int = 96) -> Image.Image:
    """A dark-on-light "0" (a ring) or "1" (a bar) on tinted paper, `shift` px off centre."""
    img = Image.new("RGB", (side, side), PAPER)
    d = ImageDraw.Draw(img)
    if kind == "0":
        d.ellipse((24 + shift, 14, 60 + shift, 78), outline=INK, width=8)
    else:
        d.line((40 + shift, 12, 40 + shift, 80), fill=INK, width=8)
    return img


def encoded(img: Image.Image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **options)
    return buf.getvalue()


def as_jpeg(kind: str, shift: int = 0) -> bytes:
    return encoded(draw(kind, shift), "JPEG", quality=90)


def as_alpha_png(kind: str) -> bytes:
    """Ink in the opaque pixels only; the transparent ones hold black, as many canvases save."""
    ink = np.asarray(draw(kind).convert("L")) < 128
    rgba = np.zeros((*ink.shape, 4), np.uint8)
    rgba[..., 3] = np.where(ink, 255, 0)
    return encoded(Image.fromarray(rgba, "RGBA"), "PNG")


def as_light_on_dark(kind: str) -> bytes:
    return encoded(Image.eval(draw(kind).convert("L"), lambda v: 255 - v), "PNG")


def make_folder(root: Path, files: dict[str, dict[str, bytes]]) -> Path:
    for cls, members in files.items():
        (root / cls).mkdir(parents=True, exist_ok=True)
        for name, data in members.items():
            (root / cls / name).write_bytes(data)
    return root


def digits_folder(root: Path, per_class: int = 10) -> Path:
    files = {
        kind: {f"{kind}_{i}.jpg": as_jpeg(kind, shift=3 * i - 12) for i in range(per_class)}
        for kind in ("1", "0")
    }
    files["0"]["drawn.png"] = as_alpha_png("0")
    files["1"]["chalk.png"] = as_light_on_dark("1")
    return make_folder(root, files)


def centre_of_mass(a: np.ndarray) -> tuple[float, float]:
    ys, xs = np.indices(a.shape)
    return (ys * a).sum() / a.sum(), (xs * a).sum() / a.sum()


def test_photos_of_any_colour_become_mnist_like_digits_named_by_their_folders(tmp_path):
    own = read_folder(digits_folder(tmp_path))
    images = own.images
    assert own.skipped == ()
    assert images.class_names == ("0", "1") and images.counts() == {"0": 11, "1": 11}
    assert images.images.shape == (22, 28, 28) and images.images.dtype == np.uint8
    for picture in images.images:
        assert picture[0].max() == 0 and picture[:, 0].max() == 0  # dark paper, like MNIST
        assert picture.max() > 200  # bright ink
        cy, cx = centre_of_mass(picture.astype(float))
        assert abs(cy - 14) < 1.5 and abs(cx - 14) < 1.5  # centred however far off it was
    # A ring and a bar stay told apart: the labels follow the folders.
    ring, bar = images.images[images.labels == 0], images.images[images.labels == 1]
    assert ring[:, 14, 14].mean() < 60 and bar[:, 14, 14].mean() > 150


def test_a_drawing_with_transparency_and_a_light_on_dark_one_match_the_photo(tmp_path):
    """The canvas PNG keeps its ink (its transparent pixels are paper, not black ink), and chalk
    on a board is not inverted: each prepares to what the photo of the same shape does."""
    photo = imaging.prepare_digit(imaging.open_upload(as_jpeg("0")))
    drawn = imaging.prepare_digit(imaging.open_upload(as_alpha_png("0")))
    chalk = imaging.prepare_digit(imaging.open_upload(as_light_on_dark("0")))
    for other in (drawn, chalk):
        assert other.max() > 0.9
        assert np.abs(other - photo).mean() < 0.05


def test_the_folder_and_a_single_upload_prepare_an_image_the_same_way(tmp_path):
    folder = digits_folder(tmp_path, per_class=10)
    own = read_folder(folder)
    data = (folder / "1" / "1_3.jpg").read_bytes()
    alone = imaging.to_uint8(imaging.prepare_upload(data)[None])[0]  # Explore's upload
    names = sorted(p.name for p in (folder / "1").iterdir())
    in_set = own.images.images[own.images.labels == 1][names.index("1_3.jpg")]
    assert np.array_equal(alone, in_set)


def test_files_that_are_not_usable_images_are_skipped_and_named(tmp_path):
    folder = digits_folder(tmp_path)
    (folder / "0" / "notes.txt").write_text("my digits")
    (folder / "0" / "bomb.png").write_bytes(bomb_png(14000))
    (folder / "1" / "cut.jpg").write_bytes(as_jpeg("1")[:-400])
    (folder / "1" / "empty.png").write_bytes(b"")
    (folder / "README.md").write_text("not in a class")
    (folder / "1" / "more").mkdir()
    (folder / ".DS_Store").write_bytes(b"\0\1")  # litter: ignored, not reported
    own = read_folder(folder)
    reasons = {s.name: s.why.code for s in own.skipped}
    assert reasons == {
        "0/bomb.png": "image_too_large",
        "0/notes.txt": "image_not_png_jpeg",
        "1/cut.jpg": "image_damaged",
        "1/empty.png": "file_empty",
        "1/more": "folder_too_deep",
        "README.md": "folder_not_in_class",
    }
    assert all(str(s).startswith(s.name + ": ") for s in own.skipped)
    assert own.images.counts() == {"0": 11, "1": 11}  # the good ones all still there


def test_links_are_not_followed(tmp_path):
    outside = tmp_path / "outside"
    make_folder(outside, {"secret": {"x.jpg": as_jpeg("0")}})
    folder = digits_folder(tmp_path / "set")
    os.symlink(outside / "secret" / "x.jpg", folder / "0" / "link.jpg")
    os.symlink(outside / "secret", folder / "linked_class")
    own = read_folder(folder)
    assert {s.name: s.why.code for s in own.skipped} == {
        "0/link.jpg": "folder_link",
        "linked_class": "folder_link",
    }
    assert own.images.class_names == ("0", "1") and len(own.images) == 22


def test_too_many_files_are_refused_before_any_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(image_folder, "MAX_FILES", 50)
    monkeypatch.setattr(imaging, "open_upload", lambda *a, **k: pytest.fail("a file was decoded"))
    make_folder(tmp_path, {"0": {f"{i}.png": b"x" for i in range(51)}})
    with pytest.raises(ImageFolderError, match="more than 50 files") as info:
        read_folder(tmp_path)
    assert info.value.code == "folder_too_many_files"


def refused(images, conditional: bool = True) -> ImageFolderError:
    with pytest.raises(ImageFolderError) as info:
        check_trainable(images, conditional)
    return info.value


def test_a_set_too_small_says_how_many_more_each_class_needs(tmp_path):
    folder = digits_folder(tmp_path, per_class=4)  # 5 per class with the two extra drawings
    error = refused(read_folder(folder).images)
    assert error.code == "folder_too_few"
    assert "add 10 more" in str(error) and "0 (5 more)" in str(error)
    assert error.fields["need"] == 10


def test_one_class_an_empty_class_and_too_many_classes_are_refused(tmp_path):
    one = read_folder(
        make_folder(tmp_path / "one", {"7": {f"{i}.jpg": as_jpeg("1") for i in range(12)}})
    )
    assert refused(one.images).code == "folder_one_class"
    check_trainable(one.images, conditional=False)  # one kind of image is fine unconditionally

    folder = digits_folder(tmp_path / "empty")
    (folder / "2").mkdir()
    (folder / "3").mkdir()
    (folder / "3" / "notes.txt").write_text("all skipped")
    error = refused(read_folder(folder).images)
    assert error.code == "folder_class_empty" and error.fields["classes"] == "2, 3"

    many = make_folder(
        tmp_path / "many", {f"class {c:02d}": {"a.jpg": as_jpeg("0")} for c in range(11)}
    )
    error = refused(read_folder(many).images)
    assert error.code == "folder_too_many_classes" and error.fields == {"n": 11, "limit": 10}


def test_a_class_name_that_cannot_be_shown_is_refused(tmp_path):
    make_folder(tmp_path, {"x" * 41: {"a.jpg": as_jpeg("0")}})
    with pytest.raises(ImageFolderError) as info:
        read_folder(tmp_path)
    assert info.value.code == "folder_class_name"


def own_set(root: Path) -> Path:
    files = {
        name: {f"{i}.jpg": as_jpeg(kind, shift=2 * i - 10) for i in range(10)}
        for name, kind in (("my 7", "1"), ("sneaker", "0"))
    }
    return make_folder(root, files)


def train(kind: str, folder: Path, out: Path, *options: str) -> int:
    """`python -m aigc train --model KIND --images FOLDER OPTIONS --out OUT`."""
    return main(["train", "--model", kind, "--images", str(folder), *options, "--out", str(out)])


def sample(weights: Path, out: Path, *options: str) -> int:
    return main(["sample", "--weights", str(weights), *options, "--out", str(out)])


def test_train_on_a_folder_then_sample_its_classes_by_name_without_a_dataset(tmp_path, capsys):
    folder, weights = own_set(tmp_path / "set"), tmp_path / "mine.safetensors"
    assert train("gan", folder, weights, "--label-conditional", "--steps", "2") == 0
    model, provenance = load_model(weights)
    assert model.config.num_classes == 2 and model.config.dataset == "custom"
    assert class_names(model, provenance) == ("my 7", "sneaker")
    assert provenance["preprocessing"] == imaging.DIGIT_PREPROCESSING
    assert provenance["data_source"] == str(folder)

    capsys.readouterr()
    for label in ("sneaker", "1"):
        out = tmp_path / f"s_{label}.npy"
        assert sample(weights, out, "--label", label, "--n", "4") == 0
        assert "of 'sneaker'" in capsys.readouterr().out
        assert np.load(out).shape == (4, 28, 28)
    with pytest.raises(SystemExit, match=r"0 \(my 7\), 1 \(sneaker\)"):
        sample(weights, out, "--label", "2")
    walk = ["interpolate", "--weights", str(weights), "--seeds", "1", "2", "--steps", "3"]
    assert main([*walk, "--label", "my 7", "--out", str(tmp_path / "walk.gif")]) == 0


def test_a_vae_on_a_folder_samples_and_evaluate_asks_for_a_judge(tmp_path, capsys):
    folder, vae, gan = own_set(tmp_path / "set"), tmp_path / "vae.st", tmp_path / "gan.st"
    assert train("vae", folder, vae, "--steps", "2") == 0
    assert sample(vae, tmp_path / "v.npy", "--n", "3") == 0
    assert "N(0, I)" in capsys.readouterr().err  # said, not a crash on a missing dataset
    assert main(["evaluate", str(vae)]) == 2
    assert "--judge mnist" in capsys.readouterr().err
    assert train("gan", folder, gan, "--label-conditional", "--steps", "2") == 0
    assert main(["evaluate", str(gan), "--judge", "mnist"]) == 2  # "sneaker" is no digit
    assert "does not know the classes my 7, sneaker" in capsys.readouterr().err


def test_train_refuses_a_set_too_small_and_both_sources(tmp_path, capsys):
    folder = make_folder(tmp_path, {"a": {"1.jpg": as_jpeg("0")}, "b": {"1.jpg": as_jpeg("1")}})
    out = tmp_path / "w.safetensors"
    assert train("gan", folder, out, "--label-conditional", "--steps", "2") == 2
    assert "add 18 more" in capsys.readouterr().err and not out.exists()
    with pytest.raises(SystemExit):
        train("gan", folder, out, "--dataset", "fashion")


def test_the_page_refuses_a_folder_model_with_its_reason_not_a_crash(tmp_path):
    from aigc.checkpoint import to_bytes
    from aigc.models import GAN, GANConfig
    from aigc.ui import i18n, models

    gan = GAN(GANConfig(dataset="custom", num_classes=2))
    data = to_bytes(gan, {"class_names": ["my 7", "sneaker"]})
    with pytest.raises(WeightsError) as info:
        models.load_upload(data, "mine.safetensors")
    assert info.value.code == "weights_own_images"
    assert "my 7, sneaker" in i18n.error_text(info.value)


@pytest.mark.parametrize(
    "names", [["only one"], ["a", "a"], ["a", "b\nc"], ["a", "x" * 41], "ab", [1, 2]]
)
def test_a_file_whose_class_names_do_not_fit_its_model_is_refused(names):
    from aigc.checkpoint import to_bytes
    from aigc.models import GAN, GANConfig

    data = to_bytes(GAN(GANConfig(dataset="custom", num_classes=2)), {"class_names": names})
    with pytest.raises(WeightsError) as info:
        load_model(data)
    assert info.value.code == "weights_damaged"


def test_a_big_photo_prepares_as_its_full_decode_does():
    """A phone-sized JPEG is decoded at a reduced scale (JPEG's own); the digit it gives is
    the one the full-size decode gives, to within a level or two of 255."""
    big = encoded(draw("0").resize((2400, 2400), Image.BILINEAR), "JPEG", quality=90)
    fast = imaging.prepare_upload(big)
    full = imaging.prepare_digit(imaging.open_upload(big))
    assert imaging.open_upload(big, fit=imaging.WORK_SIDE).size == (600, 600)
    assert np.abs(fast - full).max() < 0.05 and fast.max() > 0.9
