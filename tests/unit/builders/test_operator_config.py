"""The operator's configuration file and the release table."""

from __future__ import annotations

from pathlib import Path

import pytest
from golden_support import resolve_spec, small_spec

from kemr.api import Application
from kemr.config import IMAGE_REPOSITORY, OperatorConfig, PlacementPreset, load_config
from kemr.resolve import ResolveError


def test_defaults_without_a_file() -> None:
    config = load_config(environ={})
    assert config == OperatorConfig()
    assert config.placement.preset is PlacementPreset.KARPENTER
    release = config.release("kemr-1.0")
    assert release.spark_version.startswith("3.5.")
    assert release.hadoop_version.startswith("3.")
    assert release.image_or_default("kemr-1.0") == f"{IMAGE_REPOSITORY}:kemr-1.0"


def test_file_from_kemr_config(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "placement: {preset: gke}\n"
        "imagePullPolicy: Always\n"
        "imagePullSecrets: [regcred]\n"
        "releases:\n"
        "  kemr-1.0: {image: registry.internal/kemr-spark:1.0}\n"
        "  kemr-9.9: {sparkVersion: 3.5.9, hadoopVersion: 3.4.1, sparkHadoopVersion: 3.3.4}\n"
    )
    config = load_config(environ={"KEMR_CONFIG": str(path)})
    assert config.placement.preset is PlacementPreset.GKE
    assert config.release("kemr-1.0").image == "registry.internal/kemr-spark:1.0"
    assert config.release("kemr-1.0").spark_version == OperatorConfig().release("kemr-1.0").spark_version
    assert config.release_labels() == ["kemr-1.0", "kemr-9.9"]
    resolved = resolve_spec(small_spec(), config)
    assert resolved.spark_image == "registry.internal/kemr-spark:1.0"
    assert resolved.image_pull_policy == "Always"
    assert resolved.image_pull_secrets == ("regcred",)


def test_preset_from_the_environment_wins(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("placement: {preset: gke}\n")
    config = load_config(path, environ={"KEMR_PLACEMENT_PRESET": "aks"})
    assert config.placement.preset is PlacementPreset.AKS


def test_typos_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("placment: {preset: gke}\n")
    with pytest.raises(ValueError, match="placment"):
        load_config(path, environ={})


def test_a_new_release_needs_its_versions() -> None:
    with pytest.raises(ValueError, match=r"kemr-2\.0"):
        OperatorConfig.model_validate({"releases": {"kemr-2.0": {"image": "x"}}})


def test_an_unknown_release_is_a_resolve_error() -> None:
    with pytest.raises(ResolveError) as err:
        resolve_spec(small_spec(release="kemr-7.0"))
    assert err.value.field == "spec.release"
    assert "kemr-1.0" in err.value.message


def test_spec_images_override_the_release_image() -> None:
    resolved = resolve_spec(small_spec(images={"Spark": "my/spark:1", "HDFS": "my/hdfs:1"}))
    assert (resolved.spark_image, resolved.images[Application.HDFS]) == ("my/spark:1", "my/hdfs:1")
    only_spark = resolve_spec(small_spec(images={"Spark": "my/spark:1"}))
    assert only_spark.images[Application.HDFS] == f"{IMAGE_REPOSITORY}:kemr-1.0"
