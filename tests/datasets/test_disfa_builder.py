"""disfa builder on dummy data written by the SynthAU DISFA writer (make_dummy_data).

The dummy data holds SN001 and SN010 (part1), SN006 (part2), SN003 (part3): both landmark
naming schemes, both landmark sub-folder names, missing landmark files and SN010's short
label files, as listed in the writer's manifest.
"""

from __future__ import annotations

import cv2
import dataset_test_utils as utils
import numpy as np
import pytest
import tensorflow_datasets as tfds
import tfau.datasets  # noqa: F401  (registers the builders)
from tfau.datasets import common, make_dummy_data
from tfau.datasets.disfa import disfa_dataset_builder, layout

from tfau.faces import convert_landmarks
from tfau.synth import DISFA_VIEWS, SynthAU, write_disfa_landmarks

MANIFEST = utils.manifest(utils.DISFA_DUMMY)
SUBJECTS = {entry["subject"]: entry for entry in MANIFEST["subjects"]}
PART_OF = {s: part for part, subjects in layout.PARTS.items() for s in subjects}


def _expected_counts(aligned: bool) -> dict[str, int]:
    counts = dict.fromkeys(layout.PARTS, 0)
    for entry in MANIFEST["subjects"]:
        labelled = range(1, min(entry["label_lines"], entry["video_frames"]) + 1)
        missing = set(entry["missing_landmarks"]) if aligned else set()
        counts[PART_OF[entry["subject"]]] += sum(f not in missing for f in labelled)
    return counts


class DisfaAlignedTest(utils.SerialBuilderMixin, tfds.testing.DatasetBuilderTestCase):
    """Left (default) and right camera, aligned 200: frames without landmarks skipped."""

    DATASET_CLASS = disfa_dataset_builder.Builder
    # TFDS finds dummy_data from the module name, which an editable install maps elsewhere.
    EXAMPLE_DIR = str(utils.DISFA_DUMMY)
    BUILDER_CONFIG_NAMES_TO_TEST = ["aligned200"]  # noqa: RUF012
    SPLITS = {"part1": 5, "part2": 4, "part3": 4}  # noqa: RUF012


#: Unaligned: every labelled frame is kept (checked with a plain build below).
UNALIGNED_SPLITS = {"part1": 9, "part2": 5, "part3": 5}


def _generator_sequence(subject: str):
    """The SynthAU sequence the writer rendered for ``subject``."""
    width, height = MANIFEST["image_size"]
    generator = SynthAU(
        "disfa",
        image_size=(width, height),
        seed=make_dummy_data.SEED,
        views=DISFA_VIEWS,
        face_width=0.34,
    )
    return generator.sequence(subject, "", SUBJECTS[subject]["video_frames"])


def _run(aligned: bool, camera: str = "left") -> dict[str, common.SequenceResult]:
    found = layout.find_layout(utils.DISFA_DUMMY, camera=camera)
    crop = common.CropSpec(aligned=aligned, image_size=64)
    return {s: layout.subject_examples(layout.make_task(found, s, crop)) for s in found.subjects}


@pytest.fixture(scope="module")
def unaligned():
    return _run(aligned=False)


def test_split_counts_follow_the_manifest():
    assert _expected_counts(aligned=True) == DisfaAlignedTest.SPLITS
    assert _expected_counts(aligned=False) == UNALIGNED_SPLITS


@pytest.mark.parametrize("subject", ["SN003", "SN006", "SN001"])
def test_both_landmark_naming_schemes_and_folders(subject):
    entry = SUBJECTS[subject]
    task = layout.make_task(
        layout.find_layout(utils.DISFA_DUMMY), subject, common.CropSpec(True, 64)
    )
    files = layout.index_landmarks(task.landmark_dir)
    assert all(path.parent.name == entry["landmark_folder"] for path in files.values())
    expected_frames = set(range(1, entry["video_frames"] + 1)) - set(entry["missing_landmarks"])
    assert set(files) == expected_frames
    # Frame numbers come from the names: a wrong offset would shift the set off the
    # manifest's missing frames. Every file holds 66 finite points.
    for path in files.values():
        points = layout.read_landmarks66(path, common.SequenceResult())
        assert points.shape == (66, 2) and np.isfinite(points).all()


