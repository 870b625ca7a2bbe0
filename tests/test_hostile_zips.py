"""Hostile ZIPs of images: bombs and too many entries refused from what the archive declares,
before anything is decompressed; names that leave the archive refuse it whole; links, non-images
and decompression-bomb images inside are skipped and named; nothing is ever written to disk."""

from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path

import pytest

from aigc import image_folder
from aigc.image_folder import ImageFolderError, read, read_zip
from tests.test_hostile_images import bomb_png
from tests.test_image_folder import as_alpha_png, as_jpeg


def archive(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def digits(prefix: str = "", n: int = 10) -> dict[str, bytes]:
    return {f"{prefix}{c}/{i}.jpg": as_jpeg(c, shift=i) for c in ("0", "1") for i in range(n)}


def refusal(data: bytes) -> ImageFolderError:
    with pytest.raises(ImageFolderError) as info:
        read_zip(data)
    return info.value


@pytest.fixture
def nothing_decompressed(monkeypatch):
    """Fail the test if any member's bytes are decompressed."""

    def never(*args, **kwargs):
        pytest.fail("a member was decompressed")

    monkeypatch.setattr(zipfile.ZipExtFile, "__init__", never)  # what reading a member makes


def test_a_zip_of_the_folder_layout_reads_like_the_folder(tmp_path):
    data = archive(
        {**digits("my digits/"), "my digits/0/drawn.png": as_alpha_png("0")}
        | {"__MACOSX/my digits/0/._0.jpg": b"\0\5\x16\7", "my digits/.DS_Store": b"\0"}
    )
    own = read_zip(data)  # the folder around the classes is looked through; litter ignored
    assert own.images.class_names == ("0", "1") and own.images.counts() == {"0": 11, "1": 10}
    assert own.skipped == ()
    path = tmp_path / "set.zip"
    path.write_bytes(data)
    assert read(path).images.counts() == own.images.counts()  # the CLI's --images set.zip


def test_a_zip_bomb_is_refused_before_decompressing(nothing_decompressed):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("0/paper.png", "w") as member:  # streamed: the payload is never held whole
            for _ in range(64):
                member.write(bytes(2**20))
        for name, data in digits().items():
            zf.writestr(name, data)
    assert len(buf.getvalue()) < 300_000  # 64 MB of zeros in ~70 KB
    error = refusal(buf.getvalue())
    assert error.code == "zip_bomb" and "0/paper.png" in str(error)


def test_members_adding_up_to_too_much_are_refused_before_decompressing(
    monkeypatch, nothing_decompressed
):
    monkeypatch.setattr(image_folder, "MAX_TOTAL_BYTES", 100_000)
    data = archive({f"0/{i}.png": os.urandom(30_000) for i in range(4)}, zipfile.ZIP_STORED)
    assert refusal(data).code == "folder_too_big"


@pytest.mark.parametrize(
    "name", ["../evil.jpg", "0/../../evil.jpg", "/etc/evil.jpg", "C:/evil.jpg", "..\\evil.jpg"]
)
def test_a_member_named_outside_the_archive_refuses_it_whole(name, nothing_decompressed):
    error = refusal(archive({**digits(), name: as_jpeg("0")}))
    assert error.code == "zip_path_outside"


def test_a_link_member_is_skipped_not_followed():
    link = zipfile.ZipInfo("0/passwd.jpg")
    link.create_system = 3  # Unix, where the mode bits say "link"
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(link, "../../../../etc/passwd")
        for name, data in digits().items():
            zf.writestr(name, data)
    own = read_zip(buf.getvalue())
    assert [(s.name, s.why.code) for s in own.skipped] == [("0/passwd.jpg", "folder_link")]
    assert own.images.counts() == {"0": 10, "1": 10}


def test_thousands_of_tiny_files_are_refused_before_any_is_read(nothing_decompressed):
    data = archive({f"{i % 10}/{i}.png": b"\x89PNG" for i in range(5_000)})
    error = refusal(data)
    assert error.code == "folder_too_many_files" and "5,000" in str(error)


def test_too_many_entries_are_refused_before_the_directory_is_parsed(monkeypatch):
    monkeypatch.setattr(image_folder, "MAX_ENTRIES", 100)
    data = archive({f"0/{i}.png": b"" for i in range(101)})
    monkeypatch.setattr(image_folder.zipfile, "ZipFile", lambda *a: pytest.fail("parsed"))
    assert refusal(data).code == "zip_too_many_entries"


def test_non_images_and_image_bombs_inside_are_skipped_and_named():
    data = archive(
        digits()
        | {
            "0/bomb.png": bomb_png(14000),  # 196 megapixels in a few KB
            "0/notes.txt": b"my set",
            "1/deeper/2.jpg": as_jpeg("1"),
            "readme.txt": b"hi",
            "1/\x1b[2Jclear\n.png": b"GIF89a",  # a terminal escape and a line break
        }
    )
    own = read_zip(data)
    assert {s.name: s.why.code for s in own.skipped} == {
        "0/bomb.png": "image_too_large",
        "0/notes.txt": "image_not_png_jpeg",
        "1/deeper/2.jpg": "folder_too_deep",
        "readme.txt": "folder_not_in_class",
        "1/\\x1b[2Jclear\\n.png": "image_not_png_jpeg",  # reported escaped
    }
    assert own.images.counts() == {"0": 10, "1": 10}


def test_a_member_that_lies_about_its_size_is_cut_at_what_it_declares():
    """zipfile stops a member at its declared size, so a small declared size in the directory
    caps the work; the cut member then fails its checksum and is skipped."""
    data = bytearray(archive({**digits(), "1/liar.jpg": as_jpeg("1")}, zipfile.ZIP_STORED))
    directory = data.rfind(b"1/liar.jpg") - 46  # its entry in the central directory
    assert data[directory : directory + 4] == b"PK\x01\x02"
    data[directory + 24 : directory + 28] = (100).to_bytes(4, "little")  # uncompressed size
    own = read_zip(bytes(data))
    assert [(s.name, s.why.code) for s in own.skipped] == [("1/liar.jpg", "folder_file_unreadable")]


def test_reading_a_zip_writes_nothing_anywhere(tmp_path, monkeypatch):
    work, temp = tmp_path / "cwd", tmp_path / "tmp"
    work.mkdir()
    temp.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("TMPDIR", str(temp))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    source = tmp_path / "set.zip"
    source.write_bytes(archive(digits() | {"../escape.jpg": as_jpeg("0")}))
    with pytest.raises(ImageFolderError):
        read(source)
    source.write_bytes(archive(digits()))
    assert len(read(source).images) == 20
    assert sorted(Path(tmp_path).rglob("*")) == sorted([source, temp, work])


def test_not_a_zip_is_refused_plainly(tmp_path):
    assert refusal(b"PK\3\4 not really").code == "zip_not_zip"
    assert refusal(as_jpeg("0")).code == "zip_not_zip"
