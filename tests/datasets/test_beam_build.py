"""One build through Apache Beam (DirectRunner); skipped when apache_beam is not installed.

apache-beam is the optional ``tfau[beam]`` extra: it pins protobuf/pyarrow versions that may
not match the main environment's TensorFlow, so it usually lives in its own virtualenv.
"""

from __future__ import annotations

import dataset_test_utils as utils
import pytest
import tensorflow_datasets as tfds
import tfau.datasets  # noqa: F401  (registers the builders)

beam = pytest.importorskip("apache_beam")


def _keys(builder, split):
    dataset = builder.as_dataset(split=split).map(lambda e: (e["sequence"], e["frame"]))
    return sorted((s.decode(), int(f)) for s, f in tfds.as_numpy(dataset))


def test_beam_build_matches_the_local_build(tmp_path):
    local = utils.build("bp4d/unaligned224", utils.BP4D_DUMMY, tmp_path / "local")
    builder = tfds.builder("bp4d/unaligned224", data_dir=str(tmp_path / "beam"))
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(
            manual_dir=str(utils.BP4D_DUMMY),
            beam_runner=beam.runners.DirectRunner(),
        )
    )
    assert {k: v.num_examples for k, v in builder.info.splits.items()} == {
        k: v.num_examples for k, v in local.info.splits.items()
    }
    for split in local.info.splits:
        assert _keys(builder, split) == _keys(local, split)
    summary = builder.info.metadata["build_summary"]
    expected = local.info.metadata["build_summary"]
    assert summary["examples"] == expected["examples"]
    assert summary["skipped"] == expected["skipped"] == {"missing_image": 5}
    assert summary["kept_without_landmarks"] == expected["kept_without_landmarks"] == 1
