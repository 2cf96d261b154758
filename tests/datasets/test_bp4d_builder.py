"""bp4d builder on dummy data written by the SynthAU BP4D writer (tfau.datasets.make_dummy_data).

The writer's manifest says which frames lack an image or landmarks and which labels are 9;
the tests check the builder against it.
"""

from __future__ import annotations

import shutil

import dataset_test_utils as utils
import numpy as np
import pytest
import tensorflow_datasets as tfds
import tfau.datasets  # noqa: F401  (registers the builders)
from tfau.datasets import common, make_dummy_data
from tfau.datasets.bp4d import bp4d_dataset_builder, layout

from tfau.faces import align_face, eye_centres, inter_ocular_distance
from tfau.synth import Preset, write_bp4d

MANIFEST = utils.manifest(utils.BP4D_DUMMY)
PART_OF = {s: part for part, subjects in layout.PARTS.items() for s in subjects}


def _expected_counts(aligned: bool) -> dict[str, int]:
    counts = dict.fromkeys(layout.PARTS, 0)
    for seq in MANIFEST["sequences"]:
        no_image = set(seq["frames_without_image"])
        no_landmarks = set(seq["frames_without_landmarks"]) - no_image
        kept = seq["num_frames"] - len(no_image) - (len(no_landmarks) if aligned else 0)
        counts[PART_OF[seq["subject"]]] += kept
    return counts


class Bp4dAlignedTest(utils.SerialBuilderMixin, tfds.testing.DatasetBuilderTestCase):
    """Aligned 200 x 200 faces: frames without image or landmarks are skipped."""

    DATASET_CLASS = bp4d_dataset_builder.Builder
    # TFDS finds dummy_data from the module name, which an editable install maps elsewhere.
    EXAMPLE_DIR = str(utils.BP4D_DUMMY)
    BUILDER_CONFIG_NAMES_TO_TEST = ["aligned200"]  # noqa: RUF012
    SPLITS = {"part1": 4, "part2": 7, "part3": 7}  # noqa: RUF012


#: Unaligned 224 faces: frames without landmarks are kept (nearest frame's box). Built by
#: test_built_splits_hold_only_their_part (one DatasetBuilderTestCase per builder keeps the
#: suite fast: TFDS's as_dataset checks dominate its run time).
UNALIGNED_SPLITS = {"part1": 5, "part2": 7, "part3": 7}


def _run(
    root, aligned: bool, image_size: int = 64, pairs: bool = False
) -> list[common.SequenceResult]:
    found = layout.find_layout(root)
    crop = common.CropSpec(aligned=aligned, image_size=image_size, pairs=pairs)
    tasks = [layout.make_task(found, s, t, csv, crop) for s, t, csv in found.sequences]
    return [layout.sequence_examples(task) for task in tasks]


@pytest.fixture(scope="module")
def aligned_results():
    return _run(utils.BP4D_DUMMY, aligned=True)


@pytest.fixture(scope="module")
def unaligned_results():
    return _run(utils.BP4D_DUMMY, aligned=False)


def test_split_counts_follow_the_manifest():
    assert _expected_counts(aligned=True) == Bp4dAlignedTest.SPLITS
    assert _expected_counts(aligned=False) == UNALIGNED_SPLITS


def test_dummy_data_regenerates_identically(tmp_path):
    fresh = make_dummy_data.write_dummy_data(tmp_path / "bp4d", tmp_path / "disfa")
    assert fresh["bp4d"]["sequences"] == MANIFEST["sequences"]
    assert fresh["disfa"]["subjects"] == utils.manifest(utils.DISFA_DUMMY)["subjects"]


def test_missing_images_and_landmarks_are_reported(aligned_results, unaligned_results):
    expected_missing = {
        (seq["subject"], seq["task"], frame)
        for seq in MANIFEST["sequences"]
        for frame in seq["frames_without_image"]
    }
    reasons = [reason for reason, _ in utils.skipped(aligned_results)]
    assert reasons.count("missing_image") == len(expected_missing)
    no_landmarks = {
        (seq["subject"], seq["task"], frame)
        for seq in MANIFEST["sequences"]
        for frame in seq["frames_without_landmarks"]
    } - expected_missing
    assert reasons.count("no_landmarks") == len(no_landmarks)
    assert sum(r.kept_without_landmarks for r in unaligned_results) == len(no_landmarks)
    unaligned = utils.examples_by_key(unaligned_results)
    for subject, task, frame in no_landmarks:
        example = unaligned[f"{subject}_{task}_{frame:05d}"]
        assert not example["has_landmarks"]
        np.testing.assert_array_equal(example["landmarks"], 0)
        assert example["interocular_distance"] == 0


