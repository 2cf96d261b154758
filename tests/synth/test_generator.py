"""SynthAU generator: AUs move the right landmarks and pixels, neutral faces, determinism."""

import numpy as np
import pytest

from tfau.faces.schemes import INDEX_66_TO_49
from tfau.synth import ALL_AUS, FERA2017_VIEWS, SynthAU
from tfau.synth.face import (
    Pose,
    au_displacements,
    deform,
    project,
    project_many,
    rotation_matrix,
    sample_identity,
)

SIZE = (160, 200)


def _still(**kwargs):
    return SynthAU("bp4d", image_size=SIZE, seed=5, head_motion=0.0, noise=0.0, **kwargs)


def _single(au: int, value: float = 5.0) -> np.ndarray:
    """Two frames: neutral, then ``au`` alone at ``value``."""
    x = np.zeros((2, len(ALL_AUS)), np.float32)
    x[1, ALL_AUS.index(au)] = value
    return x


def _pair(au: int, subject: str = "F007", value: float = 5.0):
    seq = _still().sequence(subject, "T1", 2, intensities=_single(au, value))
    return seq, seq.landmarks66[0, 0].astype(np.float64), seq.landmarks66[0, 1].astype(np.float64)


def _up(before, after, idx):
    return float(np.mean(before[idx, 1] - after[idx, 1]))  # > 0: moved up in the image


def _width(lm, a, b):
    return float(np.linalg.norm(lm[a] - lm[b]))


# Each AU with a check of the direction FACS gives, on 66-point landmarks (image y is down).
EXPECTED_MOTION = {
    1: ("inner brows up", lambda b, a: _up(b, a, [21, 22]) > 1.0 and _up(b, a, [17, 26]) < 0.5),
    2: ("outer brows up", lambda b, a: _up(b, a, [17, 26]) > 1.0 and _up(b, a, [21, 22]) < 0.5),
    4: (
        "brows down and together",
        lambda b, a: _up(b, a, [21, 22]) < -1.0 and _width(a, 21, 22) < _width(b, 21, 22) - 1.0,
    ),
    5: ("upper lids up", lambda b, a: _up(b, a, [37, 38, 43, 44]) > 1.0),
    6: ("lower lids and cheeks up", lambda b, a: _up(b, a, [40, 41, 46, 47]) > 0.7),
    7: (
        "lids tightened",
        lambda b, a: _up(b, a, [40, 41, 46, 47]) > 0.7 and _up(b, a, [37, 38, 43, 44]) < -0.2,
    ),
    9: ("nose wings up", lambda b, a: _up(b, a, [31, 35]) > 0.7),
    10: ("upper lip up", lambda b, a: _up(b, a, [50, 51, 52]) > 1.0),
    12: (
        "lip corners up and out",
        lambda b, a: _up(b, a, [48, 54]) > 1.5 and _width(a, 48, 54) > _width(b, 48, 54) + 1.0,
    ),
    14: ("lip corners in", lambda b, a: _width(a, 48, 54) < _width(b, 48, 54) - 0.5),
    15: ("lip corners down", lambda b, a: _up(b, a, [48, 54]) < -1.0),
    17: ("chin and lower lip up", lambda b, a: _up(b, a, [8]) > 1.0 and _up(b, a, [57]) > 0.8),
    20: (
        "lips stretched",
        lambda b, a: _width(a, 48, 54) > _width(b, 48, 54) + 1.5 and _up(b, a, [48, 54]) <= 0,
    ),
    23: (
        "lips tightened (thinner)",
        lambda b, a: (a[57, 1] - a[51, 1]) < (b[57, 1] - b[51, 1]) - 0.5,
    ),
    24: (
        "lips pressed (thinner)",
        lambda b, a: (a[57, 1] - a[51, 1]) < (b[57, 1] - b[51, 1]) - 0.8,
    ),
    25: ("lips part", lambda b, a: (a[64, 1] - a[61, 1]) > (b[64, 1] - b[61, 1]) + 1.0),
    26: ("jaw drops", lambda b, a: _up(b, a, [8]) < -3.0 and _up(b, a, [57]) < -2.0),
}

# Landmarks (66-point) that an AU must leave exactly where they are.
_BROWS = list(range(17, 27))
_MOUTH_AND_JAW = list(range(0, 17)) + list(range(48, 66))
UNMOVED = {
    **{au: _MOUTH_AND_JAW for au in (1, 2, 4, 5, 6, 7)},
    **{au: _BROWS + list(range(36, 48)) for au in (10, 14, 15, 17, 20, 23, 24, 25, 26)},
    12: _BROWS,
    9: list(range(0, 17)) + list(range(54, 66)),
}


def test_every_au_has_an_expected_motion():
    assert sorted(EXPECTED_MOTION) == sorted(ALL_AUS)


