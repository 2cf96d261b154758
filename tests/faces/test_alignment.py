"""Tests of tfau.faces.alignment: JAA-Net's similarity alignment."""

import cv2
import numpy as np
import pytest

from tfau import faces


def upright_face_49():
    """A synthetic upright 49-point face: eye centres (80, 100) and (120, 100), nose tip
    (100, 130), mouth corners (85, 150) and (115, 150); other points spread around them."""
    rng = np.random.default_rng(0)
    face = rng.uniform(70, 130, size=(49, 2))
    angles = np.linspace(0, 2 * np.pi, 6, endpoint=False)
    ring = np.stack([6 * np.cos(angles), 3 * np.sin(angles)], axis=-1)  # mean zero
    face[19:25] = np.add((80, 100), ring)
    face[25:31] = np.add((120, 100), ring)
    face[13] = (100, 130)
    face[31] = (85, 150)
    face[37] = (115, 150)
    return face


def similarity(angle_degrees, scale, shift, centre=(100.0, 100.0)):
    matrix = cv2.getRotationMatrix2D(centre, angle_degrees, scale)
    matrix[:, 2] += shift
    return matrix


def test_known_upright_face_maps_to_the_expected_box():
    face = upright_face_49()
    matrix = faces.similarity_from_keypoints(faces.keypoints_from_landmarks(face))
    # Key points span x 80..120 (40) and y 100..150 (50): box side 2.9 * 50 = 145 centred on
    # (100, 125), i.e. (27.5, 52.5)..(172.5, 197.5), mapped onto 0..199.
    scale = 199 / 145
    np.testing.assert_allclose(
        matrix, [[scale, 0, 99.5 - 100 * scale], [0, scale, 99.5 - 125 * scale]]
    )
    corners = faces.transform_points([(27.5, 52.5), (172.5, 197.5)], matrix)
    np.testing.assert_allclose(corners, [(0, 0), (199, 199)], atol=1e-9)
    aligned = faces.align_face(np.zeros((300, 300, 3), np.uint8), face)
    assert aligned.inter_ocular_distance == pytest.approx(40 * scale)
    assert aligned.image.shape == (200, 200, 3) and aligned.image.dtype == np.uint8


@pytest.mark.parametrize("angle", [-35.0, 0.0, 20.0, 170.0])
def test_eyes_are_level_and_alignment_is_invariant_to_a_similarity_of_the_frame(angle):
    face = upright_face_49()
    reference = faces.align_face(np.zeros((300, 300), np.uint8), face)
    moved = faces.transform_points(face, similarity(angle, 1.7, (40.0, -25.0)))
    aligned = faces.align_face(np.zeros((400, 400), np.uint8), moved)
    left, right = faces.eye_centres(aligned.landmarks)
    assert left[1] == pytest.approx(right[1], abs=1e-9)
    assert left[0] < right[0]
    np.testing.assert_allclose(aligned.landmarks, reference.landmarks, atol=1e-8)
    assert aligned.inter_ocular_distance == pytest.approx(
        float(faces.inter_ocular_distance(aligned.landmarks))
    )


def test_landmarks_move_with_the_image():
    """A bright blob drawn at a landmark lands where the transformed landmark says."""
    face = faces.transform_points(upright_face_49(), similarity(25.0, 1.3, (60.0, 50.0)))
    image = np.zeros((360, 360), np.float32)
    rows, cols = np.mgrid[0:360, 0:360]
    for index in (13, 31, 37):  # nose tip and mouth corners, well apart
        x, y = face[index]
        image += np.exp(-((cols - x) ** 2 + (rows - y) ** 2) / (2 * 2.0**2))
    aligned = faces.align_face(image, face, border_value=0)
    out = aligned.image
    for index in (13, 31, 37):
        x, y = aligned.landmarks[index]
        near = (np.abs(np.arange(200)[None, :] - x) < 6) & (np.abs(np.arange(200)[:, None] - y) < 6)
        weights = np.where(near, out, 0.0)
        r, c = np.mgrid[0:200, 0:200]
        centroid = (np.sum(weights * c) / weights.sum(), np.sum(weights * r) / weights.sum())
        np.testing.assert_allclose(centroid, (x, y), atol=0.15)


def test_five_point_and_landmark_versions_agree_for_every_scheme():
    face49 = upright_face_49()
    face68 = np.zeros((68, 2))
    face68[list(faces.INDEX_68_TO_49)] = face49
    face68[:17] = np.linspace((60, 90), (140, 90), 17)  # a jaw the 49 points do not have
    image = np.random.default_rng(1).integers(0, 255, size=(300, 300, 3), dtype=np.uint8)
    keypoints = faces.keypoints_from_landmarks(face49)
    np.testing.assert_allclose(keypoints, faces.keypoints_from_landmarks(face68))
    from_points = faces.align_face_from_keypoints(image, keypoints, landmarks=face49)
    for landmarks in (face49, face68, faces.convert_landmarks(face68, 66)):
        from_landmarks = faces.align_face(image, landmarks)
        np.testing.assert_allclose(from_landmarks.matrix, from_points.matrix)
        np.testing.assert_array_equal(from_landmarks.image, from_points.image)
    np.testing.assert_allclose(from_points.landmarks, faces.align_face(image, face49).landmarks)
    assert faces.align_face_from_keypoints(image, keypoints).landmarks is None


def test_outside_the_frame_is_grey_and_inverse_maps_back():
    face = upright_face_49() - (60, 80)  # face near the top-left corner: the box leaves the frame
    image = np.full((200, 200, 3), 255, np.uint8)
    aligned = faces.align_face(image, face)
    np.testing.assert_array_equal(aligned.image[0, 0], [128, 128, 128])
    np.testing.assert_array_equal(aligned.image[199, 199], [255, 255, 255])
    back = faces.transform_points(aligned.landmarks, faces.invert_transform(aligned.matrix))
    np.testing.assert_allclose(back, face, atol=1e-9)


def test_alignment_errors():
    points = faces.keypoints_from_landmarks(upright_face_49())
    with pytest.raises(ValueError, match=r"Expected 5 key points .* Received: shape=\(4, 2\)"):
        faces.similarity_from_keypoints(points[:4])
    same_eyes = points.copy()
    same_eyes[1] = same_eyes[0]
    with pytest.raises(ValueError, match="The two eye centres coincide"):
        faces.similarity_from_keypoints(same_eyes)
    with pytest.raises(ValueError, match=r"shape \(num_points, 2\)\. Received: shape=\(2, 49, 2\)"):
        faces.keypoints_from_landmarks(np.zeros((2, 49, 2)))
    with pytest.raises(ValueError, match=r"Expected an image of shape .* Received: shape=\(5,\)"):
        faces.align_face(np.zeros(5), upright_face_49())
    with pytest.raises(ValueError, match=r"`box_enlarge` must be > 0\. Received: box_enlarge=0"):
        faces.similarity_from_keypoints(points, box_enlarge=0)