def test_mixed_zero_padding_is_read(unaligned_results):
    paddings = {seq["padding"] for seq in MANIFEST["sequences"]}
    assert paddings == {"plain", "zero4"}
    keys = set(utils.examples_by_key(unaligned_results))
    for seq in MANIFEST["sequences"]:
        first = seq["first_frame"]
        for frame in range(first, first + seq["num_frames"]):
            present = frame not in seq["frames_without_image"]
            assert (f"{seq['subject']}_{seq['task']}_{frame:05d}" in keys) == present


def test_nines_are_masked(unaligned_results):
    examples = utils.examples_by_key(unaligned_results)
    unknown = [(seq, item) for seq in MANIFEST["sequences"] for item in seq["unknown_labels"]]
    assert unknown, "the dummy data must hold some 9 labels"
    checked = 0
    for seq, item in unknown:
        key = f"{seq['subject']}_{seq['task']}_{item['frame']:05d}"
        if key not in examples:
            continue
        example, au = examples[key], item["au"]
        assert example["au_full"][au - 1] == -1
        assert not example["au_full_mask"][au - 1]
        assert example["au"][layout.STANDARD_AUS.index(au)] == -1
        if au in layout.INTENSITY_AUS:
            assert example["au_intensity"][au - 1] == -1
        checked += 1
    assert checked > 0
    # Columns the writer leaves at 9 (AUs outside the standard set) are masked too.
    example = next(iter(examples.values()))
    assert not example["au_full_mask"][3 - 1]
    assert set(np.unique(example["au"])) <= {-1, 0, 1}


def test_labels_match_the_csv_files(unaligned_results):
    examples = utils.examples_by_key(unaligned_results)
    seq = MANIFEST["sequences"][0]
    occ = utils.BP4D_DUMMY / "AUCoding/AU_OCC" / f"{seq['subject']}_{seq['task']}.csv"
    rows = [line.split(",") for line in occ.read_text().splitlines()[1:]]
    intensity_file = (
        utils.BP4D_DUMMY / "AUCoding/AU_INT/AU06" / f"{seq['subject']}_{seq['task']}_AU06.csv"
    )
    intensities = dict(line.split(",") for line in intensity_file.read_text().splitlines())
    for row in rows:
        key = f"{seq['subject']}_{seq['task']}_{int(row[0]):05d}"
        if key not in examples:
            continue
        values = [int(v) for v in row]
        expected = [{0: 0, 1: 1, 9: -1}[values[au]] for au in layout.STANDARD_AUS]
        np.testing.assert_array_equal(examples[key]["au"], expected)
        value = int(intensities[row[0]])
        assert examples[key]["au_intensity"][5] == (-1 if value == 9 else value)


def test_aligned_landmarks_follow_the_face(aligned_results):
    examples = utils.examples_by_key(aligned_results)
    seq = MANIFEST["sequences"][0]
    found = layout.find_layout(utils.BP4D_DUMMY)
    task = layout.make_task(
        found,
        seq["subject"],
        seq["task"],
        found.occurrence_root / f"{seq['subject']}_{seq['task']}.csv",
        common.CropSpec(aligned=True, image_size=64),
    )
    raw = layout.read_landmarks(task.landmarks_mat, common.SequenceResult())
    images = layout.index_images(task.image_dir)
    frame = next(f for f in sorted(raw) if f in images)
    example = examples[f"{seq['subject']}_{seq['task']}_{frame:05d}"]
    frame_rgb = utils.decode(images[frame].read_bytes())
    reference = align_face(frame_rgb, raw[frame], output_size=64)
    np.testing.assert_allclose(example["landmarks"], reference.landmarks, atol=1e-3)
    left, right = eye_centres(example["landmarks"])
    assert abs(left[1] - right[1]) < 1e-3  # eyes level
    assert example["interocular_distance"] == pytest.approx(
        float(inter_ocular_distance(example["landmarks"])), rel=1e-5
    )
    stored = utils.decode(example["image"]).astype(np.float32)
    assert np.abs(stored - reference.image).mean() < 3.0  # JPEG loss only


