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
