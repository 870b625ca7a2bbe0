import hashlib
import io
import shutil
import subprocess
import sys
import urllib.parse
from datetime import datetime, timedelta

import numpy as np
import pytest
import torch
from PIL import Image

from aigc import classroom
from aigc.checkpoint import load_model, save_model
from aigc.cli import main
from aigc.models import GAN, VAE, GANConfig, VAEConfig
from aigc.weights import shipped_path


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    d = tmp_path_factory.mktemp("w")
    torch.manual_seed(0)
    save_model(GAN(GANConfig()).eval(), d / "gan.safetensors")
    save_model(VAE(VAEConfig(z_dim=8)).eval(), d / "vae.safetensors")
    return d


def test_sample_npy_is_uint8_images_like_the_dataset(weights, tmp_path):
    gan = str(weights / "gan.safetensors")
    args = [
        "sample",
        "--model",
        "gan",
        "--weights",
        gan,
        "--label",
        "7",
        "--n",
        "12",
        "--seed",
        "3",
    ]
    out, again = tmp_path / "s.npy", tmp_path / "t.npy"
    assert main([*args, "--out", str(out)]) == 0
    a = np.load(out, allow_pickle=False)
    assert a.shape == (12, 28, 28) and a.dtype == np.uint8
    main([*args, "--out", str(again)])
    assert np.array_equal(a, np.load(again))


