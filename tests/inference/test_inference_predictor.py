"""Predictor and `tfau predict`: CSV rows per frame and face, smoothing, bad input."""

import csv

import cv2
import numpy as np
import pytest
from inference_test_utils import AUS, BLANK, MEAN, NUM_FRAMES

from tfau.cli.main import main as cli_main
from tfau.faces.alignment import keypoints_from_landmarks
from tfau.faces.schemes import inter_ocular_distance
from tfau.inference import Predictor, csv_columns, load_model, median_smooth

NAMES = ["AU01", "AU02", "AU04"]


def read_csv(path):
    with open(path, newline="") as file:
        rows = list(csv.reader(file))
    return rows[0], [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


@pytest.fixture(scope="module")
def drml(drml_saved_model):
    return load_model(drml_saved_model)


def probabilities(rows):
    return np.array([[float(r[f"{n}_p"]) for n in NAMES] for r in rows])


def test_csv_columns():
    assert csv_columns(["AU01", "AU12"], 2) == [
        "frame", "face_id", "timestamp", "confidence", "success",
        "x_0", "x_1", "y_0", "y_1", "AU01_p", "AU12_p", "AU01_c", "AU12_c",
    ]  # fmt: skip


def test_video_rows_smoothing_and_faceless_frames(tmp_path, drml, synth_video, synth_sequence):
    # Without the 68 landmarks: the CSV holds the five tracked key points.
    raw = Predictor(drml, smoothing=1, batch_size=4, detect_every=4, landmarks=False)
    summary = raw.predict_video(synth_video, tmp_path / "raw.csv")
    header, rows = read_csv(tmp_path / "raw.csv")
    assert header == csv_columns(NAMES, 5)
    assert [int(r["frame"]) for r in rows] == list(range(1, NUM_FRAMES + 1))
    assert summary.frames == NUM_FRAMES and summary.frames_without_face == len(BLANK)
    assert summary.face_rows == NUM_FRAMES - len(BLANK) and summary.face_ids == 1
    for t, row in enumerate(rows):
        assert float(row["timestamp"]) == pytest.approx(t / 25, abs=1e-3)
        if t in BLANK:
            # Never dropped: face_id -1, success 0, zeros, as OpenFace writes failed frames.
            assert (row["face_id"], row["success"], row["confidence"]) == ("-1", "0", "0")
            assert {row[f"{n}_p"] for n in NAMES} == {"0"}
            continue
        assert (row["face_id"], row["success"]) == ("0", "1")
        keypoints = np.array([[float(row[f"x_{i}"]), float(row[f"y_{i}"])] for i in range(5)])
        landmarks = synth_sequence.landmarks49[0, t]
        error = np.linalg.norm(keypoints - keypoints_from_landmarks(landmarks), axis=1)
        assert error.max() < 0.2 * inter_ocular_distance(landmarks)

    smoothed = Predictor(drml, smoothing=5, batch_size=3, detect_every=4, landmarks=False)
    smoothed.predict_video(synth_video, tmp_path / "smooth.csv")
    _, smooth_rows = read_csv(tmp_path / "smooth.csv")
    faces = [t for t in range(NUM_FRAMES) if t not in BLANK]
    p_raw = probabilities([rows[t] for t in faces])
    p_smooth = probabilities([smooth_rows[t] for t in faces])
    # The blank frames split the track into two segments, smoothed separately.
    split = faces.index(BLANK[-1] + 1)
    expected = np.concatenate([median_smooth(p_raw[:split], 5), median_smooth(p_raw[split:], 5)])
    np.testing.assert_allclose(p_smooth, expected, atol=2e-4)  # 4 decimals in the CSV
    occurrence = np.array([[int(smooth_rows[t][f"{n}_c"]) for n in NAMES] for t in faces])
    np.testing.assert_array_equal(occurrence, p_smooth >= drml.threshold)


def test_images_folder_and_single_image(tmp_path, drml, synth_frames):
    folder = tmp_path / "images"
    folder.mkdir()
    for k, t in enumerate([0, BLANK[0], 1]):
        cv2.imwrite(str(folder / f"img_{k}.png"), cv2.cvtColor(synth_frames[t], cv2.COLOR_RGB2BGR))
    predictor = Predictor(drml, detect_every=1)
    summary = predictor.predict_images(folder, tmp_path / "images.csv", sequence=False)
    _, rows = read_csv(tmp_path / "images.csv")
    assert [r["success"] for r in rows] == ["1", "0", "1"]
    assert summary.frames_without_face == 1
    single = predictor.predict_images(folder / "img_1.png", tmp_path / "one.csv")
    _, rows = read_csv(tmp_path / "one.csv")
    assert len(rows) == 1 and rows[0]["success"] == "0" and single.face_rows == 0


def test_jaanet_writes_its_49_landmarks(tmp_path, synth_frames, jaanet):
    # Without the 68 landmarks (with them: test_inference_served.py).
    predictor = Predictor(jaanet, batch_size=2, landmarks=False)
    predictor.predict_frames(synth_frames[:3], tmp_path / "jaanet.csv")
    header, rows = read_csv(tmp_path / "jaanet.csv")
    assert header[5:7] == ["x_0", "x_1"] and "x_48" in header and "y_48" in header
    assert len(rows) == 3 and "AU24_c" in header
    # The landmarks are the network's, mapped from the aligned face back to the frame.
    for row in rows:
        points = np.array([[float(row[f"x_{i}"]), float(row[f"y_{i}"])] for i in range(49)])
        assert np.isfinite(points).all() and len(np.unique(points.round(2), axis=0)) > 1


def test_bad_input(tmp_path, drml, drml_keras):
    predictor = Predictor(drml)
    empty = tmp_path / "empty.avi"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=r"(Cannot open the video|holds no readable frame)"):
        predictor.predict_video(empty, tmp_path / "out.csv")
    text = tmp_path / "text.mp4"
    text.write_text("this is not a video\n" * 100)
    with pytest.raises(ValueError, match=r"Cannot open the video .*text\.mp4|no readable frame"):
        predictor.predict_video(text, tmp_path / "out.csv")
    with pytest.raises(FileNotFoundError, match=r"No video file at"):
        predictor.predict_video(tmp_path / "missing.mp4", tmp_path / "out.csv")
    unreadable = tmp_path / "broken.png"
    unreadable.write_bytes(b"\x89PNG broken")
    with pytest.raises(ValueError, match=r"Cannot read the image .*broken\.png"):
        predictor.predict_images(unreadable, tmp_path / "out.csv")
    (tmp_path / "nothing").mkdir()
    with pytest.raises(ValueError, match=r"The folder .*nothing.* holds no images"):
        predictor.predict_images(tmp_path / "nothing", tmp_path / "out.csv")
    with pytest.raises(ValueError, match=r"`smoothing`|`window` must be a positive odd"):
        Predictor(drml, smoothing=4)
    with pytest.raises(ValueError, match=r"`aus`, `model_name` and `mean` apply when loading"):
        Predictor(drml, aus=AUS)


