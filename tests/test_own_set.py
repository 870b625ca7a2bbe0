"""Building one's own set: classes by name in sorted order however the images came, and every
edit a new set that leaves the one it was given as it was."""

from __future__ import annotations

import numpy as np

from aigc import own_set


def images(k: int, value: int) -> np.ndarray:
    return np.full((k, 28, 28), value, np.uint8)


def test_classes_stay_sorted_by_name_and_labels_follow_them():
    first = own_set.added(own_set.empty(), images(2, 1), ["zebra", "zebra"])
    both = own_set.added(first, images(1, 2), ["ant"])
    assert both.class_names == ("ant", "zebra")
    assert both.labels.tolist() == [1, 1, 0]
    assert own_set.names_of(both) == ["zebra", "zebra", "ant"]
    assert first.class_names == ("zebra",) and len(first) == 2, "the set given is untouched"


def test_merging_joins_classes_by_name():
    a = own_set.added(own_set.empty(), images(1, 1), ["7"])
    b = own_set.added(own_set.empty(), images(2, 2), ["3", "7"])
    merged = own_set.merged(a, b)
    assert merged.counts() == {"3": 1, "7": 2}


def test_an_edit_relabels_deletes_and_drops_a_class_left_empty():
    s = own_set.added(own_set.empty(), images(3, 5), ["a", "b", "b"])
    edited = own_set.edited(s, ["b", None, "b"])
    assert edited.counts() == {"b": 2}
    assert s.counts() == {"a": 1, "b": 2}


def test_a_typed_class_name_is_trimmed_and_cut_to_a_label():
    assert own_set.class_name("  my   7 \n") == "my 7"
    assert len(own_set.class_name("x" * 500)) == 40
    assert own_set.class_name("   ") == ""


def test_a_downloaded_set_reads_back_as_the_same_set():
    from aigc import image_folder

    ring = np.zeros((28, 28), np.uint8)
    ring[4:24, 4:24] = 255  # as prepare_digit leaves ink: fitted into 20x20, centred
    ring[8:20, 8:20] = 0
    bar = np.zeros((28, 28), np.uint8)
    bar[4:24, 12:16] = 255
    s = own_set.added(own_set.empty(), np.stack([ring, bar, bar]), ["my 0", "1", "1"])
    back = image_folder.read_zip(own_set.to_zip(s))
    assert not back.skipped
    assert back.images.counts() == s.counts()
    for k, name in enumerate(s.class_names):  # each class in the order it was drawn
        ours = s.images[s.labels == k].astype(int)
        theirs = back.images.images[back.images.labels == back.images.class_names.index(name)]
        assert np.abs(theirs.astype(int) - ours).mean() < 8, name
