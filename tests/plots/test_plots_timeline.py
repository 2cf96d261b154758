"""AU timeline: reading the OpenFace-style CSV, gap-aware median smoothing, the figure."""

import csv

import numpy as np
import pytest

from tfau.data.smoothing import median_smooth as track_median_smooth
from tfau.plots import median_smooth, plot_timeline, plot_track, read_au_csv

AUS = (1, 2, 12)


def write_csv(path, num_frames=40, spaces=True, num_points=5):
    """A CSV as ``tfau predict`` writes it: frames 1-based, landmark columns, two faces.

    Face 0 is absent in frames 11-14 (no face at all there: face_id -1 rows) and has an
    OpenFace-style success=0 row in frame 35; face 1 is present in frames 20-30 only.
    Returns ``{face_id: (probabilities (T, A) with NaN in gaps, success (T,))}``.
    """
    rng = np.random.default_rng(0)
    names = ["frame", "face_id", "timestamp", "confidence", "success"]
    names += [f"x_{i}" for i in range(num_points)] + [f"y_{i}" for i in range(num_points)]
    names += [f"AU{au:02d}_p" for au in AUS] + [f"AU{au:02d}_c" for au in AUS]
    frames = np.arange(1, num_frames + 1)
    present = {0: (frames < 11) | (frames > 14), 1: (frames >= 20) & (frames <= 30)}
    expected = {}
    rows = []
    for face, mask in present.items():
        prob = np.where(mask[:, None], rng.uniform(size=(num_frames, len(AUS))), np.nan)
        success = mask & ~((face == 0) & (frames == 35))
        prob[~success] = np.nan
        expected[face] = (prob, success)
        for t in np.flatnonzero(mask):
            values = np.nan_to_num(prob[t])
            rows.append(
                [frames[t], face, f"{t / 25:.3f}", "0.98", int(success[t])]
                + ["1.5"] * (2 * num_points)
                + [f"{v:.4f}" for v in values]
                + [str(int(v >= 0.5)) for v in values]
            )
    for t in np.flatnonzero(~present[0] & ~present[1]):
        rows.append([frames[t], -1, f"{t / 25:.3f}", "0", 0] + ["0"] * (2 * num_points + 6))
    rows.sort(key=lambda row: (row[0], row[1]))
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([(" " + n if spaces and i else n) for i, n in enumerate(names)])
        writer.writerows(rows)
    return expected


def test_read_au_csv(tmp_path):
    path = tmp_path / "video.csv"
    expected = write_csv(path)
    tracks = read_au_csv(path)
    assert sorted(tracks) == [0, 1]  # face_id -1 (no face) is no track
    for face, (prob, success) in expected.items():
        track = tracks[face]
        assert track.aus == AUS
        np.testing.assert_array_equal(track.frame, np.arange(1, 41))
        np.testing.assert_allclose(track.timestamp, np.arange(40) / 25, atol=1e-3)
        np.testing.assert_array_equal(track.success, success)
        np.testing.assert_allclose(track.probability, prob, atol=1e-4)  # NaN where gaps
        np.testing.assert_array_equal(np.isnan(track.occurrence), np.isnan(prob))
        np.testing.assert_array_equal(track.occurrence[success], prob[success] >= 0.5)
    assert tracks[1].success.sum() == 11 and tracks[0].success.sum() == 35


def test_read_au_csv_errors(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("frame,face_id,timestamp\n0,0,0.0\n")
    with pytest.raises(ValueError, match=r"lacks the columns \['success'\]"):
        read_au_csv(path)
    path.write_text("frame,face_id,timestamp,success\n0,0,0.0,1\n")
    with pytest.raises(ValueError, match="has no AU columns"):
        read_au_csv(path)
    path.write_text("frame,face_id,timestamp,success,AU01_p\n0,0,0.0,1,high\n")
    with pytest.raises(ValueError, match="line 2: column 'AU01_p' must be a number"):
        read_au_csv(path)
    path.write_text("frame,face_id,timestamp,success,AU01_p,AU02_p,AU01_c\n")
    with pytest.raises(ValueError, match="every AU needs both or neither"):
        read_au_csv(path)
    path.write_text("frame,face_id,timestamp,success,AU01_p\n1,0,0.0,1,0.5\n1,0,0.0,1,0.7\n")
    with pytest.raises(ValueError, match="face 0 has 2 rows for frame 1"):
        read_au_csv(path)


def test_the_timeline_smooths_with_the_filter_of_predict():
    assert median_smooth is track_median_smooth


def test_plot_timeline_one_png_per_face(tmp_path, check_png):
    path = tmp_path / "video.csv"
    write_csv(path)
    paths = plot_timeline(path, tmp_path / "plots", smooth_window=5)
    names = [p.rsplit("/", 1)[1] for p in paths]
    assert names == ["au_timeline_face0.png", "au_timeline_face1.png"]
    for p in paths:
        image = check_png(p)
        assert image.shape[0] > image.shape[1] * 0.3  # three panels stacked


def test_plot_track_aus_subset_and_errors(tmp_path, check_png):
    path = tmp_path / "video.csv"
    write_csv(path)
    track = read_au_csv(path)[1]
    check_png(plot_track(track, tmp_path / "au12.png", aus=[12]))
    message = r"subset of the CSV's AUs \[1, 2, 12\]\. Received: aus=\[4\]"
    with pytest.raises(ValueError, match=message):
        plot_track(track, tmp_path / "x.png", aus=[4])
    with pytest.raises(ValueError, match=r"must end in \.png"):
        plot_track(track, tmp_path / "x.jpg")


def test_reads_and_plots_a_tfau_predict_csv(tmp_path, check_png):
    """The CSV `tfau.inference.Predictor` writes: faceless frames become the face's gaps."""
    import tfau.models
    from tfau.inference import Predictor, from_keras
    from tfau.synth import SynthAU

    sequence = SynthAU("bp4d", image_size=(320, 240), seed=0).sequence("F001", "T1", 10)
    frames = [sequence.frame(t) for t in range(10)]
    blank = (4, 5)
    for t in blank:
        frames[t] = np.full_like(frames[t], 110)
    network = tfau.models.DRML(**tfau.models.tiny_kwargs("DRML"))
    model = from_keras(network, aus=[1, 2, 4], mean=[120.0, 100.0, 90.0])
    path = tmp_path / "predict.csv"
    Predictor(model, smoothing=3, batch_size=4, detect_every=4).predict_frames(
        frames, path, fps=25.0
    )
    tracks = read_au_csv(path)
    assert list(tracks) == [0]
    track = tracks[0]
    assert track.aus == (1, 2, 4)
    np.testing.assert_array_equal(track.frame, np.arange(1, 11))  # 1-based, as OpenFace
    np.testing.assert_allclose(track.timestamp, np.arange(10) / 25, atol=1e-3)
    np.testing.assert_array_equal(track.success, [t not in blank for t in range(10)])
    assert np.isfinite(track.probability[track.success]).all()
    assert np.isnan(track.probability[~track.success]).all()
    np.testing.assert_array_equal(
        track.occurrence[track.success], track.probability[track.success] >= 0.5
    )
    check_png(plot_timeline(path, tmp_path / "plots", smooth_window=3)[0])