@pytest.mark.parametrize(
    ("name", "frame"), [("SN007_0009_lm.mat", 10), ("l00010_lm.mat", 10), ("l0010_lm.mat", 10)]
)
def test_landmark_file_contents_are_one_based(tmp_path, name, frame):
    points = np.random.default_rng(frame).uniform(0, 100, (66, 2))  # 0-based
    folder = tmp_path / "SN007" / "some_folder"
    folder.mkdir(parents=True)
    write_disfa_landmarks(folder / name, points)  # stores 1-based, as DISFA does
    files = layout.index_landmarks(str(tmp_path / "SN007"))
    assert list(files) == [frame]
    read = layout.read_landmarks66(files[frame], common.SequenceResult())
    np.testing.assert_allclose(read, points, atol=1e-4)


def test_landmark_file_names():
    assert layout.landmark_frame("SN001_0000_lm.mat") == 1
    assert layout.landmark_frame("SN001_4844_lm.mat") == 4845
    assert layout.landmark_frame("l00001_lm.mat") == 1
    assert layout.landmark_frame("l04845_lm.mat") == 4845
    assert layout.landmark_frame("SN001_au1.txt") is None


def test_sn010_is_one_line_short(unaligned):
    result = unaligned["SN010"]
    assert [key for key, _ in result.examples] == [f"SN010_{f:05d}" for f in range(1, 5)]
    assert [reason for reason, _ in result.skipped] == ["no_label_line"]
    assert result.skipped[0][1].endswith("LeftVideoSN010_comp.avi: video frame 4")
    assert not unaligned["SN003"].skipped


def test_label_frame_f_is_video_frame_f_minus_1(unaligned):
    subject = "SN003"
    video_path = utils.DISFA_DUMMY / "Videos_LeftCamera" / f"LeftVideo{subject}_comp.avi"
    capture = cv2.VideoCapture(str(video_path))
    video = []
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        video.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    capture.release()
    examples = dict(unaligned[subject].examples)
    spec = common.CropSpec(aligned=False, image_size=64)
    frame = 3
    example = examples[f"{subject}_{frame:05d}"]
    files = layout.index_landmarks(str(utils.DISFA_DUMMY / "Landmark_Points" / subject))
    points = layout.read_landmarks66(files[frame], common.SequenceResult())
    same = common.crop_face(video[frame - 1], convert_landmarks(points, 49), spec)
    later = common.crop_face(video[frame], convert_landmarks(points, 49), spec)
    assert example["image"] == same["image"]
    assert example["image"] != later["image"]


def test_occurrence_is_intensity_at_least_2(unaligned):
    examples = [example for result in unaligned.values() for _, example in result.examples]
    for example in examples:
        for k, au in enumerate(layout.STANDARD_AUS):
            assert example["au"][k] == int(example["au_intensity"][au - 1] >= 2)
        assert example["au_full_mask"].sum() == len(layout.CODED_AUS)
    label_dir = utils.DISFA_DUMMY / "ActionUnit_Labels" / "SN006"
    for au in layout.CODED_AUS:
        lines = (label_dir / f"SN006_au{au}.txt").read_text().split()
        values = dict(line.split(",") for line in lines)
        for key, example in unaligned["SN006"].examples:
            frame = key.split("_")[1].lstrip("0")
            assert example["au_intensity"][au - 1] == int(values[frame])


def test_unaligned_keeps_frames_without_landmarks(unaligned):
    result = unaligned["SN001"]
    assert result.kept_without_landmarks == len(SUBJECTS["SN001"]["missing_landmarks"])
    for key, example in result.examples:
        frame = int(key.split("_")[1])
        missing = frame in SUBJECTS["SN001"]["missing_landmarks"]
        assert example["has_landmarks"] == (not missing)
        assert np.any(example["landmarks66"] != 0) == (not missing)


def test_right_camera_registers_left_landmarks():
    for subject in ("SN003", "SN006"):
        task = layout.make_task(
            layout.find_layout(utils.DISFA_DUMMY, camera="right"),
            subject,
            common.CropSpec(True, 64),
        )
        assert task.video.endswith(f"RightVideo{subject}_Comp.avi")
        assert task.landmark_video.endswith(f"LeftVideo{subject}_comp.avi")
        truth = _generator_sequence(subject).landmarks66
        landmarks = {
            f: layout.read_landmarks66(p, common.SequenceResult())
            for f, p in layout.index_landmarks(task.landmark_dir).items()
        }
        shift = layout.stereo_offset(task.landmark_video, task.video, landmarks)
        true_shift = (truth[1] - truth[0]).mean(axis=(0, 1))
        face_width = np.ptp(truth[0][..., 0], axis=-1).mean()
        # Approximate: the right camera sees the face from another angle.
        assert np.abs(shift - true_shift).max() < 0.2 * face_width