@pytest.mark.parametrize("au", ALL_AUS)
def test_landmarks_move_as_facs_says(au):
    description, check = EXPECTED_MOTION[au]
    _, before, after = _pair(au)
    assert check(before, after), f"AU{au} ({description}) moved the landmarks the wrong way"
    unmoved = UNMOVED[au]
    np.testing.assert_allclose(after[unmoved], before[unmoved], atol=1e-4)
    # Intensity scales the effect: half intensity, half the displacement (the inner lip is left
    # out: it is clamped so that the lower inner lip never crosses the upper one).
    _, before_half, after_half = _pair(au, value=2.5)
    linear = list(range(60))
    np.testing.assert_allclose(
        (after_half - before_half)[linear], 0.5 * (after - before)[linear], atol=1e-3
    )


# Landmarks whose box (plus a margin) must contain every pixel an AU changes.
REGIONS = {
    1: _BROWS,
    2: _BROWS,
    4: [*_BROWS, 27, 37, 38, 43, 44],
    5: list(range(36, 48)),
    6: [*range(36, 48), 31, 35, 48, 54],
    7: list(range(36, 48)),
    9: [*range(20, 24), *range(27, 36), *range(40, 42), *range(46, 54)],
    10: [*range(31, 36), *range(48, 63)],
    12: [*range(31, 36), *range(40, 42), *range(46, 48), *range(48, 66)],
    # The cheeks are tied to the lip corners as well.
    14: [*range(31, 36), 40, 41, 46, 47, *range(48, 66)],
    15: [*range(31, 36), *range(48, 66), *range(5, 12)],
    17: [*range(48, 66), *range(5, 12)],
    20: [*range(31, 36), *range(48, 66), *range(3, 14)],
    # (The nasolabial furrows end at the lip corners: AUs moving the corners move them too.)
    23: [*range(31, 36), *range(48, 66)],
    24: [*range(31, 36), *range(48, 66)],
    25: list(range(48, 66)),
    26: [*range(48, 66), *range(2, 15)],
}


@pytest.mark.parametrize("au", ALL_AUS)
def test_pixels_change_only_in_the_au_region(au):
    seq, before, after = _pair(au)
    neutral, active = seq.frame(0).astype(int), seq.frame(1).astype(int)
    changed = np.abs(active - neutral).max(axis=-1) > 6
    assert changed.sum() >= 15, f"AU{au} at intensity 5 changed only {changed.sum()} pixels"
    iod = np.linalg.norm(before[36:42].mean(0) - before[42:48].mean(0))
    points = np.concatenate([before[REGIONS[au]], after[REGIONS[au]]])
    margin = 0.35 * iod
    top_margin = 0.75 * iod if au in (1, 2) else margin  # forehead lines above the brows
    x0, y0 = points.min(0) - [margin, top_margin]
    x1, y1 = points.max(0) + margin
    ys, xs = np.nonzero(changed)
    outside = (xs < x0) | (xs > x1) | (ys < y0) | (ys > y1)
    assert not outside.any(), (
        f"AU{au} changed {outside.sum()} pixels outside its region "
        f"x in [{x0:.0f}, {x1:.0f}], y in [{y0:.0f}, {y1:.0f}]"
    )


def test_intensity_zero_renders_the_neutral_face():
    gen = _still()
    zero = np.zeros((3, len(ALL_AUS)), np.float32)
    seq = gen.sequence("F002", "T4", 3, intensities=zero)
    identity = gen.identity("F002")
    pose = seq.poses[0][0]
    np.testing.assert_allclose(
        seq.landmarks66[0, 0], project(identity.points, pose)[:66], atol=1e-4
    )
    np.testing.assert_array_equal(seq.frame(0), seq.frame(2))
    # Rendering sampled AUs with au_scale=0 gives exactly these neutral frames.
    neutral = _still(au_scale=0.0).sequence("F002", "T4", 3)
    assert neutral.intensities.any()
    np.testing.assert_array_equal(neutral.frame(1), seq.frame(1))
    # And an AU at intensity 0.001 is indistinguishable from none.
    tiny = zero.copy()
    tiny[1, ALL_AUS.index(12)] = 1e-3
    nearly = gen.sequence("F002", "T4", 3, intensities=tiny)
    assert np.abs(nearly.frame(1).astype(int) - seq.frame(1).astype(int)).max() <= 2


