"""Tests of tfau.faces.au_centres: the JAA-Net and EAC-Net AU centre rules."""

import numpy as np
import pytest
import tensorflow as tf

from tfau import faces


def ramp_face():
    """Landmark i at (i, 100 + i): every index is readable from the coordinates.

    Horizontal ruler |x22 - x25| = 3; Euclidean ruler = sqrt(3^2 + 3^2).
    """
    i = np.arange(49, dtype=np.float32)
    return np.stack([i, 100.0 + i], axis=-1)


def test_jaanet_centres_by_hand():
    face = ramp_face()
    c = faces.jaanet_au_centres(face, aus=(1, 2, 4, 6, 7, 9, 10, 12, 17, 23, 26))
    assert c.shape == (22, 2)
    expected = [
        (4, 104 - 1.5), (5, 105 - 1.5),  # AU1: brow inner ends, up ruler / 2
        (1, 101 - 1.0), (8, 108 - 1.0),  # AU2: up ruler / 3
        (2, 102 + 1.0), (7, 107 + 1.0),  # AU4: down ruler / 3
        (24, 124 + 3.0), (29, 129 + 3.0),  # AU6: down ruler
        (21, 121), (26, 126),  # AU7
        (15, 115 - 1.5), (17, 117 - 1.5),  # AU9: up ruler / 2
        (43, 143), (45, 145),  # AU10
        (31, 131), (37, 137),  # AU12
        (39, 139 + 1.5), (41, 141 + 1.5),  # AU17: down ruler / 2
        (34, 134), (40, 140),  # AU23
        (39, 139 + 1.5), (41, 141 + 1.5),  # AU26 = AU17's centres
    ]  # fmt: skip
    np.testing.assert_allclose(c, expected, rtol=1e-6)
    assert faces.ruler(face) == pytest.approx(3.0)
    assert faces.ruler(face, "euclidean") == pytest.approx(np.sqrt(18.0))


def test_eacnet_20_centres_by_hand():
    face = ramp_face()
    s = np.sqrt(18.0)  # Euclidean inner-eye-corner distance
    c = faces.eacnet_roi_centres(face)
    assert c.shape == (faces.NUM_EACNET_CENTRES, 2) == (20, 2)
    expected = [
        (4, 104 - s / 2), (5, 105 - s / 2),  # AU1: 1/2 scale above inner brow
        (1, 101 - s / 3), (8, 108 - s / 3),  # AU2: 1/3 scale above outer brow
        (2, 102 + s / 3), (7, 107 + s / 3),  # AU4: 1/3 scale below brow centre
        (24, 124 + s), (29, 129 + s),  # AU6: 1 scale below eye bottom
        (21.5, 121.5), (27.5, 127.5),  # AU7: eye centres (means of 19-24, 25-30)
        (32, 132), (36, 136),  # AU10: outer upper lip
        (43, 143), (45, 145),  # AU10: inner upper lip
        (31, 131), (37, 137),  # AU12/14/15: lip corners
        (39, 139 + s / 2), (41, 141 + s / 2),  # AU17: 1/2 scale below lip
        (34, 134), (40, 140),  # AU23/24: lip centre
    ]  # fmt: skip
    np.testing.assert_allclose(c, expected, rtol=1e-6)


def test_eacnet_au_centre_mask():
    mask = faces.eacnet_au_centre_mask()
    assert mask.shape == (12, 20)
    # Every centre serves at least one AU, AU10 has two pairs, every other AU one.
    assert mask.any(axis=0).all()
    counts = dict(zip(faces.EACNET_AUS, mask.sum(axis=1), strict=True))
    assert counts == {au: 4 if au == 10 else 2 for au in faces.EACNET_AUS}
    np.testing.assert_array_equal(
        mask[faces.EACNET_AUS.index(12)], mask[faces.EACNET_AUS.index(15)]
    )
    np.testing.assert_array_equal(np.flatnonzero(mask[6]), [14, 15])


@pytest.mark.parametrize("rule", ["jaanet", "eacnet"])
def test_centres_mirror_with_the_face(rule):
    """Centres of a flipped face are the mirrored centres, left and right swapped."""
    rng = np.random.default_rng(1)
    face = rng.uniform(20, 150, size=(3, 49, 2)).astype(np.float32)
    width = 176
    if rule == "jaanet":
        pairs = [faces.JAANET_AU_CENTRES[au] for au in faces.JAANET_AUS]

        def centres(x):
            return faces.jaanet_au_centres(x, faces.JAANET_AUS)
    else:
        pairs = faces.EACNET_CENTRES
        centres = faces.eacnet_roi_centres
    perm = faces.LANDMARKS_49.flip_permutation
    order = []
    for k, pair in enumerate(pairs):
        if {perm[i] for i in pair.left} == set(pair.right):
            order += [2 * k + 1, 2 * k]  # a left/right pair swaps
        else:
            assert {perm[i] for i in pair.left} == set(pair.left)  # a midline pair stays
            order += [2 * k, 2 * k + 1]
    flipped_centres = centres(faces.flip_landmarks(face, width))
    mirrored = centres(face)[:, order]
    mirrored[..., 0] = width - 1 - mirrored[..., 0]
    np.testing.assert_allclose(flipped_centres, mirrored, atol=1e-3)


def test_centres_in_tf_graph_match_numpy_and_accept_68_points():
    rng = np.random.default_rng(2)
    face68 = rng.uniform(0, 200, size=(4, 68, 2)).astype(np.float32)
    face49 = faces.convert_landmarks(face68, 49)
    expected = faces.eacnet_roi_centres(face49)
    np.testing.assert_allclose(faces.eacnet_roi_centres(face68), expected, rtol=1e-6)
    graph = tf.function(faces.eacnet_roi_centres, jit_compile=True)(tf.constant(face49))
    assert isinstance(graph, tf.Tensor)
    np.testing.assert_allclose(graph.numpy(), expected, rtol=1e-5, atol=1e-4)
    j = tf.function(lambda x: faces.jaanet_au_centres(x, (1, 25)))(tf.constant(face49))
    np.testing.assert_allclose(j.numpy(), faces.jaanet_au_centres(face49, (1, 25)), atol=1e-4)


def test_centre_errors():
    with pytest.raises(
        ValueError, match=r"JAA-Net rule defines centres for AUs 1, 2, 4.*no centres for 5, 20"
    ):
        faces.jaanet_au_centres(np.zeros((49, 2)), aus=(1, 5, 20))
    with pytest.raises(ValueError, match=r"EAC-Net rule .*no centres for 9"):
        faces.eacnet_au_centre_mask((9,))
    with pytest.raises(ValueError, match=r"`aus` must list at least one AU\. Received: aus=\(\)"):
        faces.jaanet_au_centres(np.zeros((49, 2)), aus=())
    with pytest.raises(ValueError, match="`kind` must be 'horizontal' or 'euclidean'"):
        faces.ruler(np.zeros((49, 2)), "vertical")