def test_fera2015_folder_names(tmp_path, unaligned_results):
    root = tmp_path / "fera"
    write_bp4d(
        root,
        size=make_dummy_data.DUMMY_PRESET,
        seed=make_dummy_data.SEED,
        scale=make_dummy_data.SCALE,
        fera2015=True,
        progress=False,
    )
    found = layout.find_layout(root)
    assert found.image_root.name == "BP4D-training"
    assert found.occurrence_root.name == "AUCoding"
    assert found.intensity_root.name == "AU Intensity Codes3.0"
    fera = utils.examples_by_key(_run(root, aligned=False))
    full = utils.examples_by_key(unaligned_results)
    assert sorted(fera) == sorted(full)
    for key in full:
        np.testing.assert_array_equal(fera[key]["au_full"], full[key]["au_full"])
        np.testing.assert_array_equal(fera[key]["au_intensity"], full[key]["au_intensity"])


def test_parts_are_subject_exclusive():
    parts = [set(subjects) for subjects in layout.PARTS.values()]
    assert sum(len(p) for p in parts) == 41 == len(set.union(*parts))


def test_built_splits_hold_only_their_part(tmp_path):
    builder = utils.build("bp4d/unaligned224", utils.BP4D_DUMMY, tmp_path)
    seen = {}
    for part in layout.PARTS:
        dataset = builder.as_dataset(split=part).map(lambda e: e["subject"])
        subjects = {s.decode() for s in tfds.as_numpy(dataset)}
        assert subjects <= set(layout.PARTS[part])
        seen[part] = subjects
    assert not seen["part1"] & seen["part2"] and not seen["part2"] & seen["part3"]
    assert {k: v.num_examples for k, v in builder.info.splits.items()} == UNALIGNED_SPLITS
    summary = builder.info.metadata["build_summary"]
    assert summary["examples"] == UNALIGNED_SPLITS
    assert summary["skipped"] == {"missing_image": 5}


def test_bad_manual_dir_fails_fast(tmp_path):
    (tmp_path / "notes.txt").write_text("not BP4D")
    (tmp_path / "Sequences").mkdir()
    with pytest.raises(
        common.ManualDirError,
        match=r"(?s)not a BP4D manual_dir\. Missing:.*AUCoding/AU_OCC/<subject>_<task>\.csv"
        r".*2DFeatures.*Found: .* contains: Sequences/, notes\.txt",
    ):
        layout.find_layout(tmp_path)
    builder = tfds.builder("bp4d/aligned200", data_dir=str(tmp_path / "out"))
    with pytest.raises(common.ManualDirError, match="not a BP4D manual_dir"):
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(manual_dir=str(tmp_path))
        )


def test_corrupt_jpeg_and_malformed_row_are_reported_and_counted(tmp_path):
    root = tmp_path / "bp4d"
    shutil.copytree(utils.BP4D_DUMMY, root)
    image = sorted((root / "Sequences/F003/T1").iterdir())[0]
    image.write_bytes(image.read_bytes()[:300])  # truncated JPEG
    occ = root / "AUCoding/AU_OCC/F004_T1.csv"
    lines = occ.read_text().splitlines()
    lines[1] = lines[1].replace(",", ";", 3)
    occ.write_text("\n".join(lines) + "\n")
    frame = int(lines[1].split(";")[0])
    had_image = frame not in next(
        s["frames_without_image"]
        for s in MANIFEST["sequences"]
        if (s["subject"], s["task"]) == ("F004", "T1")
    )
    builder = utils.build("bp4d/unaligned224", root, tmp_path / "out")
    summary = builder.info.metadata["build_summary"]
    assert summary["skipped"]["corrupt_image"] == 1
    assert summary["skipped_examples"]["corrupt_image"] == [str(image)]
    assert summary["skipped"]["malformed_row"] == 1
    assert summary["skipped_examples"]["malformed_row"][0].startswith(f"{occ}:2 (")
    expected = dict(UNALIGNED_SPLITS)
    expected["part2"] -= 1
    expected["part3"] -= int(had_image)
    assert {k: v.num_examples for k, v in builder.info.splits.items()} == expected
    reloaded = tfds.builder("bp4d/unaligned224", data_dir=str(tmp_path / "out"))
    assert reloaded.info.metadata["build_summary"]["skipped"] == summary["skipped"]