def test_sample_png_grid(weights, tmp_path):
    out = tmp_path / "s.png"
    assert (
        main(
            [
                "sample",
                "--model",
                "vae",
                "--weights",
                str(weights / "vae.safetensors"),
                "--n",
                "16",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    img = Image.open(out)
    assert img.format == "PNG" and img.size == (4 * (4 * 30 + 2),) * 2


def test_interpolate_gif_through_three_seeds(weights, tmp_path):
    out = tmp_path / "i.gif"
    assert (
        main(
            [
                "interpolate",
                "--model",
                "gan",
                "--weights",
                str(weights / "gan.safetensors"),
                "--seeds",
                "1",
                "2",
                "3",
                "--steps",
                "4",
                "--slerp",
                "--label",
                "2",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert Image.open(io.BytesIO(out.read_bytes())).n_frames >= 7


def test_train_saves_a_loadable_file_with_provenance(tmp_path, capsys):
    out = tmp_path / "m.safetensors"
    assert (
        main(
            [
                "train",
                "--model",
                "vae",
                "--dataset",
                "mnist",
                "--steps",
                "3",
                "--seed",
                "5",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "step" in printed and "saved" in printed
    model, prov = load_model(out)
    assert isinstance(model, VAE)
    assert prov["steps"] == 3 and prov["seed"] == 5 and prov["dataset"] == "mnist"
    assert prov["command"].startswith("python -m aigc train")


def test_train_that_diverges_says_what_went_non_finite_and_exits_1(tmp_path, capsys):
    out = tmp_path / "d.safetensors"
    args = ["train", "--model", "gan", "--lr", "1e12", "--steps", "20", "--out", str(out)]
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 1
    last = capsys.readouterr().out.splitlines()[-1]
    assert last == f"diverged: g loss became nan at step 1; saved the last good weights to {out}"
    model, _ = load_model(out)  # the last good weights load: every value is finite
    assert isinstance(model, GAN)


def test_train_records_the_body_and_augmentation_it_was_asked_for(tmp_path):
    out = tmp_path / "conv.safetensors"
    args = ["train", "--model", "vae", "--arch", "conv", "--activation", "relu", "--augment"]
    args += ["--width", "16"]
    assert main([*args, "--shift-pixels", "1", "--steps", "2", "--out", str(out)]) == 0
    model, prov = load_model(out)
    assert model.config.arch == "conv" and model.config.activation == "relu"
    assert model.config.width == 16 and model.encoder[0].out_channels == 16
    assert prov["train_config"]["augment"] is True and prov["train_config"]["shift_pixels"] == 1


@pytest.mark.parametrize(
    "extra",
    [
        ["--model", "gan", "--activation", "silu"],
        ["--model", "gan", "--width", "64"],
        ["--model", "vae", "--shift-pixels", "9"],
        ["--model", "vae", "--width", "0"],
    ],
)
def test_train_refuses_options_that_do_not_apply(tmp_path, extra):
    with pytest.raises(SystemExit) as info:
        main(["train", *extra, "--steps", "1", "--out", str(tmp_path / "x.safetensors")])
    assert info.value.code not in (0, None)
    assert not (tmp_path / "x.safetensors").exists()


def test_a_hostile_weights_file_exits_2_with_one_line(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x80\x04\x95" + b"x" * 100)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "aigc",
            "sample",
            "--model",
            "gan",
            "--weights",
            str(bad),
            "--out",
            str(tmp_path / "x.png"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "bad.safetensors" in proc.stderr
    assert not (tmp_path / "x.png").exists()


def test_wrong_kind_of_weights_is_refused(weights, tmp_path):
    assert (
        main(
            [
                "sample",
                "--model",
                "gan",
                "--weights",
                str(weights / "vae.safetensors"),
                "--out",
                str(tmp_path / "x.png"),
            ]
        )
        == 2
    )


def test_sample_draws_what_the_page_shows_for_the_same_seed_and_class(tmp_path):
    """A shared link's picture can be reproduced from the command line, pixel for pixel."""
    from aigc import render
    from aigc.weights import load_shipped

    out = tmp_path / "s.npy"
    args = ["sample", "--model", "gan", "--label", "3", "--seed", "41", "--n", "2"]
    assert main([*args, "--out", str(out)]) == 0
    model = load_shipped("gan_mnist")
    for i, cli_image in enumerate(np.load(out)):
        look = render.Look(seed=41 + i, label=3)
        frame = render.image(model, None, render.steering(model), look, scale=1)
        page_image = np.asarray(Image.open(io.BytesIO(frame.png)))
        assert np.array_equal(cli_image, page_image)


def test_classroom_open_prints_a_teacher_and_a_student_link(store_url, capsys):
    args = ["classroom", "open", "--title", "Year 7", "--base-url", "http://school:8501/"]
    assert main([*args, "--hours", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(": ")[0] for line in lines] == ["teacher", "student"]
    teacher, student = (urllib.parse.urlsplit(line.split(": ", 1)[1]) for line in lines)
    code = urllib.parse.parse_qs(student.query)["room"][0]
    token = urllib.parse.parse_qs(teacher.query)["teacher"][0]
    assert student.query == f"room={code}" and token not in lines[1]
    assert f"{student.scheme}://{student.netloc}" == "http://school:8501"
    assert classroom.is_teacher(code, token)
    room = classroom.get_room(code)
    assert room.title == "Year 7" and room.expires - room.created == timedelta(hours=2)


def test_classroom_list_and_close(store_url, capsys):
    a, b = classroom.open_room("maths\tclass\n2"), classroom.open_room()
    classroom.heartbeat(a.room.code, "f1", "Ann")
    assert main(["classroom", "list"]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert [(r[0], r[1], r[3]) for r in rows] == [
        (b.room.code, "", "0 followers"),
        (a.room.code, "maths class 2", "1 followers"),
    ]
    assert datetime.fromisoformat(rows[1][2]) == a.room.expires.replace(second=0, microsecond=0)
    assert main(["classroom", "close", a.room.code, "--teacher", b.teacher_token]) == 2
    assert "error: " in capsys.readouterr().err
    assert main(["classroom", "close", a.room.code.lower(), "--teacher", a.teacher_token]) == 0
    assert capsys.readouterr().out == f"closed {a.room.code}\n"
    main(["classroom", "list"])
    assert capsys.readouterr().out.split("\t")[0] == b.room.code


def test_a_review_opens_votes_and_exports_from_the_command_line(store_url, capsys, tmp_path):
    from aigc import review

    weights = tmp_path / "morning.safetensors"
    shutil.copy(shipped_path("gan_mnist"), weights)
    args = ["review", "open", "gan_mnist", str(weights), "--seeds", "3", "--title", "Which?"]
    assert main(args) == 0
    owner, reviewers = (line.split(": ", 1)[1] for line in capsys.readouterr().out.splitlines())
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(owner).query)
    code, secret = query["review"][0], query["owner"][0]
    assert secret not in reviewers
    opened = review.get_review(code)
    assert [(e.label, e.shipped) for e in opened.entries] == [
        ("gan_mnist", "gan_mnist"),
        ("morning", None),
    ]
    assert opened.entries[1].sha256 == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert [i.stimulus.label for i in opened.items] == [0, 1, 2]  # GANs: the classes in turn
    for name in ("ann", "bob"):
        reviewer = review.join(code, name)
        while (pair := review.next_item(code, reviewer)) is not None:
            review.vote(code, reviewer, pair.item.item, "left" if pair.left == 1 else "right")
    assert main(["review", "results", code, "--owner", secret]) == 0
    out = capsys.readouterr().out
    assert "6 votes by 2 reviewers" in out
    assert "morning is preferred to gan_mnist in 100% of pairs" in out
    assert (
        main(["review", "export", code, "--owner", secret, "--out", str(tmp_path / "v.csv")]) == 0
    )
    assert (tmp_path / "v.csv").read_bytes().startswith(b"\xef\xbb\xbfreviewer,name,")
    assert (
        main(["review", "export", code, "--owner", "forged", "--out", str(tmp_path / "x.csv")]) == 2
    )
    assert "not the owner secret" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()


def test_secrets_given_on_the_command_line_never_read_as_options(store_url):
    """`--teacher TOKEN` and `--owner SECRET` take the secret as the next word: one starting
    with "-" would be read as another option (1 in 64 of URL-safe tokens did)."""
    from aigc import classroom, review

    entries = [
        review.Entry("a", "gan", "mnist", "gan_mnist"),
        review.Entry("b", "vae", "mnist", "vae_mnist"),
    ]
    for _ in range(20):
        assert classroom.open_room().teacher_token[0].isalnum()
        assert review.open_review("", entries, review.samples([1])).owner_secret[0].isalnum()