def test_same_seed_same_bytes_and_different_seed_different_faces():
    a = SynthAU("disfa", image_size=(128, 96), seed=11).sequence("SN003", "", 4)
    b = SynthAU("disfa", image_size=(128, 96), seed=11).sequence("SN003", "", 4)
    c = SynthAU("disfa", image_size=(128, 96), seed=12).sequence("SN003", "", 4)
    for t in range(4):
        assert a.frame(t).tobytes() == b.frame(t).tobytes()
    np.testing.assert_array_equal(a.intensities, b.intensities)
    assert not np.array_equal(a.frame(0), c.frame(0))
    assert not np.array_equal(a.intensities, c.intensities)
    # Order does not matter: generating another sequence first changes nothing.
    gen = SynthAU("disfa", image_size=(128, 96), seed=11)
    gen.sequence("SN001", "", 2)
    assert gen.sequence("SN003", "", 4).frame(3).tobytes() == a.frame(3).tobytes()


def test_identity_is_per_subject_and_varies_between_subjects():
    gen = SynthAU("bp4d", image_size=SIZE, seed=0)
    np.testing.assert_array_equal(gen.identity("F001").points, gen.identity("F001").points)
    a, b = gen.identity("F001"), gen.identity("M005")
    assert np.abs(a.points - b.points).max() > 0.02
    assert np.abs(a.skin - b.skin).max() > 1.0
    t1, t2 = gen.sequence("F001", "T1", 2), gen.sequence("F001", "T2", 2)
    np.testing.assert_array_equal(t1.identity.points, t2.identity.points)


def test_landmark_schemes_and_shapes():
    seq = SynthAU("bp4d", image_size=SIZE, seed=1).sequence("F001", "T1", 5)
    assert seq.landmarks66.shape == (1, 5, 66, 2) and seq.landmarks66.dtype == np.float32
    np.testing.assert_array_equal(seq.landmarks49, seq.landmarks66[:, :, list(INDEX_66_TO_49)])
    frame = seq.frame(0)
    assert frame.shape == (SIZE[1], SIZE[0], 3) and frame.dtype == np.uint8
    # The landmarks lie on the face: inside the image, left eye left of the right eye.
    lm = seq.landmarks66[0]
    assert (lm[..., 0] > 0).all() and (lm[..., 0] < SIZE[0]).all()
    assert (lm[..., 1] > 0).all() and (lm[..., 1] < SIZE[1]).all()
    assert (lm[:, 36:42, 0].mean(1) < lm[:, 42:48, 0].mean(1)).all()
    assert seq.occurrence().shape == (5, 12)
    assert set(np.unique(seq.labels)) <= set(range(6))


def test_views_render_the_same_sequence_from_nine_angles():
    gen = SynthAU("bp4d", image_size=SIZE, seed=2, views=FERA2017_VIEWS)
    seq = gen.sequence("M003", "T7", 3)
    assert seq.landmarks66.shape == (9, 3, 66, 2)
    frontal, left = seq.landmarks66[4], seq.landmarks66[3]
    assert FERA2017_VIEWS[4] == (0.0, 0.0) and FERA2017_VIEWS[3] == (-40.0, 0.0)
    # Yaw compresses the face horizontally; the labels are the same for every view.
    width = lambda lm: lm[:, 16, 0] - lm[:, 0, 0]  # noqa: E731
    assert (width(left) < 0.9 * width(frontal)).all()
    frames = [seq.frame(1, v) for v in range(9)]
    assert len({f.tobytes() for f in frames}) == 9


def test_projection_matches_batched_projection_and_rotation_is_orthonormal():
    identity = sample_identity(np.random.default_rng(3))
    shapes = deform(
        identity, au_displacements(identity), np.random.default_rng(0).uniform(0, 5, (4, 17))
    )
    table = np.array(
        [
            [10, -5, 3, 50, 80, 90],
            [0, 0, 0, 40, 60, 60],
            [-30, 20, -8, 70, 100, 100],
            [5, 5, 5, 55, 70, 75],
        ],
        float,
    )
    batched = project_many(shapes, table)
    for t in range(4):
        np.testing.assert_allclose(batched[t], project(shapes[t], Pose(*table[t])), atol=1e-9)
    r = rotation_matrix(30.0, -20.0, 10.0)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)


def test_bad_arguments_name_the_value():
    with pytest.raises(ValueError, match=r"`image_size` must be at least 32 x 32 pixels"):
        SynthAU(image_size=(16, 200))
    with pytest.raises(ValueError, match=r"Unknown AU profile 'fera'"):
        SynthAU(profile="fera")
    with pytest.raises(
        ValueError, match=r"`num_frames` must be at least 1. Received: num_frames=0"
    ):
        SynthAU().sequence("F001", "T1", 0)
    with pytest.raises(ValueError, match=r"`intensities` must have shape \(3, 17\)"):
        SynthAU().sequence("F001", "T1", 3, intensities=np.zeros((3, 12)))
    with pytest.raises(IndexError, match="Frame 4 out of range: the sequence has 2 frames"):
        SynthAU(image_size=(64, 64)).sequence("F001", "T1", 2).frame(4)
