"""Face geometry: landmark schemes, AU centres, landmark attention maps and face alignment.

Landmarks are ``(..., num_points, 2)`` float arrays of ``(x, y)`` 0-based pixel coordinates;
"left"/"right" mean the image's left/right. Functions marked (np/tf) take a numpy array and
return numpy, or take a ``tf.Tensor`` and return a tensor (graph-, ``tf.data``- and XLA-safe).

Landmark schemes (``tfau.faces.schemes``):
    ``LandmarkScheme``: regions, named key points and flip permutation of a scheme.
    ``LANDMARKS_49``, ``LANDMARKS_66``, ``LANDMARKS_68``, ``SCHEMES`` (by number of points).
    ``INDEX_68_TO_66``, ``INDEX_66_TO_49``, ``INDEX_68_TO_49``: conversion index tables.
    ``get_scheme(scheme, landmarks=None)``: resolve 49/66/68 or infer from the shape.
    ``convert_landmarks(landmarks, target)``: 68 -> 66 -> 49 (np/tf).
    ``flip_landmarks(landmarks, width, scheme=None)``: horizontal flip, permuted (np/tf).
    ``eye_centres(landmarks, scheme=None)``: ``(left, right)`` eye centres (np/tf).
    ``inter_ocular_distance(landmarks, scheme=None)``: distance between eye centres (np/tf).

AU centres (``tfau.faces.au_centres``), 49-point landmarks in, pixels out:
    ``CentrePair``: one rule row (AUs, averaged landmark indices, shift in rulers).
    ``JAANET_AU_CENTRES``, ``JAANET_AUS``: JAA-Net's pair per AU (1, 2, 4, 6, 7, 9, 10, 12, 14,
    15, 17, 23, 24, 25, 26). ``EACNET_CENTRES``, ``EACNET_AUS``, ``NUM_EACNET_CENTRES`` (20).
    ``ruler(landmarks, kind="horizontal")``: inner-eye-corner gap (np/tf).
    ``jaanet_au_centres(landmarks, aus)``: ``(..., 2 * len(aus), 2)`` (np/tf).
    ``eacnet_roi_centres(landmarks)``: ``(..., 20, 2)``, E-Net map and C-Net crop centres (np/tf).
    ``eacnet_au_centre_mask(aus=EACNET_AUS)``: ``(len(aus), 20)`` bool, centres of each AU.

Attention maps (``tfau.faces.attention``), TF graph, ``(B, 49, 2)`` (or one face) in:
    ``jaanet_attention_maps(landmarks, aus, image_size=176, map_size=None, zeta=0.14,
    xi=0.56, uniform=False, centre_rounding="half_pixel")``: ``(B, 52, 52, len(aus))`` for
    176 (eq. 3 of JAA-Net); ``centre_rounding="round"`` places centres as the authors' code.
    ``eacnet_attention_map(landmarks, image_size, map_size=100, aus=None, half_size=5,
    slope=0.095)``: ``(B, 100, 100, 1)``, or one channel per AU when ``aus`` is given.
    ``jaanet_map_size(image_size)``, ``jaanet_half_size(map_size, zeta=0.14)``.
    ``CENTRE_ROUNDINGS``, ``JAANET_ZETA`` (0.14), ``JAANET_XI`` (0.56), ``EACNET_MAP_SIZE`` (100),
    ``EACNET_HALF_SIZE`` (5), ``EACNET_SLOPE`` (0.095).

Alignment (``tfau.faces.alignment``), numpy / OpenCV, one face at a time:
    ``KEYPOINT_NAMES``: eyes, nose tip, mouth corners (the five points MTCNN gives).
    ``keypoints_from_landmarks(landmarks, scheme=None)``: ``(5, 2)`` from 49/66/68 points.
    ``similarity_from_keypoints(keypoints, output_size=200, box_enlarge=2.9)``: ``(2, 3)``.
    ``align_face(image, landmarks, output_size=200, box_enlarge=2.9, border_value=128,
    scheme=None)`` and ``align_face_from_keypoints(image, keypoints, landmarks=None, ...)``:
    ``AlignedFace(image, matrix, landmarks, keypoints, inter_ocular_distance)``.
    ``warp_face(image, matrix, output_size=200, border_value=128)``: a face cut out with a
    matrix (e.g. the previous frame with the current face's, for optical flow).
    ``transform_points(points, matrix)``, ``invert_transform(matrix)``.
    ``square_box_matrix(landmarks, output_size, box_scale=1.5, box_shift=0.1)``: the unaligned
    square crop of EAC-Net and AUNets (``SQUARE_BOX_SCALE``, ``SQUARE_BOX_SHIFT``).

Alignment in the TF graph (``tfau.faces.alignment_tf``), batched, same transform:
    ``similarity_from_keypoints_tf(keypoints, output_size=200, box_enlarge=2.9)``:
    ``(..., 2, 3)``; ``warp_affine_tf(images, matrices, output_size=200, border_value=128)``;
    ``transform_points_tf(points, matrices)``, ``invert_transform_tf(matrices)``.

tfau.faces is a leaf package: it imports nothing else from tfau.
"""