def test_process_pool_gives_the_same_examples():
    found = layout.find_layout(utils.BP4D_DUMMY)
    crop = common.CropSpec(aligned=True, image_size=48)
    tasks = [layout.make_task(found, s, t, csv, crop) for s, t, csv in found.sequences]
    serial = list(common.run_local(layout.sequence_examples, tasks, num_workers=1))
    pooled = list(common.run_local(layout.sequence_examples, tasks, num_workers=2))
    assert [key for r in serial for key, _ in r.examples] == [
        key for r in pooled for key, _ in r.examples
    ]
    for a, b in zip(serial, pooled, strict=True):
        for (_, x), (_, y) in zip(a.examples, b.examples, strict=True):
            assert x["image"] == y["image"]
            np.testing.assert_array_equal(x["landmarks"], y["landmarks"])


def test_reduced_jpeg_decoding_gives_the_full_resolution_face(tmp_path):
    root = tmp_path / "bp4d"
    preset = Preset("one", ("F001",), ("T1",), 2, ("SN001",), 1)
    write_bp4d(root, size=preset, seed=4, scale=0.5, progress=False)
    found = layout.find_layout(root)
    crop = common.CropSpec(aligned=True, image_size=48)
    task = layout.make_task(found, *found.sequences[0], crop)
    raw = layout.read_landmarks(task.landmarks_mat, common.SequenceResult())
    images = layout.index_images(task.image_dir)
    frame = next(f for f in sorted(raw) if f in images)
    assert common.decode_reduction(raw[frame], crop) == 4  # a 48 px face of a 520 px frame
    example = dict(layout.sequence_examples(task).examples)[f"F001_T1_{frame:05d}"]
    reference = align_face(utils.decode(images[frame].read_bytes()), raw[frame], output_size=48)
    np.testing.assert_allclose(example["landmarks"], reference.landmarks, atol=1e-3)
    stored = utils.decode(example["image"]).astype(np.float32)
    assert np.abs(stored - reference.image).mean() < 6.0
    # The full-size decode of an unreduced config still matches exactly (no reduction).
    assert common.decode_reduction(raw[frame], common.CropSpec(True, 400)) == 1


# --------------------------------------------------------------------------------------------
# unaligned224_pairs: the previous frame for AUNets' optical flow


def _expected_has_previous() -> dict[str, bool]:
    """From the writer's manifest: frame f - 1 has an image in the same sequence."""
    expected = {}
    for seq in MANIFEST["sequences"]:
        written = set(range(seq["first_frame"], seq["first_frame"] + seq["num_frames"]))
        written -= set(seq["frames_without_image"])
        for frame in written:
            expected[f"{seq['subject']}_{seq['task']}_{frame:05d}"] = frame - 1 in written
    return expected


@pytest.fixture(scope="module")
def pairs_results():
    return _run(utils.BP4D_DUMMY, aligned=False, pairs=True)


def test_pairs_previous_image_is_frame_f_minus_1_cut_like_frame_f(pairs_results):
    examples = utils.examples_by_key(pairs_results)
    expected = _expected_has_previous()
    assert {key: bool(e["has_previous"]) for key, e in examples.items()} == expected
    assert sum(r.kept_without_previous for r in pairs_results) == sum(
        not v for v in expected.values()
    )
    found = layout.find_layout(utils.BP4D_DUMMY)
    spec = common.CropSpec(aligned=False, image_size=64, pairs=True)
    checked = 0
    for subject, task, csv in found.sequences:
        sequence = layout.make_task(found, subject, task, csv, spec)
        raw = layout.read_landmarks(sequence.landmarks_mat, common.SequenceResult())
        images = layout.index_images(sequence.image_dir)
        nearest = common.nearest_landmarks(sorted(images), raw)
        for frame in sorted(images):
            example = examples[f"{subject}_{task}_{frame:05d}"]
            points = raw.get(frame, nearest[frame])
            assert common.decode_reduction(points, spec) == 1  # 64 px faces: full-size decode
            matrix = common.box_matrix(points, 64)
            if not example["has_previous"]:
                assert example["previous_image"] == example["image"]
                continue
            # The same crop by hand: frame f - 1's file, frame f's face box.
            previous = utils.decode(images[frame - 1].read_bytes())
            by_hand = common.encode_jpeg(common.warp_face(previous, matrix, 64))
            assert example["previous_image"] == by_hand
            stored = utils.decode(example["previous_image"]).astype(np.float32)
            current = utils.decode(example["image"]).astype(np.float32)
            assert np.abs(stored - current).mean() > 1.0  # another frame, not a copy
            checked += 1
    assert checked == sum(expected.values())


