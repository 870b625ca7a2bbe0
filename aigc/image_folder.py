"""A user's own pictures as a training set: one subfolder per class, the folder's name the
class's name (sorted names give the label indices, as torchvision's ``ImageFolder`` does), of
PNG or JPEG files of any size and colour, each made MNIST-like by
:func:`aigc.imaging.prepare_digit`.

The set comes from a folder on disk or from a ZIP of the same layout. A ZIP's members are read
straight from the archive, never extracted, so nothing can land outside it or be left behind.
Every cap is checked before the work it bounds: the archive's entry count from its end record
before its directory is parsed, declared sizes and ratios before a byte is decompressed, an
image's pixel count before it is decoded. Links are never followed. A file that cannot be used
is skipped and reported by name; an archive built to attack (a bomb, a path out of the set) is
refused whole. :func:`check_trainable` says whether a set is enough to train on, and if not,
what to add.
"""

from __future__ import annotations

import io
import os
import re
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from aigc import imaging
from aigc.data import MAX_CLASS_NAME_CHARS, OWN_IMAGES, ImageSet, is_class_name
from aigc.errors import InputError

MAX_CLASSES = 10  # what the conditional models, the classifiers and the pages' pickers know
# Agreement hardly needs more (docs/bench.md, session 5), but from a handful a model can only
# copy them back; ten is what a student draws in a couple of minutes.
MIN_PER_CLASS = 10
MAX_FILES = 4_000  # files in the set, images or not: 400 per class at 10 classes
MAX_ENTRIES = 10_000  # entries of a ZIP, folders and macOS litter included
MAX_FILE_BYTES = 20 * 2**20  # a phone photo is 2-10 MB
MAX_TOTAL_BYTES = 256 * 2**20  # what all the files together may unpack to
MAX_DIRECTORY_BYTES = 4 * 2**20  # a ZIP's central directory: ~400 bytes per entry at most
# Deflate tops out near 1,030:1; PNG and JPEG are compressed already and zip at about 1:1.
MAX_RATIO = 100
RATIO_FLOOR_BYTES = 2**20  # below this a member is harmless whatever its ratio
IGNORED_FOLDERS = ("__MACOSX",)
_EOCD = b"PK\x05\x06"
_DRIVE = re.compile(r"^[A-Za-z]:")


class ImageFolderError(InputError):
    """A folder or ZIP of images that cannot be used (see :class:`aigc.errors.InputError`)."""

    default_code = "folder_unusable"


@dataclass(frozen=True)
class Skipped:
    """A file left out of the set: its path inside the set ("7/photo 3.jpg") and why."""

    name: str
    why: InputError

    def __str__(self) -> str:
        return str(self.why)  # every reason's line starts with the file's name


@dataclass(frozen=True)
class OwnImages:
    """What a folder or ZIP held: the images that could be used, and every file that could not."""

    images: ImageSet
    skipped: tuple[Skipped, ...]


# (path inside the set, class name, how to read its bytes)
_File = tuple[str, str, Callable[[], bytes]]


def _shown(name: str) -> str:
    """A file's name as reported: printable as it is, else escaped (a name may carry a terminal's
    control codes or a line break), and at most 200 characters."""
    name = name if name.isprintable() else name.encode("unicode_escape").decode()
    return name if len(name) <= 200 else name[:199] + "…"


def _ignored(part: str) -> bool:
    """Dotfiles (.DS_Store, ._photo.jpg) and macOS's resource folders: litter, not data."""
    return part.startswith(".") or part in IGNORED_FOLDERS


def _link(name: str) -> Skipped:
    return Skipped(name, ImageFolderError(f"{name}: a link, not followed", "folder_link"))


def _too_deep(name: str) -> Skipped:
    message = f"{name}: in a folder inside a class folder"
    return Skipped(name, ImageFolderError(message, "folder_too_deep"))


def _not_in_class(name: str) -> Skipped:
    message = f"{name}: not in a class folder"
    return Skipped(name, ImageFolderError(message, "folder_not_in_class"))


def _unreadable(name: str) -> Skipped:
    message = f"{name}: could not be read"
    return Skipped(name, ImageFolderError(message, "folder_file_unreadable"))


