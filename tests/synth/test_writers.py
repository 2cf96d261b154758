"""SynthAU writers: read back with plain csv / h5py / scipy / cv2, quirks included."""

import csv
import dataclasses
import hashlib
import json
from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest
import scipy.io

from tfau.cli.main import main
from tfau.synth import (
    ALL_AUS,
    BP4D_AUS,
    BP4D_INTENSITY_AUS,
    BP4D_SUBJECTS,
    DISFA_CODED_AUS,
    DISFA_SUBJECTS,
    DISFA_VIEWS,
    PRESETS,
    SynthAU,
    read_bp4d_landmarks,
    read_manifest,
    write_bp4d,
    write_disfa,
)
from tfau.synth.writers import scaled_size

SCALE = 0.125  # 130 x 174 BP4D frames, 128 x 96 DISFA frames: fast and still a face


@pytest.fixture(scope="module")
def bp4d(tmp_path_factory):
    root = tmp_path_factory.mktemp("bp4d")
    manifest = write_bp4d(root, size="tiny", seed=3, scale=SCALE, progress=False)
    return root, manifest


@pytest.fixture(scope="module")
def disfa(tmp_path_factory):
    root = tmp_path_factory.mktemp("disfa")
    manifest = write_disfa(root, size="tiny", seed=3, scale=SCALE, progress=False)
    return root, manifest


def _read_rows(path):
    with open(path, newline="") as f:
        return [[int(v) for v in row] for row in csv.reader(f)]


def _lossy_distance(decoded: np.ndarray, rendered: np.ndarray) -> float:
    """Mean absolute difference after a blur (JPEG/MJPG drop the sensor noise's detail)."""
    blur = lambda x: cv2.GaussianBlur(x.astype(np.float32), (5, 5), 0)  # noqa: E731
    return float(np.abs(blur(decoded) - blur(rendered)).mean())


def _tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_presets_use_real_names_and_cover_every_part():
    for preset in PRESETS.values():
        assert set(preset.bp4d_subjects) <= set(BP4D_SUBJECTS)
        assert set(preset.disfa_subjects) <= set(DISFA_SUBJECTS)
    assert len(BP4D_SUBJECTS) == 41 and len(DISFA_SUBJECTS) == 27
    assert {"SN014", "SN015", "SN019", "SN020", "SN022"}.isdisjoint(DISFA_SUBJECTS)
    assert PRESETS["demo"].bp4d_subjects == BP4D_SUBJECTS
    assert PRESETS["demo"].disfa_subjects == DISFA_SUBJECTS
    assert "SN010" in PRESETS["tiny"].disfa_subjects  # the short-label quirk is exercised
    assert scaled_size((1040, 1392), 0.25) == (260, 348)
    assert scaled_size((1024, 768), 0.25) == (256, 192)


def test_bp4d_manifest_counts(bp4d):
    root, manifest = bp4d
    assert read_manifest(root) == manifest
    preset = PRESETS["tiny"]
    seqs = manifest["sequences"]
    assert [(s["subject"], s["task"]) for s in seqs] == [
        (s, t) for s in preset.bp4d_subjects for t in preset.bp4d_tasks
    ]
    totals = manifest["totals"]
    assert totals["coded_frames"] == len(seqs) * preset.bp4d_frames
    # Every quirk is present somewhere.
    assert totals["unknown_labels"] > 0
    assert totals["images"] < totals["coded_frames"]
    assert totals["frames_with_landmarks"] < totals["coded_frames"]
    assert {s["padding"] for s in seqs} == {"plain", "zero4"}
    assert {s["first_frame"] == 1 for s in seqs} == {True, False}


