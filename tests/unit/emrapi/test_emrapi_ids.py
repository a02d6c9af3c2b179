"""EMR ids derived from metadata.uid."""

from __future__ import annotations

import re

from kemr.emrapi.translate import EMR_ID_LABEL, cluster_id, emr_cluster_id, instance_group_id, step_id


def test_ids_have_emrs_shape_and_are_stable() -> None:
    assert re.fullmatch(r"j-[A-Z2-7]{13}", cluster_id("abc"))
    assert re.fullmatch(r"s-[A-Z2-7]{13}", step_id("abc"))
    assert re.fullmatch(r"ig-[A-Z2-7]{13}", instance_group_id("abc", "core"))
    assert cluster_id("abc") == cluster_id("abc")
    assert cluster_id("abc") != cluster_id("abd")
    assert cluster_id("abc")[2:] == step_id("abc")[2:]
    assert instance_group_id("abc", "core") != instance_group_id("abc", "task")


def test_known_value() -> None:
    # Pinned: an id must never change between releases, clients keep them.
    assert cluster_id("abc") == "j-XJ4BNP4PAHH6U"


def test_the_uid_decides_never_a_copied_label() -> None:
    obj = {"metadata": {"uid": "abc", "labels": {EMR_ID_LABEL: "j-COPIEDLABEL0"}}}
    assert emr_cluster_id(obj) == cluster_id("abc")
    assert emr_cluster_id({"metadata": {"uid": "abc"}}) == cluster_id("abc")
