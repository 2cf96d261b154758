"""Median smoothing along face tracks: offline filter and its streaming twin vs numpy."""

import numpy as np
import pytest

from tfau.data import TrackSmoother, median_smooth


def numpy_reference(values: np.ndarray, window: int) -> np.ndarray:
    half = window // 2
    out = np.empty_like(values)
    for t in range(len(values)):
        lo, hi = max(0, t - half), min(len(values), t + half + 1)
        out[t] = np.sort(values[lo:hi], axis=0)[(hi - lo - 1) // 2 : (hi - lo) // 2 + 1].mean(0)
    return out


@pytest.mark.parametrize("window", [1, 3, 5, 7])
def test_median_smooth_matches_numpy(window):
    values = np.random.default_rng(window).random((23, 4)).astype(np.float32)
    np.testing.assert_allclose(median_smooth(values, window), numpy_reference(values, window))


def test_median_smooth_numbers():
    assert median_smooth([[0.1], [0.9], [0.2], [0.3]], 3)[:, 0].tolist() == pytest.approx(
        [0.5, 0.2, 0.3, 0.25]
    )
    # An isolated spike disappears with window 3; a 3-frame event survives window 5.
    spike = np.array([0, 0, 1, 0, 0, 1, 1, 1, 0, 0], np.float32)[:, None]
    assert median_smooth(spike, 3)[:, 0].tolist() == [0, 0, 0, 0, 0, 1, 1, 1, 0, 0]
    assert median_smooth(spike, 5)[:, 0].tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 0.5, 0]


def test_median_smooth_never_crosses_a_gap():
    rng = np.random.default_rng(1)
    values = rng.uniform(size=(30, 2))
    values[8:11, 0] = np.nan  # a gap in AU 0 only
    smoothed = median_smooth(values, 5)
    assert smoothed.dtype == np.float64
    for column, runs in ((0, [(0, 8), (11, 30)]), (1, [(0, 30)])):
        for start, stop in runs:
            expected = numpy_reference(values[start:stop, column], 5)
            np.testing.assert_allclose(smoothed[start:stop, column], expected, rtol=1e-12)
    assert np.isnan(smoothed[8:11, 0]).all()
    np.testing.assert_array_equal(median_smooth(values, 1), values)
    one_dimensional = median_smooth(values[:, 0], 3)
    np.testing.assert_array_equal(one_dimensional, median_smooth(values[:, :1], 3)[:, 0])


def test_track_smoother_streams_the_offline_filter_per_segment():
    rng = np.random.default_rng(0)
    window = 5
    smoother = TrackSmoother(window)
    # Face 0 seen in frames 0-9 and 13-19 (a gap ends its segment); face 1 in 4-15.
    frames = {0: [*range(10), *range(13, 20)], 1: list(range(4, 16))}
    values = {face: rng.random((len(f), 3)).astype(np.float32) for face, f in frames.items()}
    handles = {}
    for frame in range(20):
        for face in (0, 1):
            if frame in frames[face]:
                k = frames[face].index(frame)
                handles[face, frame] = smoother.add(face, frame, values[face][k])
    smoothed_0 = [*median_smooth(values[0][:10], window), *median_smooth(values[0][10:], window)]
    expected = {(0, f): v for f, v in zip(frames[0], smoothed_0, strict=True)}
    smoothed_1 = median_smooth(values[1], window)
    expected.update({(1, f): v for f, v in zip(frames[1], smoothed_1, strict=True)})
    for key, handle in handles.items():
        np.testing.assert_allclose(smoother.value(handle), expected[key], err_msg=str(key))


@pytest.mark.parametrize("window", [0, 2, 4, -1, 1.5])
def test_window_must_be_odd_positive(window):
    with pytest.raises(ValueError, match=r"`window` must be a positive odd integer"):
        TrackSmoother(window)
    with pytest.raises(ValueError, match=r"Received: window="):
        median_smooth(np.zeros((3, 2)), window)