def test_bp4d_files_read_back_match_the_generator(bp4d):
    root, manifest = bp4d
    gen = SynthAU("bp4d", image_size=tuple(manifest["image_size"]), seed=3)
    assert tuple(manifest["image_size"]) == scaled_size((1040, 1392), SCALE)
    images_seen = 0
    for info in manifest["sequences"]:
        subject, task, n = info["subject"], info["task"], info["num_frames"]
        seq = gen.sequence(subject, task, n)
        frames = list(range(info["first_frame"], info["first_frame"] + n))
        unknown = {(u["frame"], u["au"]) for u in info["unknown_labels"]}

        # Images: frame-number names, padding as the manifest says, some coded frames missing.
        folder = root / "Sequences" / subject / task
        names = sorted(p.name for p in folder.glob("*.jpg"))
        by_frame = {int(Path(name).stem): name for name in names}
        assert set(by_frame) == set(frames) - set(info["frames_without_image"])
        for frame, name in by_frame.items():
            expected = f"{frame:04d}.jpg" if info["padding"] == "zero4" else f"{frame}.jpg"
            assert name == expected
            image = cv2.imread(str(folder / name))[:, :, ::-1]
            assert image.shape == (*manifest["image_size"][::-1], 3)
            assert _lossy_distance(image, seq.frame(frame - frames[0])) < 1.5
            images_seen += 1

        # AU_OCC: integer header 0..99, frame column, 0/1 with 9 = unknown; others 9.
        rows = _read_rows(root / "AUCoding" / "AU_OCC" / f"{subject}_{task}.csv")
        header, body = rows[0], np.array(rows[1:])
        assert header == list(range(100))
        assert body[:, 0].tolist() == frames
        occurrence = seq.occurrence(BP4D_AUS)
        for k, au in enumerate(BP4D_AUS):
            for t, frame in enumerate(frames):
                expected = 9 if (frame, au) in unknown else occurrence[t, k]
                assert body[t, au] == expected
        uncoded = [c for c in range(1, 100) if c not in BP4D_AUS]
        assert (body[:, uncoded] == 9).all()
        assert (body[:, list(BP4D_AUS)] == 9).sum() == len(unknown)

        # AU_INT: frame,intensity rows matching AU_OCC one to one.
        for au in BP4D_INTENSITY_AUS:
            path = root / "AUCoding" / "AU_INT" / f"AU{au:02d}" / f"{subject}_{task}_AU{au:02d}.csv"
            rows = np.array(_read_rows(path))
            assert rows[:, 0].tolist() == frames
            labels = seq.labels[:, ALL_AUS.index(au)]
            for t, frame in enumerate(frames):
                expected = 9 if (frame, au) in unknown else labels[t]
                assert rows[t, 1] == expected
                assert (rows[t, 1] >= 1) == (body[t, au] == 1) or rows[t, 1] == 9

        # 2DFeatures: MATLAB v7.3 read with h5py exactly as the real files.
        mat = root / "2DFeatures" / f"{subject}_{task}.mat"
        assert scipy.io.matlab.matfile_version(str(mat)) == (2, 0)
        assert mat.read_bytes()[:19] == b"MATLAB 7.3 MAT-file"
        with h5py.File(mat, "r") as f:
            assert f.userblock_size == 512
            assert f["fit"].attrs["MATLAB_class"] == b"struct"
            pred = f["fit/pred"]
            assert pred.attrs["MATLAB_class"] == b"cell"
            assert pred.shape == (frames[-1], 1)
            for t, frame in enumerate(frames):
                data = f[pred[frame - 1, 0]]
                assert data.attrs["MATLAB_class"] == b"double"
                if frame in info["frames_without_landmarks"]:
                    assert data.shape == (2,) and data.attrs["MATLAB_empty"] == 1
                else:
                    assert data.shape == (2, 49)
                    np.testing.assert_allclose(data[()].T - 1.0, seq.landmarks49[0, t], atol=1e-4)
            if frames[0] > 1:
                assert f[pred[0, 0]].shape == (2,)
        lm = read_bp4d_landmarks(mat)
        assert sorted(lm) == [f - 1 for f in frames if f not in info["frames_without_landmarks"]]
    assert images_seen == manifest["totals"]["images"]


def test_fera2015_variant_folder_names(tmp_path):
    manifest = write_bp4d(tmp_path, size="tiny", seed=3, scale=SCALE, fera2015=True, progress=False)
    assert manifest["variant"] == "fera2015"
    assert not (tmp_path / "Sequences").exists()
    assert not (tmp_path / "AUCoding" / "AU_OCC").exists()
    info = manifest["sequences"][0]
    s, t = info["subject"], info["task"]
    assert len(list((tmp_path / "BP4D-training" / s / t).glob("*.jpg"))) > 0
    assert (tmp_path / "AUCoding" / f"{s}_{t}.csv").is_file()
    assert (tmp_path / "AU Intensity Codes3.0" / "AU06" / f"{s}_{t}_AU06.csv").is_file()
    assert (tmp_path / "2DFeatures" / f"{s}_{t}.mat").is_file()