def test_pairs_previous_of_the_frame_after_one_without_landmarks(pairs_results):
    # F001_T2 1246 has no landmarks: it is cut with the box of 1247, its nearest frame, so
    # frame 1247's previous_image (1246 cut with 1247's box) is exactly example 1246's image.
    seq = next(s for s in MANIFEST["sequences"] if s["frames_without_landmarks"])
    frame = seq["frames_without_landmarks"][0]
    assert frame == seq["first_frame"] and frame + 1 not in seq["frames_without_image"]
    examples = utils.examples_by_key(pairs_results)
    name = f"{seq['subject']}_{seq['task']}"
    after, before = examples[f"{name}_{frame + 1:05d}"], examples[f"{name}_{frame:05d}"]
    assert after["has_previous"] and not before["has_previous"]
    assert after["previous_image"] == before["image"]


def test_pairs_corrupt_previous_frame_is_kept_without_previous(tmp_path):
    root = tmp_path / "bp4d"
    shutil.copytree(utils.BP4D_DUMMY, root)
    images = layout.index_images(str(root / "Sequences/F004/T1"))
    images[2].write_bytes(images[2].read_bytes()[:300])  # truncated JPEG
    found = layout.find_layout(root)
    spec = common.CropSpec(aligned=False, image_size=32, pairs=True)
    csv = found.occurrence_root / "F004_T1.csv"
    result = layout.sequence_examples(layout.make_task(found, "F004", "T1", csv, spec))
    has_previous = {key: bool(e["has_previous"]) for key, e in result.examples}
    assert has_previous == {
        "F004_T1_00001": False,
        "F004_T1_00003": False,  # its previous frame is the corrupt one
        "F004_T1_00004": True,
    }
    assert result.kept_without_previous == 2
    assert [reason for reason, _ in result.skipped] == ["corrupt_image"]


def test_pairs_previous_frame_may_be_an_uncoded_image(tmp_path):
    # BP4D's folders hold frames without AU codes: drop frame 1715's label row, keep its image.
    root = tmp_path / "bp4d"
    shutil.copytree(utils.BP4D_DUMMY, root)
    occ = root / "AUCoding/AU_OCC/F003_T2.csv"
    lines = occ.read_text().splitlines()
    occ.write_text("\n".join(line for line in lines if not line.startswith("1715,")) + "\n")
    found = layout.find_layout(root)
    spec = common.CropSpec(aligned=False, image_size=32, pairs=True)
    task = layout.make_task(found, "F003", "T2", occ, spec)
    examples = dict(layout.sequence_examples(task).examples)
    assert sorted(examples) == ["F003_T2_01714", "F003_T2_01716", "F003_T2_01717"]
    example = examples["F003_T2_01716"]
    assert example["has_previous"]
    raw = layout.read_landmarks(task.landmarks_mat, common.SequenceResult())
    images = layout.index_images(task.image_dir)
    previous = utils.decode(images[1715].read_bytes())
    matrix = common.box_matrix(raw[1716], 32)
    assert example["previous_image"] == common.encode_jpeg(common.warp_face(previous, matrix, 32))


def test_pairs_config_build_and_flow_pipeline(tmp_path):
    assert "unaligned224_pairs" in bp4d_dataset_builder.Builder.builder_configs
    builder = utils.build("bp4d/unaligned224_pairs", utils.BP4D_DUMMY, tmp_path)
    assert {k: v.num_examples for k, v in builder.info.splits.items()} == UNALIGNED_SPLITS
    summary = builder.info.metadata["build_summary"]
    assert summary["kept_without_previous"] == sum(not v for v in _expected_has_previous().values())
    assert summary["skipped"] == {"missing_image": 5}
    features = builder.info.features
    assert features["previous_image"].shape == features["image"].shape == (224, 224, 3)
    utils.check_flow_inputs(builder, "part3", num_aus=len(layout.STANDARD_AUS))
    plain = tfds.builder("bp4d/unaligned224", data_dir=str(tmp_path))
    assert "previous_image" not in plain.info.features