def test_built_unaligned_splits(tmp_path):
    builder = utils.build("disfa/unaligned224", utils.DISFA_DUMMY, tmp_path)
    assert {k: v.num_examples for k, v in builder.info.splits.items()} == UNALIGNED_SPLITS
    summary = builder.info.metadata["build_summary"]
    assert summary["skipped"] == {"no_label_line": 1}
    assert summary["kept_without_landmarks"] == sum(
        sum(f <= e["label_lines"] for f in e["missing_landmarks"]) for e in MANIFEST["subjects"]
    )
    example = next(iter(tfds.as_numpy(builder.as_dataset(split="part3").take(1))))
    assert example["image"].shape == (224, 224, 3)
    assert example["landmarks66"].shape == (66, 2)
    assert example["au"].shape == (8,)


def test_bad_manual_dir_fails_fast(tmp_path):
    (tmp_path / "ActionUnit_Labels" / "SN001").mkdir(parents=True)
    with pytest.raises(
        common.ManualDirError,
        match=r"(?s)not a DISFA manual_dir\. Missing:.*left camera videos: "
        r"Videos_LeftCamera or Video_LeftCamera/LeftVideoSNxxx_comp\.avi.*Landmark_Points"
        r".*Found: .* contains: ActionUnit_Labels/",
    ):
        layout.find_layout(tmp_path)
    with pytest.raises(common.ManualDirError, match="right camera videos: Video_RightCamera"):
        layout.find_layout(tmp_path, camera="right")


# --------------------------------------------------------------------------------------------
# unaligned224_pairs: the previous video frame for AUNets' optical flow


def _video(subject: str) -> list[np.ndarray]:
    """Every frame of the subject's left video, RGB, decoded by hand."""
    capture = cv2.VideoCapture(
        str(utils.DISFA_DUMMY / "Videos_LeftCamera" / f"LeftVideo{subject}_comp.avi")
    )
    frames = []
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    capture.release()
    return frames


@pytest.mark.parametrize("subject", ["SN003", "SN010"])
def test_pairs_previous_image_is_video_frame_f_minus_2_cut_like_frame_f(subject):
    spec = common.CropSpec(aligned=False, image_size=64, pairs=True)
    task = layout.make_task(layout.find_layout(utils.DISFA_DUMMY), subject, spec)
    result = layout.subject_examples(task)
    video = _video(subject)
    landmarks = {
        frame: convert_landmarks(layout.read_landmarks66(path, common.SequenceResult()), 49)
        for frame, path in layout.index_landmarks(task.landmark_dir).items()
    }
    labelled = range(1, SUBJECTS[subject]["label_lines"] + 1)
    nearest = common.nearest_landmarks(list(labelled), landmarks)
    examples = dict(result.examples)
    assert sorted(examples) == [f"{subject}_{frame:05d}" for frame in labelled]
    for frame in labelled:
        example = examples[f"{subject}_{frame:05d}"]
        assert example["has_previous"] == (frame > 1)
        matrix = common.box_matrix(nearest[frame], 64)  # the frame's own (or nearest) box
        assert example["image"] == common.encode_jpeg(
            common.warp_face(video[frame - 1], matrix, 64)
        )
        if frame == 1:
            assert example["previous_image"] == example["image"]
            continue
        by_hand = common.encode_jpeg(common.warp_face(video[frame - 2], matrix, 64))
        assert example["previous_image"] == by_hand
        assert example["previous_image"] != example["image"]
    assert result.kept_without_previous == 1


def test_pairs_config_build_and_flow_pipeline(tmp_path):
    assert "unaligned224_pairs" in disfa_dataset_builder.Builder.builder_configs
    builder = utils.build("disfa/unaligned224_pairs", utils.DISFA_DUMMY, tmp_path)
    assert {k: v.num_examples for k, v in builder.info.splits.items()} == UNALIGNED_SPLITS
    summary = builder.info.metadata["build_summary"]
    assert summary["kept_without_previous"] == len(MANIFEST["subjects"])  # label frame 1 each
    assert summary["skipped"] == {"no_label_line": 1}
    features = builder.info.features
    assert features["previous_image"].shape == features["image"].shape == (224, 224, 3)
    utils.check_flow_inputs(builder, "part1", num_aus=len(layout.STANDARD_AUS))