def test_disfa_files_read_back_match_the_generator(disfa):
    root, manifest = disfa
    assert read_manifest(root) == manifest
    gen = SynthAU(
        "disfa",
        image_size=tuple(manifest["image_size"]),
        seed=3,
        views=DISFA_VIEWS,
        face_width=0.34,
    )
    schemes, folders = set(), set()
    for info in manifest["subjects"]:
        subject, n = info["subject"], info["video_frames"]
        seq = gen.sequence(subject, "", n)
        videos = (
            root / "Videos_LeftCamera" / f"LeftVideo{subject}_comp.avi",
            root / "Video_RightCamera" / f"RightVideo{subject}_Comp.avi",
        )
        for view, path in enumerate(videos):
            capture = cv2.VideoCapture(str(path))
            frames = []
            while True:
                ok, frame = capture.read()
                if not ok:
                    break
                frames.append(frame[:, :, ::-1])
            capture.release()
            assert len(frames) == n
            for t in (0, n - 1):
                assert _lossy_distance(frames[t], seq.frame(t, view)) < 2.0
            assert _lossy_distance(frames[0], seq.frame(0, 1 - view)) > 4.0

        # Labels: one file per AU, 1-based "frame,intensity" lines; SN010 one line short.
        expected_lines = n - 1 if subject == "SN010" else n
        assert info["label_lines"] == expected_lines
        files = sorted((root / "ActionUnit_Labels" / subject).glob("*.txt"))
        assert sorted(p.name for p in files) == sorted(
            f"{subject}_au{au}.txt" for au in DISFA_CODED_AUS
        )
        for au in DISFA_CODED_AUS:
            rows = np.array(
                _read_rows(root / "ActionUnit_Labels" / subject / f"{subject}_au{au}.txt")
            )
            assert rows.shape == (expected_lines, 2)
            assert rows[:, 0].tolist() == list(range(1, expected_lines + 1))
            np.testing.assert_array_equal(
                rows[:, 1], seq.labels[:expected_lines, ALL_AUS.index(au)]
            )

        # Landmarks: per-frame v5 .mat files, pts 66 x 2 1-based, two naming schemes, gaps.
        files = sorted((root / "Landmark_Points" / subject).glob("*/*_lm.mat"))
        assert len(files) == n - len(info["missing_landmarks"])
        folders.add(files[0].parent.name)
        present = set()
        for path in files:
            stem = path.name[: -len("_lm.mat")]
            if stem.startswith(subject):
                frame = int(stem.split("_")[1]) + 1
                schemes.add("SN")
            else:
                assert stem.startswith("l0")
                frame = int(stem[2:])
                schemes.add("l0")
            present.add(frame)
            pts = scipy.io.loadmat(str(path))["pts"]
            assert pts.shape == (66, 2)
            np.testing.assert_allclose(pts - 1.0, seq.landmarks66[0, frame - 1], atol=1e-4)
        assert present == set(range(1, n + 1)) - set(info["missing_landmarks"])
    assert schemes == {"SN", "l0"}
    assert "tmp_frame_lm" in folders
    totals = manifest["totals"]
    assert totals["label_lines"] == sum(s["label_lines"] for s in manifest["subjects"])
    assert totals["landmark_files"] < totals["video_frames"]


def test_same_seed_same_bytes(tmp_path, bp4d):
    root, _ = bp4d
    write_bp4d(tmp_path / "again", size="tiny", seed=3, scale=SCALE, progress=False)
    assert _tree_digest(tmp_path / "again") == _tree_digest(root)
    other = write_bp4d(tmp_path / "other", size="tiny", seed=4, scale=SCALE, progress=False)
    digest = _tree_digest(tmp_path / "other")
    assert digest != _tree_digest(root)
    assert other["seed"] == 4