def test_rows_before_an_error_are_kept(tmp_path, drml, synth_frames):
    def frames():
        yield from synth_frames[:5]
        raise OSError("camera unplugged")

    predictor = Predictor(drml, batch_size=2, smoothing=3)
    with pytest.raises(OSError, match="camera unplugged"):
        predictor.predict_frames(frames(), tmp_path / "partial.csv")
    _, rows = read_csv(tmp_path / "partial.csv")
    # The input failed after 5 frames: all 5 are predicted and written, then it raises.
    assert [r["frame"] for r in rows] == ["1", "2", "3", "4", "5"]
    assert all(r["success"] == "1" for r in rows)


def test_rows_before_a_network_error_are_kept(tmp_path, drml, synth_frames):
    import dataclasses

    calls = []

    def failing(faces):
        calls.append(len(faces))
        if len(calls) == 3:
            raise RuntimeError("out of memory")
        return drml.function(faces)

    predictor = Predictor(dataclasses.replace(drml, function=failing), batch_size=2)
    with pytest.raises(RuntimeError, match="out of memory"):
        predictor.predict_frames(synth_frames[:6], tmp_path / "partial.csv")
    _, rows = read_csv(tmp_path / "partial.csv")
    # Two batches (frames 1-4) went through the network before it failed on the third.
    assert [r["frame"] for r in rows] == ["1", "2", "3", "4"]


def test_cli_predict(tmp_path, drml_keras, synth_video, capsys):
    out = tmp_path / "cli.csv"
    args = ["predict", "--model", str(drml_keras), "--input", str(synth_video), "--out", str(out)]
    code = cli_main([*args, "--aus", "1", "2", "4", "--mean", *map(str, MEAN), "--no_progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert f"{NUM_FRAMES} frames -> {out} (DRML, AU01, AU02, AU04)" in printed
    assert f"{len(BLANK)} frames without a face (success=0)" in printed
    header, rows = read_csv(out)
    assert len(rows) == NUM_FRAMES and header[-1] == "AU04_c"
    with pytest.raises(SystemExit, match=r"tfau predict: .*trained on other AUs than asked"):
        cli_main([*args, "--aus", "1", "2", "--mean", *map(str, MEAN)])


def test_ctrl_c_ends_a_webcam_run_with_the_frames_read(tmp_path, drml, synth_frames):
    def webcam():
        yield from synth_frames[:4]
        raise KeyboardInterrupt

    summary = Predictor(drml, batch_size=3).predict_frames(webcam(), tmp_path / "cam.csv")
    assert summary.interrupted and summary.frames == 4
    _, rows = read_csv(tmp_path / "cam.csv")
    assert [r["frame"] for r in rows] == ["1", "2", "3", "4"]