def _check_class_name(name: str) -> None:
    if not is_class_name(name):
        raise ImageFolderError(
            f"class folder {_shown(name[:MAX_CLASS_NAME_CHARS])!r}: a class name needs 1 to {MAX_CLASS_NAME_CHARS} printable "
            "characters",
            "folder_class_name",
            limit=MAX_CLASS_NAME_CHARS,
        )


def _too_many_files(n: int | None = None) -> ImageFolderError:
    found = f" ({n:,})" if n else ""
    return ImageFolderError(
        f"more than {MAX_FILES:,} files{found}; use at most {MAX_FILES:,}",
        "folder_too_many_files",
        limit=MAX_FILES,
    )


def _too_big(total: int) -> ImageFolderError:
    return ImageFolderError(
        f"the files add up to {total / 2**20:,.0f} MB, more than the "
        f"{MAX_TOTAL_BYTES / 2**20:,.0f} MB allowed",
        "folder_too_big",
        megabytes=total / 2**20,
        limit_megabytes=MAX_TOTAL_BYTES / 2**20,
    )


def _file_too_large(name: str, size: int) -> Skipped:
    limit = MAX_FILE_BYTES / 2**20
    message = f"{name}: {size / 2**20:.1f} MB is more than the {limit:.0f} MB an image may have"
    return Skipped(name, ImageFolderError(message, "folder_file_too_large", limit_megabytes=limit))


def _decode(classes: list[str], files: list[_File], skipped: list[Skipped]) -> OwnImages:
    """Prepare every file as MNIST is made; the ones that fail join `skipped`."""
    for name in classes:
        _check_class_name(name)
    classes = sorted(set(classes))
    index = {name: i for i, name in enumerate(classes)}
    pictures, labels = [], []
    for name, label, read in files:
        try:
            data = read()
        except (
            OSError,
            EOFError,
            RuntimeError,
            NotImplementedError,
            zipfile.BadZipFile,
            zlib.error,
        ):
            # RuntimeError: an encrypted member; NotImplementedError: an unknown compression
            skipped.append(_unreadable(name))
            continue
        try:
            pictures.append(imaging.prepare_upload(data, name))
        except imaging.ImageInputError as e:
            skipped.append(Skipped(name, e))
            continue
        labels.append(index[label])
    images = imaging.to_uint8(np.stack(pictures)) if pictures else np.zeros((0, 28, 28), np.uint8)
    image_set = ImageSet(OWN_IMAGES, images, np.asarray(labels, np.int64), tuple(classes))
    return OwnImages(image_set, tuple(sorted(skipped, key=lambda s: s.name)))