def test_cli_writes_a_layout(tmp_path, capsys):
    out = tmp_path / "cli"
    code = main(
        [
            "synth",
            "--layout",
            "disfa",
            "--out",
            str(out),
            "--size",
            "tiny",
            "--seed",
            "2",
            "--scale",
            str(SCALE),
            "--workers",
            "1",
            "--quiet",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "SynthAU disfa (tiny, seed 2) written to" in printed
    manifest = json.loads((out / "synthau_manifest.json").read_text())
    assert manifest["layout"] == "disfa" and manifest["seed"] == 2
    assert len(manifest["subjects"]) == 3


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match=r"Unknown size 'huge'\. Expected one of: tiny"):
        write_bp4d(tmp_path, size="huge")
    with pytest.raises(ValueError, match=r"`scale` must be between 0.02 and 1. Received: scale=2"):
        write_disfa(tmp_path, scale=2)
    with pytest.raises(FileNotFoundError, match="No SynthAU manifest at"):
        read_manifest(tmp_path / "nothing")


@pytest.mark.slow
def test_parallel_writing_gives_the_same_bytes(tmp_path, bp4d):
    root, _ = bp4d
    write_bp4d(tmp_path, size="tiny", seed=3, scale=SCALE, workers=2, progress=False)
    assert _tree_digest(tmp_path) == _tree_digest(root)


def test_write_video_round_trips_through_opencv(tmp_path):
    from tfau.synth import SynthAU, write_video

    seq = SynthAU("bp4d", image_size=(160, 120), seed=2).sequence("F004", "T9", 5)
    path = write_video(tmp_path / "sub" / "clip.avi", seq, fps=25.0)
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    assert capture.get(cv2.CAP_PROP_FPS) == 25.0
    assert len(frames) == 5 and frames[0].shape == (120, 160, 3)
    # MJPG is lossy: the decoded frame is close to the rendered one (BGR on disk).
    error = np.abs(frames[3][..., ::-1].astype(float) - seq.frame(3).astype(float)).mean()
    assert error < 6.0
    with pytest.raises(OSError, match="cannot write an MJPG AVI"):
        write_video(tmp_path, seq)  # a folder, not a file


def test_write_video_plays_several_sequences_one_after_another(tmp_path):
    from tfau.synth import SynthAU, write_video

    gen = SynthAU("bp4d", image_size=(160, 120), seed=2)
    session = [gen.sequence("F004", "T1", 3), gen.sequence("F004", "T2", 4)]
    capture = cv2.VideoCapture(str(write_video(tmp_path / "session.avi", session)))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame[..., ::-1].astype(float))
    rendered = [seq.frame(t).astype(float) for seq in session for t in range(seq.num_frames)]
    assert len(frames) == 7
    # T1's frames, then T2's: each decoded frame is close to the one rendered at its place
    # and nearest to a frame of its own task (each task has its own backdrop).
    task = [0, 0, 0, 1, 1, 1, 1]
    for i, frame in enumerate(frames):
        errors = [np.abs(frame - other).mean() for other in rendered]
        assert errors[i] < 6.0 and task[int(np.argmin(errors))] == task[i]
    with pytest.raises(ValueError, match=r"share a frame size. Received sizes: \[\(160, 120\), "):
        other = SynthAU("bp4d", image_size=(200, 150), seed=2).sequence("F004", "T1", 2)
        write_video(tmp_path / "mixed.avi", [session[0], other])
    with pytest.raises(ValueError, match="at least one SynthSequence"):
        write_video(tmp_path / "empty.avi", [])
    assert not (tmp_path / "mixed.avi").exists() and not (tmp_path / "empty.avi").exists()


def test_bp4d_preset_sets_episode_length_and_au_size(tmp_path):
    """Shorter episodes give consecutive coded frames different labels; au_scale moves faces."""
    one = dataclasses.replace(
        PRESETS["tiny"], bp4d_subjects=("F001",), bp4d_tasks=("T1",), bp4d_frames=40
    )

    def written(name, **changes):
        root = tmp_path / name
        manifest = write_bp4d(root, size=dataclasses.replace(one, **changes), progress=False)
        labels = np.loadtxt(root / "AUCoding" / "AU_OCC" / "F001_T1.csv", delimiter=",", skiprows=1)
        return manifest, labels[:, list(BP4D_AUS)]

    long_manifest, long_labels = written("long")
    short_manifest, short_labels = written("short", bp4d_episode_frames=1.0)
    assert (long_manifest["episode_frames"], short_manifest["episode_frames"]) == (10.0, 1.0)

    def changes(labels):
        known = (labels[1:] != 9) & (labels[:-1] != 9)
        return int(((labels[1:] != labels[:-1]) & known).sum())

    assert changes(short_labels) > 3 * changes(long_labels)
    big_manifest, _ = written("big", au_scale=2.0)
    assert big_manifest["au_scale"] == 2.0
    images = {name: _tree_digest(tmp_path / name / "Sequences") for name in ("long", "big")}
    assert images["long"].keys() == images["big"].keys()
    differ = [k for k in images["long"] if images["long"][k] != images["big"][k]]
    assert len(differ) > len(images["long"]) // 2
    with pytest.raises(
        ValueError,
        match=r"`bp4d_episode_frames` must be positive\. Received: bp4d_episode_frames=0\.0",
    ):
        dataclasses.replace(one, bp4d_episode_frames=0.0)
    with pytest.raises(ValueError, match=r"`au_scale` must be positive\. Received: au_scale=-1\.0"):
        dataclasses.replace(one, au_scale=-1.0)