from tfau.faces.alignment import (
    KEYPOINT_NAMES,
    SQUARE_BOX_SCALE,
    SQUARE_BOX_SHIFT,
    AlignedFace,
    align_face,
    align_face_from_keypoints,
    invert_transform,
    keypoints_from_landmarks,
    similarity_from_keypoints,
    square_box_matrix,
    transform_points,
    warp_face,
)
from tfau.faces.alignment_tf import (
    invert_transform_tf,
    similarity_from_keypoints_tf,
    transform_points_tf,
    warp_affine_tf,
)
from tfau.faces.attention import (
    CENTRE_ROUNDINGS,
    EACNET_HALF_SIZE,
    EACNET_MAP_SIZE,
    EACNET_SLOPE,
    JAANET_XI,
    JAANET_ZETA,
    eacnet_attention_map,
    jaanet_attention_maps,
    jaanet_half_size,
    jaanet_map_size,
)
from tfau.faces.au_centres import (
    EACNET_AUS,
    EACNET_CENTRES,
    JAANET_AU_CENTRES,
    JAANET_AUS,
    NUM_EACNET_CENTRES,
    CentrePair,
    eacnet_au_centre_mask,
    eacnet_roi_centres,
    jaanet_au_centres,
    ruler,
)
from tfau.faces.schemes import (
    INDEX_66_TO_49,
    INDEX_68_TO_49,
    INDEX_68_TO_66,
    LANDMARKS_49,
    LANDMARKS_66,
    LANDMARKS_68,
    SCHEMES,
    LandmarkScheme,
    convert_landmarks,
    eye_centres,
    flip_landmarks,
    get_scheme,
    inter_ocular_distance,
)

__all__ = [
    "CENTRE_ROUNDINGS",
    "EACNET_AUS",
    "EACNET_CENTRES",
    "EACNET_HALF_SIZE",
    "EACNET_MAP_SIZE",
    "EACNET_SLOPE",
    "INDEX_66_TO_49",
    "INDEX_68_TO_49",
    "INDEX_68_TO_66",
    "JAANET_AUS",
    "JAANET_AU_CENTRES",
    "JAANET_XI",
    "JAANET_ZETA",
    "KEYPOINT_NAMES",
    "LANDMARKS_49",
    "LANDMARKS_66",
    "LANDMARKS_68",
    "NUM_EACNET_CENTRES",
    "SCHEMES",
    "SQUARE_BOX_SCALE",
    "SQUARE_BOX_SHIFT",
    "AlignedFace",
    "CentrePair",
    "LandmarkScheme",
    "align_face",
    "align_face_from_keypoints",
    "convert_landmarks",
    "eacnet_attention_map",
    "eacnet_au_centre_mask",
    "eacnet_roi_centres",
    "eye_centres",
    "flip_landmarks",
    "get_scheme",
    "inter_ocular_distance",
    "invert_transform",
    "invert_transform_tf",
    "jaanet_attention_maps",
    "jaanet_au_centres",
    "jaanet_half_size",
    "jaanet_map_size",
    "keypoints_from_landmarks",
    "ruler",
    "similarity_from_keypoints",
    "similarity_from_keypoints_tf",
    "square_box_matrix",
    "transform_points",
    "transform_points_tf",
    "warp_affine_tf",
    "warp_face",
]
