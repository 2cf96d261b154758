"""AU timeline: reading the OpenFace-style CSV, gap-aware median smoothing, the figure."""

import csv

import numpy as np
import pytest
import scipy.ndimage

from tfau.plots import median_smooth, plot_timeline, plot_track, read_au_csv

AUS = (1, 2, 12)


def write_csv(path, rows_per_face=40, faces=(0, 1), gap=(10, 14), spaces=True):
    rng = np.random.default_rng(0)
    names = ["frame", "face_id", "timestamp", "confidence", "success"]
    names += [f"AU{au:02d}_c" for au in AUS] + [f"AU{au:02d}_p" for au in AUS]
    expected = {}
    rows = []
    for face in faces:
        prob = rng.uniform(size=(rows_per_face, len(AUS)))
        success = np.ones(rows_per_face, bool)
        success[gap[0] : gap[1]] = False
        expected[face] = (prob, success)
        for t in range(rows_per_face):
            occ = (prob[t] >= 0.5).astype(int)
            rows.append(
                [t, face, f"{t / 25:.3f}", "0.98" if success[t] else "0", int(success[t])]
                + [str(v) for v in occ]
                + [f"{v:.6f}" for v in prob[t]]
            )
    rng.shuffle(rows)  # rows of both faces interleaved and out of order
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([(" " + n if spaces and i else n) for i, n in enumerate(names)])
        writer.writerows(rows)
    return expected


def test_read_au_csv(tmp_path):
    path = tmp_path / "video.csv"
    expected = write_csv(path)
    tracks = read_au_csv(path)
    assert sorted(tracks) == [0, 1]
    for face, (prob, success) in expected.items():
        track = tracks[face]
        assert track.aus == AUS
        np.testing.assert_array_equal(track.frame, np.arange(40))
        np.testing.assert_allclose(track.timestamp, np.arange(40) / 25, atol=1e-3)
        np.testing.assert_array_equal(track.success, success)
        np.testing.assert_allclose(track.probability[success], prob[success], atol=1e-6)
        assert np.isnan(track.probability[~success]).all()
        np.testing.assert_array_equal(track.occurrence[success], prob[success] >= 0.5)
        assert np.isnan(track.occurrence[~success]).all()


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


def test_median_smooth_matches_scipy_per_run():
    rng = np.random.default_rng(1)
    values = rng.uniform(size=(30, 2))
    values[8:11, 0] = np.nan  # a gap in AU 0 only
    smoothed = median_smooth(values, 5)
    for column, runs in ((0, [(0, 8), (11, 30)]), (1, [(0, 30)])):
        for start, stop in runs:
            expected = scipy.ndimage.median_filter(
                values[start:stop, column], size=5, mode="nearest"
            )
            np.testing.assert_allclose(smoothed[start:stop, column], expected)
    assert np.isnan(smoothed[8:11, 0]).all()
    np.testing.assert_array_equal(median_smooth(values, 1)[:, 1], values[:, 1])
    with pytest.raises(ValueError, match=r"positive odd integer\. Received: window=4"):
        median_smooth(values, 4)


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
    write_csv(path, faces=(3,))
    track = read_au_csv(path)[3]
    check_png(plot_track(track, tmp_path / "au12.png", aus=[12]))
    message = r"subset of the CSV's AUs \[1, 2, 12\]\. Received: aus=\[4\]"
    with pytest.raises(ValueError, match=message):
        plot_track(track, tmp_path / "x.png", aus=[4])
    with pytest.raises(ValueError, match=r"must end in \.png"):
        plot_track(track, tmp_path / "x.jpg")