def _read_file(path: Path) -> bytes:
    """The bytes of a regular file, refusing a link swapped in after the folder was listed."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise OSError(f"{path}: not a regular file")
        return f.read(MAX_FILE_BYTES + 1)


def _listing(folder: str, room: int) -> list[os.DirEntry]:
    """The entries of `folder` that are not litter, sorted by name; more than `room` of them
    raise before the rest of a huge folder is listed."""
    entries = []
    with os.scandir(folder) as listing:
        for entry in listing:
            if not _ignored(entry.name):
                entries.append(entry)
                if len(entries) > room:
                    raise _too_many_files()
    return sorted(entries, key=lambda e: e.name)


def read_folder(folder: str | Path) -> OwnImages:
    """The images of `folder`, one subfolder per class; see the module's docstring.

    Raises:
        ImageFolderError: not a folder, more than :data:`MAX_FILES` files, more than
            :data:`MAX_TOTAL_BYTES` in all, or a class name that cannot be shown.
    """
    root = Path(folder)
    if not root.is_dir():
        raise ImageFolderError(f"{root}: not a folder", "folder_not_found")
    classes: list[str] = []
    files: list[_File] = []
    skipped: list[Skipped] = []
    total = 0
    for top in _listing(str(root), MAX_FILES):
        if top.is_symlink() or not top.is_dir(follow_symlinks=False):
            name = _shown(top.name)
            skipped.append(_link(name) if top.is_symlink() else _not_in_class(name))
            continue
        classes.append(top.name)
        for entry in _listing(top.path, MAX_FILES - len(files) - len(skipped)):
            name = _shown(f"{top.name}/{entry.name}")
            if entry.is_symlink():
                skipped.append(_link(name))
            elif entry.is_dir(follow_symlinks=False):
                skipped.append(_too_deep(name))
            elif not entry.is_file(follow_symlinks=False):
                skipped.append(_unreadable(name))
            elif (size := entry.stat(follow_symlinks=False).st_size) > MAX_FILE_BYTES:
                skipped.append(_file_too_large(name, size))
            else:
                total += size
                if total > MAX_TOTAL_BYTES:
                    raise _too_big(total)
                files.append((name, top.name, lambda p=Path(entry.path): _read_file(p)))
    return _decode(classes, files, skipped)


def _declared_entries(archive: io.BufferedIOBase) -> int:
    """The entry count of a ZIP's end record, read before `zipfile` parses the directory (which
    it would hold in memory whole): a count too large for 16 bits means ZIP64, and so more
    entries than any set here may have."""
    archive.seek(0, io.SEEK_END)
    size = archive.tell()
    tail_len = min(size, 22 + 0xFFFF)  # the record, then a comment of up to 64 KB
    archive.seek(size - tail_len)
    tail = archive.read(tail_len)
    at = tail.rfind(_EOCD)
    if at < 0 or at + 22 > len(tail):
        raise ImageFolderError("not a ZIP archive", "zip_not_zip")
    entries = int.from_bytes(tail[at + 10 : at + 12], "little")
    directory_bytes = int.from_bytes(tail[at + 12 : at + 16], "little")
    if entries > MAX_ENTRIES or directory_bytes > MAX_DIRECTORY_BYTES:
        raise ImageFolderError(
            f"the archive lists {entries:,} entries; at most {MAX_ENTRIES:,} are read",
            "zip_too_many_entries",
            limit=MAX_ENTRIES,
        )
    archive.seek(0)
    return entries


def _member_parts(info: zipfile.ZipInfo) -> tuple[str, ...]:
    """A member's path as parts; a name that leaves the set (absolute, a drive, `..`) refuses
    the whole archive: no tool that zips a folder writes one."""
    name = info.filename.replace("\\", "/")
    parts = tuple(p for p in PurePosixPath(name).parts if p not in ("", "."))
    if name.startswith("/") or _DRIVE.match(name) or ".." in parts:
        raise ImageFolderError(
            f"member {_shown(info.filename)!r} points outside the archive; the archive was not read",
            "zip_path_outside",
        )
    return parts


def _is_link(info: zipfile.ZipInfo) -> bool:
    return info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16)  # 3: Unix


def _check_ratios(infos: Iterable[zipfile.ZipInfo]) -> None:
    """Refuse a ZIP bomb from the sizes its directory declares, before decompressing anything
    (`zipfile` then stops each member at its declared size, so a lying header gains nothing)."""
    for info in infos:
        ratio = info.file_size / max(1, info.compress_size)
        if info.file_size >= RATIO_FLOOR_BYTES and ratio > MAX_RATIO:
            raise ImageFolderError(
                f"member {_shown(info.filename)!r} unpacks {ratio:,.0f} times larger than it is "
                f"stored (more than {MAX_RATIO}:1): a ZIP bomb; the archive was not read",
                "zip_bomb",
                limit=MAX_RATIO,
            )


def read_zip(source: str | Path | bytes) -> OwnImages:
    """The images of a ZIP laid out as :func:`read_folder`'s folder, read without extracting.

    One folder around the class folders (``digits/7/a.png``, as zipping the folder itself
    makes) is looked through. Files deeper than ``class/file``, links and files outside a class
    folder are skipped and reported; dotfiles and ``__MACOSX`` are ignored.

    Raises:
        ImageFolderError: not a ZIP; too many entries or files; sizes over the caps or a
            member's ratio over :data:`MAX_RATIO` (a ZIP bomb); a member named outside the
            archive; a class name that cannot be shown.
    """
    archive = io.BytesIO(source) if isinstance(source, bytes | bytearray) else open(source, "rb")  # noqa: SIM115
    with archive:
        _declared_entries(archive)
        try:
            zf = zipfile.ZipFile(archive)
        except (zipfile.BadZipFile, zlib.error, ValueError, EOFError, OSError, NotImplementedError):
            raise ImageFolderError("not a readable ZIP archive", "zip_not_zip") from None
        with zf:
            infos = zf.infolist()
            if len(infos) > MAX_ENTRIES:
                raise ImageFolderError(
                    f"the archive lists {len(infos):,} entries; at most {MAX_ENTRIES:,} are read",
                    "zip_too_many_entries",
                    limit=MAX_ENTRIES,
                )
            members = [(info, _member_parts(info)) for info in infos]
            members = [(i, p) for i, p in members if p and not any(map(_ignored, p))]
            tops = {p[0] for _, p in members}
            if len(tops) == 1 and not any(len(p) == 2 and not i.is_dir() for i, p in members):
                members = [(i, p[1:]) for i, p in members if len(p) > 1]  # a folder around it all
            return _read_members(zf, members)


def _read_members(
    zf: zipfile.ZipFile, members: list[tuple[zipfile.ZipInfo, tuple[str, ...]]]
) -> OwnImages:
    classes: set[str] = set()
    files: list[_File] = []
    wanted: list[zipfile.ZipInfo] = []
    skipped: list[Skipped] = []
    n_files = sum(1 for info, _ in members if not info.is_dir())
    if n_files > MAX_FILES:
        raise _too_many_files(n_files)
    _check_ratios(info for info, _ in members)
    for info, parts in members:
        name = _shown("/".join(parts))
        if len(parts) > 1 or info.is_dir():
            classes.add(parts[0])
        if info.is_dir():
            if len(parts) > 1:
                skipped.append(_too_deep(name))
            continue
        if _is_link(info):
            skipped.append(_link(name))
        elif len(parts) == 1:
            skipped.append(_not_in_class(name))
        elif len(parts) > 2:
            skipped.append(_too_deep(name))
        elif info.file_size > MAX_FILE_BYTES:
            skipped.append(_file_too_large(name, info.file_size))
        else:
            wanted.append(info)
            files.append((name, parts[0], lambda i=info: _read_member(zf, i)))
    total = sum(info.file_size for info in wanted)
    if total > MAX_TOTAL_BYTES:
        raise _too_big(total)
    return _decode(sorted(classes), files, skipped)


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    with zf.open(info) as member:
        return member.read(MAX_FILE_BYTES + 1)


def read(source: str | Path) -> OwnImages:
    """A folder (:func:`read_folder`) or a ``.zip`` file (:func:`read_zip`)."""
    path = Path(source)
    return read_zip(path) if path.is_file() else read_folder(path)


def check_trainable(images: ImageSet, conditional: bool) -> None:
    """Raise ImageFolderError, saying what to add or remove, unless `images` can be trained on:
    every class has at least :data:`MIN_PER_CLASS` images, and a conditional model gets 2 to
    :data:`MAX_CLASSES` classes (an unconditional one learns all the images as one kind)."""
    counts = images.counts()
    if not counts:
        raise ImageFolderError(
            "no class folders: put each class's images in a subfolder named for the class",
            "folder_no_classes",
        )
    if conditional and len(counts) > MAX_CLASSES:
        raise ImageFolderError(
            f"{len(counts)} classes; a conditional model learns at most {MAX_CLASSES}",
            "folder_too_many_classes",
            n=len(counts),
            limit=MAX_CLASSES,
        )
    if conditional and len(counts) < 2:
        raise ImageFolderError(
            "one class only: a conditional model needs at least 2 classes to choose between "
            "(train without --label-conditional to learn one kind of image)",
            "folder_one_class",
        )
    empty = [name for name, n in counts.items() if n == 0]
    if empty:
        listed = ", ".join(empty)
        raise ImageFolderError(
            f"no usable images in class {listed}: add some or remove the folder",
            "folder_class_empty",
            classes=listed,
        )
    short = {name: MIN_PER_CLASS - n for name, n in counts.items() if n < MIN_PER_CLASS}
    if short:
        listed = ", ".join(f"{name} ({need} more)" for name, need in short.items())
        raise ImageFolderError(
            f"too few images to train: each class needs at least {MIN_PER_CLASS}; add "
            f"{sum(short.values())} more: {listed}",
            "folder_too_few",
            need=sum(short.values()),
            per_class=MIN_PER_CLASS,
            classes=listed,
        )
