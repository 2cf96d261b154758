"""SynthAU's face model: a 3D point face whose action units move the right landmarks.

A face is a set of 3D points in a canonical frame (x to the image's right, y down, z towards
the camera; the face is about 2 units wide): the 66 DISFA landmarks (iBUG-68 without the inner
mouth corners, see :mod:`tfau.faces.schemes`) followed by render-only points (brow outlines,
eyelid covers, wrinkle ends, cheeks, hair ...). Render points are tied to landmarks
(``anchors @ landmarks + offset``), so they follow every deformation.

An identity (:class:`Identity`) fixes the neutral shape and the colours. Action units deform
it linearly: ``points = neutral + sum_k (intensity_k / 5) * displacement_k`` with one
displacement field per AU (:func:`au_displacements`), written where FACS puts each AU. A pose
(yaw, pitch, roll, scale, translation) rotates the points about the head centre and projects
them orthographically to the image.

Reference:
    - Ekman, Friesen and Hager, "Facial Action Coding System", 2002 (where each AU acts).
    - Sagonas et al., "300 Faces in-the-Wild Challenge", ICCV-W 2013 (landmark order).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tfau.faces.schemes import INDEX_66_TO_49, LANDMARKS_66
from tfau.synth.aus import ALL_AUS

NUM_LANDMARKS = 66
_FLIP = np.asarray(LANDMARKS_66.flip_permutation)
_INDEX_49 = np.asarray(INDEX_66_TO_49)

# 66-point indices used below (iBUG-68 numbering up to 59; inner lip 60-62 upper left to right,
# 63-65 lower right to left).
_JAW = list(range(17))
_LEFT_BROW = [17, 18, 19, 20, 21]  # outer to inner
_RIGHT_BROW = [26, 25, 24, 23, 22]  # outer to inner (mirror order of the left brow)
_LEFT_EYE = [36, 37, 38, 39, 40, 41]
_RIGHT_EYE = [42, 43, 44, 45, 46, 47]


def _mirror(index: int) -> int:
    return int(_FLIP[index])


class _Points:
    """Collects named render points as (anchors, offset) and builds the anchor matrix."""

    def __init__(self, landmarks: np.ndarray) -> None:
        self.landmarks = landmarks
        self.rows: list[np.ndarray] = []
        self.offsets: list[np.ndarray] = []
        self.slices: dict[str, slice] = {}

    def add(self, name: str, items: list[tuple[dict[int, float], tuple[float, ...]]]) -> None:
        start = NUM_LANDMARKS + len(self.rows)
        for anchors, offset in items:
            row = np.zeros(NUM_LANDMARKS)
            for index, weight in anchors.items():
                row[index] = weight
            self.rows.append(row)
            off = np.zeros(3)
            off[: len(offset)] = offset
            self.offsets.append(off)
        self.slices[name] = slice(start, NUM_LANDMARKS + len(self.rows))

    def add_mirrored(
        self, name: str, items: list[tuple[dict[int, float], tuple[float, ...]]]
    ) -> None:
        """Adds ``items`` for the image's left side, then their mirror images."""
        mirrored = [
            ({_mirror(i): w for i, w in anchors.items()}, (-offset[0], *offset[1:]))
            for anchors, offset in items
        ]
        self.add(name, items + mirrored)


@dataclasses.dataclass(frozen=True, eq=False)
class Identity:
    """A synthetic person: neutral 3D shape, colours and drawing styles.

    Args:
        points: (N, 3) float64 neutral points in the canonical frame: 66 landmarks, then the
            render points.
        anchors: (N - 66, 66) matrix tying render points to landmarks.
        slices: name -> slice of ``points`` for each group of render points.
        skin: RGB skin colour (0-255 floats).
        lips: RGB lip colour.
        brows: RGB brow colour.
        hair: RGB hair colour.
        iris: RGB iris colour.
        wrinkle_depth: how dark this person's wrinkles and furrows get (0.6-1.2).
        brow_thickness: brow thickness in canonical units.

    Example:
        >>> identity = sample_identity(np.random.default_rng(0))
        >>> identity.points.shape[1]
        3
    """

    points: np.ndarray
    anchors: np.ndarray
    slices: dict[str, slice]
    skin: np.ndarray
    lips: np.ndarray
    brows: np.ndarray
    hair: np.ndarray
    iris: np.ndarray
    wrinkle_depth: float
    brow_thickness: float

    @property
    def landmarks(self) -> np.ndarray:
        """Neutral 66 landmarks in the canonical frame, (66, 3)."""
        return self.points[:NUM_LANDMARKS]


def _neutral_landmarks(rng: np.random.Generator) -> np.ndarray:
    """Samples a neutral 66-point shape (canonical frame, z from a head-like surface)."""
    u = rng.uniform
    face_width = u(0.9, 1.08)
    jaw_top = u(-0.3, -0.2)
    chin_y = u(0.98, 1.15)
    squareness = u(0.55, 0.95)
    eye_x = u(0.36, 0.44)
    eye_y = u(-0.33, -0.26)
    eye_half_width = u(0.14, 0.18)
    eye_half_height = u(0.045, 0.065)
    brow_gap = u(0.17, 0.25)
    brow_arch = u(0.04, 0.11)
    brow_inner_x = u(0.12, 0.2)
    brow_outer_x = u(0.72, 0.84)
    nose_tip_y = u(0.05, 0.14)
    nose_half_width = u(0.14, 0.2)
    mouth_y = u(0.43, 0.55)
    mouth_half_width = u(0.24, 0.33)
    upper_lip = u(0.045, 0.08)
    lower_lip = u(0.06, 0.1)

    pts = np.zeros((NUM_LANDMARKS, 3))
    theta = np.linspace(0.0, np.pi, 17)
    cos = -np.cos(theta)
    pts[_JAW, 0] = face_width * np.sign(cos) * np.abs(cos) ** 0.9
    pts[_JAW, 1] = jaw_top + (chin_y - jaw_top) * np.sin(theta) ** squareness

    brow_x = np.linspace(-brow_outer_x, -brow_inner_x, 5)
    t = np.linspace(0.0, 1.0, 5)
    brow_y = eye_y - brow_gap - brow_arch * np.sin(np.pi * (0.25 + 0.75 * t)) + 0.02 * t
    pts[_LEFT_BROW, 0], pts[_LEFT_BROW, 1] = brow_x, brow_y
    pts[_RIGHT_BROW, 0], pts[_RIGHT_BROW, 1] = -brow_x, brow_y

    bridge_top = eye_y - 0.04
    pts[27:31, 0] = 0.0
    pts[27:31, 1] = np.linspace(bridge_top, nose_tip_y, 4)
    base_y = nose_tip_y + 0.07
    pts[31:36, 0] = np.array([-1.0, -0.5, 0.0, 0.5, 1.0]) * nose_half_width
    pts[31:36, 1] = base_y - np.array([0.04, 0.01, 0.0, 0.01, 0.04])

    for sign, eye in ((-1.0, _LEFT_EYE), (1.0, _RIGHT_EYE)):
        cx, w, h = sign * eye_x, eye_half_width, eye_half_height
        # Ordered as the 66-point scheme: left eye outer, upper, upper, inner, lower, lower;
        # right eye inner, upper, upper, outer, lower, lower.
        xs = np.array([-w, -w / 3, w / 3, w, w / 3, -w / 3])
        ys = np.array([0.0, -h, -h, 0.0, h * 0.8, h * 0.8])
        if sign < 0:
            pts[eye, 0] = cx + xs
        else:
            pts[eye, 0] = cx - xs[[3, 2, 1, 0, 5, 4]]
            ys = ys[[3, 2, 1, 0, 5, 4]]
        pts[eye, 1] = eye_y + ys
        pts[eye[0], 1] += 0.01  # the outer corner sits a little lower

    w = mouth_half_width
    outer_x = np.array([-1.0, -0.62, -0.22, 0.0, 0.22, 0.62, 1.0, 0.62, 0.3, 0.0, -0.3, -0.62]) * w
    outer_y = np.array(
        [
            0.0,
            -upper_lip * 0.8,
            -upper_lip * 1.1,
            -upper_lip * 0.9,
            -upper_lip * 1.1,
            -upper_lip * 0.8,
            0.0,
            lower_lip * 0.75,
            lower_lip,
            lower_lip * 1.05,
            lower_lip,
            lower_lip * 0.75,
        ]
    )
    pts[48:60, 0], pts[48:60, 1] = outer_x, mouth_y + outer_y
    pts[60:63, 0] = np.array([-0.45, 0.0, 0.45]) * w
    pts[60:63, 1] = mouth_y - 0.004
    pts[63:66, 0] = np.array([0.45, 0.0, -0.45]) * w
    pts[63:66, 1] = mouth_y + 0.004

    # Depth: an ellipsoidal head with a nose, sunken eyes and lips in front of the teeth.
    x = pts[:, 0]
    pts[:, 2] = 0.85 * np.sqrt(np.clip(1.0 - (x / 1.1) ** 2, 0.0, None))
    pts[27:31, 2] += np.array([0.12, 0.2, 0.3, 0.4])
    pts[31:36, 2] += np.array([0.12, 0.2, 0.25, 0.2, 0.12])
    pts[36:48, 2] -= 0.06
    pts[48:66, 2] += 0.06

    # Small asymmetries keep faces from being perfect mirror images.
    pts[:, :2] += rng.normal(0.0, 0.006, size=(NUM_LANDMARKS, 2))
    return pts


def _render_points(lm: np.ndarray, brow_thickness: float, hairline: float) -> _Points:
    """Defines the render points of a face with neutral landmarks ``lm``."""
    p = _Points(lm)
    nose_top = 27

    def rigid(xy: tuple[float, float], z: float = 0.0) -> tuple[dict[int, float], tuple]:
        return {nose_top: 1.0}, (
            xy[0] - lm[nose_top, 0],
            xy[1] - lm[nose_top, 1],
            z - lm[nose_top, 2],
        )

    # Head top (temple to temple over the forehead) and hair cap above it.
    jaw_l, jaw_r = lm[0], lm[16]
    top_y = lm[27, 1] - hairline
    arc = np.linspace(np.pi, 0.0, 9)
    half = 0.5 * (jaw_r[0] - jaw_l[0])
    p.add(
        "forehead",
        [
            rigid((half * np.cos(a), jaw_l[1] + (top_y - jaw_l[1]) * np.sin(a) ** 0.7), 0.2)
            for a in arc
        ],
    )
    p.add(
        "hair",
        [
            rigid(
                (1.08 * half * np.cos(a), jaw_l[1] - 0.05 + (top_y - 0.32 - jaw_l[1]) * np.sin(a)),
                0.1,
            )
            for a in arc
        ],
    )
    neck_y = lm[8, 1]
    p.add(
        "neck",
        [
            rigid((-0.55, neck_y - 0.4)),
            rigid((0.55, neck_y - 0.4)),
            rigid((0.7, neck_y + 1.2)),
            rigid((-0.7, neck_y + 1.2)),
        ],
    )

    # Brow outlines: thickest in the middle, tapering outwards.
    taper = np.array([0.55, 0.85, 1.0, 1.0, 0.9]) * brow_thickness / 2
    brow_items = []
    for sign in (-1.0, 1.0):
        brow_items += [({i: 1.0}, (0.0, sign * t)) for i, t in zip(_LEFT_BROW, taper, strict=True)]
    # Left top, left bottom, then the right brow's top and bottom.
    p.add_mirrored("brow_outline", brow_items)

    # Eye covers: skin above the upper lid and below the lower lid hides the iris beyond them.
    upper = [36, 37, 38, 39]
    lower = [39, 40, 41, 36]
    p.add_mirrored("eye_cover_up", [({i: 1.0}, (0.0, -0.13)) for i in upper])
    p.add_mirrored("eye_cover_down", [({i: 1.0}, (0.0, 0.12)) for i in lower])
    p.add_mirrored(
        "lid_crease",
        [
            ({36: 0.6, 37: 0.4}, (0.0, -0.03)),
            ({37: 1.0}, (0.0, -0.035)),
            ({38: 1.0}, (0.0, -0.035)),
            ({38: 0.6, 39: 0.4}, (0.0, -0.025)),
        ],
    )
    p.add_mirrored("iris", [({36: 0.5, 39: 0.5}, (0.0, 0.0, 0.02))])

    # Cheek centres (AU6, AU12 raise them) and the furrow under the lower lid.
    p.add_mirrored("cheek", [({41: 0.4, 48: 0.3, 31: 0.3}, (-0.16, 0.02))])
    p.add_mirrored(
        "infraorbital",
        [({41: 1.0}, (-0.04, 0.05)), ({40: 0.5, 41: 0.5}, (0.0, 0.065)), ({40: 1.0}, (0.05, 0.05))],
    )
    # Crow's feet: three short lines fanning out of the outer eye corner (AU6).
    feet = []
    for dy in (-0.035, 0.0, 0.035):
        feet += [({36: 1.0}, (-0.045, dy * 0.6)), ({36: 1.0}, (-0.13, dy * 1.6))]
    p.add_mirrored("crows_feet", feet)

    # Glabella: vertical lines between the brows (AU4), one pair of ends per side.
    p.add_mirrored(
        "glabella", [({21: 0.8, 22: 0.2}, (0.025, 0.0)), ({21: 0.8, 22: 0.2}, (0.035, 0.11))]
    )
    # Forehead lines: three rows of five points, drawn inner (AU1) and outer (AU2) segments.
    rows = []
    for r in range(3):
        for c, x in enumerate(np.linspace(-0.55, 0.55, 5)):
            brow = [18, 20, 21, 23, 25][c] if c != 2 else None
            anchors = {nose_top: 0.5, brow: 0.5} if brow is not None else {nose_top: 1.0}
            base = 0.5 * lm[nose_top] + (0.5 * lm[brow] if brow is not None else 0.5 * lm[nose_top])
            y = min(lm[19, 1], lm[24, 1]) - 0.13 - 0.075 * r - 0.02 * np.cos(x * 2.5)
            rows.append((anchors, (x - base[0], y - base[1], 0.2 - base[2])))
    p.add("forehead_lines", rows)

    # Nose wrinkles (AU9): short horizontal lines across the upper nose, and the nose sides.
    p.add_mirrored(
        "nose_wrinkles",
        [
            ({27: 0.7, 28: 0.3}, (-0.07, 0.02)),
            ({27: 0.7, 28: 0.3}, (-0.005, 0.01)),
            ({28: 1.0}, (-0.08, 0.0)),
            ({28: 1.0}, (-0.005, -0.01)),
            ({28: 0.5, 29: 0.5}, (-0.09, 0.0)),
            ({28: 0.5, 29: 0.5}, (-0.03, -0.01)),
        ],
    )
    p.add_mirrored("nostril", [({32: 1.0}, (0.0, -0.02))])
    # Nasolabial furrow: from the nose wing to beside the lip corner (AU10, AU12 deepen it).
    p.add_mirrored(
        "nasolabial",
        [
            ({31: 1.0}, (-0.05, -0.01)),
            ({31: 0.5, 48: 0.5}, (-0.1, 0.0)),
            ({48: 1.0}, (-0.07, 0.06)),
        ],
    )
    # Dimples beside the lip corners (AU14).
    p.add_mirrored("dimple", [({48: 1.0}, (-0.06, -0.005))])
    # Lines from the lip corners down (AU15) and out (AU20).
    p.add_mirrored("depressor", [({48: 1.0}, (-0.01, 0.04)), ({48: 1.0}, (-0.03, 0.13))])
    p.add_mirrored("stretch", [({48: 1.0}, (-0.05, 0.01)), ({48: 1.0}, (-0.17, 0.06))])
    # Lip-press bulges above the upper and below the lower lip (AU24).
    p.add(
        "press",
        [
            ({49: 1.0}, (0.0, -0.035)),
            ({51: 1.0}, (0.0, -0.04)),
            ({53: 1.0}, (0.0, -0.035)),
            ({59: 1.0}, (0.0, 0.035)),
            ({57: 1.0}, (0.0, 0.04)),
            ({55: 1.0}, (0.0, 0.035)),
        ],
    )
    # Chin: boss centre and the mentolabial furrow (AU17).
    p.add(
        "chin",
        [
            ({8: 0.6, 57: 0.4}, (0.0, 0.0)),
            ({57: 0.55, 8: 0.45}, (-0.12, 0.0)),
            ({57: 0.7, 8: 0.3}, (0.0, 0.0)),
            ({57: 0.55, 8: 0.45}, (0.12, 0.0)),
        ],
    )
    return p


def _sample_colour(rng: np.random.Generator) -> dict[str, np.ndarray]:
    tone = rng.uniform(0.0, 1.0)
    light, dark = np.array([236.0, 196.0, 168.0]), np.array([98.0, 62.0, 42.0])
    skin = light + (dark - light) * tone + rng.normal(0.0, 6.0, 3)
    lips = skin * np.array([0.82, 0.55, 0.58]) + np.array([25.0, 0.0, 5.0]) + rng.normal(0, 5, 3)
    hair_choices = np.array(
        [[30, 24, 20], [70, 45, 30], [120, 85, 50], [190, 160, 110], [110, 105, 100]], float
    )
    hair = hair_choices[rng.integers(len(hair_choices))] + rng.normal(0.0, 8.0, 3)
    brows = hair * rng.uniform(0.6, 0.9)
    iris_choices = np.array([[70, 45, 30], [60, 100, 140], [80, 110, 70], [40, 30, 25]], float)
    iris = iris_choices[rng.integers(len(iris_choices))]
    return {
        name: np.clip(value, 0.0, 255.0)
        for name, value in {
            "skin": skin,
            "lips": lips,
            "hair": hair,
            "brows": brows,
            "iris": iris,
        }.items()
    }


def sample_identity(rng: np.random.Generator) -> Identity:
    """Samples a synthetic person: shape, proportions, skin tone, brows, lips, hair.

    Args:
        rng: numpy random generator (the identity is a pure function of its state).

    Returns:
        An :class:`Identity`.

    Example:
        >>> a = sample_identity(np.random.default_rng(1))
        >>> b = sample_identity(np.random.default_rng(1))
        >>> bool(np.array_equal(a.points, b.points))
        True
    """
    landmarks = _neutral_landmarks(rng)
    brow_thickness = rng.uniform(0.035, 0.07)
    hairline = rng.uniform(0.55, 0.75)
    render = _render_points(landmarks, brow_thickness, hairline)
    anchors = np.stack(render.rows)
    extra = anchors @ landmarks + np.stack(render.offsets)
    colours = _sample_colour(rng)
    return Identity(
        points=np.concatenate([landmarks, extra]),
        anchors=anchors,
        slices=render.slices,
        wrinkle_depth=float(rng.uniform(0.7, 1.1)),
        brow_thickness=float(brow_thickness),
        **colours,
    )


def _landmark_displacements() -> dict[int, np.ndarray]:
    """Landmark displacement of each AU at intensity 5, canonical units, (66, 3) each.

    Values are given for the image's left half and mirrored; positive y is down.
    """
    fields: dict[int, np.ndarray] = {}

    def field(au: int, moves: dict[int, tuple[float, ...]], centre: dict[int, tuple] = ()) -> None:
        d = np.zeros((NUM_LANDMARKS, 3))
        for index, move in moves.items():
            d[index, : len(move)] = move
            mirrored = _mirror(index)
            if mirrored != index:
                d[mirrored, : len(move)] = (-move[0], *move[1:])
        for index, move in dict(centre).items():
            d[index, : len(move)] = move
        fields[au] = d

    field(1, {21: (0.006, -0.085), 20: (0.004, -0.06), 19: (0.0, -0.032), 18: (0.0, -0.012)})
    field(2, {17: (-0.01, -0.085), 18: (-0.005, -0.075), 19: (0.0, -0.045), 20: (0.0, -0.015)})
    field(
        4,
        {
            21: (0.035, 0.05),
            20: (0.025, 0.042),
            19: (0.012, 0.03),
            18: (0.004, 0.018),
            17: (0.0, 0.008),
            37: (0.0, 0.006),
            38: (0.0, 0.008),
        },
    )
    field(5, {37: (0.0, -0.035), 38: (0.0, -0.035), 36: (0.0, -0.004), 39: (0.0, -0.004)})
    field(6, {40: (0.0, -0.024), 41: (0.0, -0.026), 36: (0.0, -0.008), 37: (0.0, 0.006)})
    field(7, {40: (0.0, -0.032), 41: (0.0, -0.032), 37: (0.0, 0.012), 38: (0.0, 0.012)})
    field(
        9,
        {
            31: (0.01, -0.035),
            32: (0.0, -0.025),
            21: (0.01, 0.025),
            20: (0.0, 0.012),
            40: (0.0, -0.01),
            41: (0.0, -0.01),
            49: (0.0, -0.018),
            50: (0.0, -0.022),
        },
        centre={33: (0.0, -0.018), 29: (0.0, -0.01), 30: (0.0, -0.012), 51: (0.0, -0.02)},
    )
    field(
        10,
        {
            48: (0.0, -0.012),
            49: (0.0, -0.04),
            50: (0.0, -0.055),
            60: (0.0, -0.04),
            31: (0.0, -0.01),
        },
        centre={51: (0.0, -0.05), 61: (0.0, -0.045)},
    )
    field(
        12,
        {
            48: (-0.05, -0.075, -0.02),
            49: (-0.018, -0.025),
            59: (-0.03, -0.045),
            58: (-0.01, -0.015),
            60: (-0.025, -0.035),
            65: (-0.025, -0.03),
            40: (0.0, -0.005),
            41: (0.0, -0.006),
        },
    )
    field(14, {48: (0.02, -0.006, -0.03), 49: (0.006, 0.0), 59: (0.006, 0.0), 60: (0.01, 0.0)})
    field(
        15,
        {
            48: (-0.004, 0.055),
            49: (0.0, 0.012),
            59: (0.0, 0.025),
            58: (0.0, 0.01),
            60: (0.0, 0.018),
            65: (0.0, 0.02),
        },
    )
    field(
        17,
        {
            7: (0.0, -0.04),
            6: (0.0, -0.02),
            59: (0.0, -0.02),
            58: (0.0, -0.035),
            65: (0.0, -0.015),
            49: (0.0, -0.006),
            50: (0.0, -0.008),
            60: (0.0, -0.01),
        },
        centre={8: (0.0, -0.05), 57: (0.0, -0.04), 64: (0.0, -0.018), 51: (0.0, -0.008)},
    )
    field(
        20,
        {
            48: (-0.065, 0.012),
            49: (-0.028, 0.006),
            50: (-0.01, 0.006),
            59: (-0.032, 0.004),
            58: (-0.012, -0.004),
            60: (-0.03, 0.006),
            65: (-0.03, 0.0),
        },
        centre={51: (0.0, 0.006), 57: (0.0, -0.008)},
    )
    field(
        23,
        {
            48: (0.016, 0.0),
            49: (0.004, 0.01),
            50: (0.0, 0.014),
            59: (0.004, -0.012),
            58: (0.0, -0.014),
            60: (0.01, 0.0),
        },
        centre={51: (0.0, 0.014), 57: (0.0, -0.016)},
    )
    field(
        24,
        {
            48: (0.01, 0.0),
            49: (0.0, 0.014),
            50: (0.0, 0.018),
            59: (0.0, -0.016),
            58: (0.0, -0.02),
        },
        centre={51: (0.0, 0.018), 57: (0.0, -0.022)},
    )
    field(
        25,
        {
            59: (0.0, 0.022),
            58: (0.0, 0.03),
            65: (0.0, 0.038),
            60: (0.0, -0.008),
            49: (0.0, -0.004),
            50: (0.0, -0.006),
        },
        centre={57: (0.0, 0.032), 64: (0.0, 0.045), 61: (0.0, -0.01), 51: (0.0, -0.006)},
    )
    jaw_drop = {i: (0.0, 0.15 * max(0.0, 1.0 - abs(i - 8) / 6.5) ** 1.2) for i in range(2, 8)}
    field(
        26,
        {
            **jaw_drop,
            48: (0.006, 0.03),
            59: (0.0, 0.09),
            58: (0.0, 0.11),
            65: (0.0, 0.1),
            60: (0.0, -0.004),
        },
        centre={8: (0.0, 0.15), 57: (0.0, 0.12), 64: (0.0, 0.115), 61: (0.0, -0.004)},
    )
    return fields


# Render-point movement of their own (beyond following their landmarks), at intensity 5.
_RENDER_DISPLACEMENTS: dict[int, dict[str, tuple[float, float]]] = {
    6: {"cheek": (0.0, -0.07), "infraorbital": (0.0, -0.03)},
    12: {"cheek": (0.0, -0.03)},
    10: {"nasolabial": (0.0, -0.015)},
}

_LANDMARK_FIELDS = _landmark_displacements()
#: Overall strength of the AU displacements (tuned so that a small CNN learns every AU without
#: any being trivial: see experiments/benchmarks/results/synth_learnability.md).
AU_GAIN = 1.5
# Lower-face AUs whose landmark motion is small next to the identity variation get more.
_AU_GAINS = {10: 1.3, 14: 2.2, 15: 1.4, 20: 1.5, 23: 1.9, 24: 1.6, 25: 1.3}


def au_displacements(identity: Identity) -> np.ndarray:
    """Displacement of every point of ``identity`` for each AU at intensity 5.

    Args:
        identity: the face whose render points follow the landmarks.

    Returns:
        (17, N, 3) float64 array, AUs in :data:`tfau.synth.aus.ALL_AUS` order.

    Example:
        >>> identity = sample_identity(np.random.default_rng(0))
        >>> au_displacements(identity).shape[0]
        17
    """
    n = identity.points.shape[0]
    out = np.zeros((len(ALL_AUS), n, 3))
    for k, au in enumerate(ALL_AUS):
        landmark_field = _LANDMARK_FIELDS[au] * (AU_GAIN * _AU_GAINS.get(au, 1.0))
        out[k, :NUM_LANDMARKS] = landmark_field
        out[k, NUM_LANDMARKS:] = identity.anchors @ landmark_field
        for name, (dx, dy) in _RENDER_DISPLACEMENTS.get(au, {}).items():
            sl = identity.slices[name]
            half = (sl.stop - sl.start) // 2
            moves = AU_GAIN * np.array([dx, dy, 0.0])
            out[k, sl.start : sl.start + half] += moves
            out[k, sl.start + half : sl.stop] += moves * np.array([-1.0, 1.0, 1.0])
    return out


# Inner-lip pairs (upper, lower) that may touch but never cross.
_INNER_UPPER = np.array([60, 61, 62])
_INNER_LOWER = np.array([65, 64, 63])


def deform(identity: Identity, displacements: np.ndarray, intensities: np.ndarray) -> np.ndarray:
    """Points of ``identity`` with AUs at ``intensities`` (canonical frame).

    Args:
        identity: the face.
        displacements: :func:`au_displacements` of the face, (17, N, 3).
        intensities: (..., 17) AU intensities in [0, 5] (continuous), ALL_AUS order.

    Returns:
        (..., N, 3) float64 points.
    """
    weights = np.asarray(intensities, dtype=np.float64) / 5.0
    flat = displacements.reshape(displacements.shape[0], -1)
    points = identity.points + (weights @ flat).reshape(
        *weights.shape[:-1], *displacements.shape[1:]
    )
    # Lips pressed upwards (AU17, AU24) must not push the lower lip through the upper one.
    points[..., _INNER_LOWER, 1] = np.maximum(
        points[..., _INNER_LOWER, 1], points[..., _INNER_UPPER, 1]
    )
    return points


@dataclasses.dataclass(frozen=True)
class Pose:
    """Head pose and placement in the image.

    Args:
        yaw: rotation about the vertical axis in degrees (positive turns the face towards the
            image's right).
        pitch: rotation about the horizontal axis in degrees (positive tilts the face down).
        roll: in-plane rotation in degrees (positive is clockwise in the image).
        scale: pixels per canonical unit (the face is about 2 units wide).
        cx: image x of the head centre.
        cy: image y of the head centre.
    """

    yaw: float
    pitch: float
    roll: float
    scale: float
    cx: float
    cy: float


def rotation_matrix(yaw, pitch, roll) -> np.ndarray:
    """Rotations (degrees): roll about z after pitch about x after yaw about y.

    Args:
        yaw: scalar or (...,) array of angles in degrees; ``pitch`` and ``roll`` alike.

    Returns:
        (..., 3, 3) rotation matrices.
    """
    y, p, r = (np.deg2rad(np.asarray(v, dtype=np.float64)) for v in (yaw, pitch, roll))
    y, p, r = np.broadcast_arrays(y, p, r)
    zero, one = np.zeros_like(y), np.ones_like(y)
    cy, sy, cp, sp, cr, sr = np.cos(y), np.sin(y), np.cos(p), np.sin(p), np.cos(r), np.sin(r)
    ry = np.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], -1).reshape(*y.shape, 3, 3)
    rx = np.stack([one, zero, zero, zero, cp, -sp, zero, sp, cp], -1).reshape(*y.shape, 3, 3)
    rz = np.stack([cr, -sr, zero, sr, cr, zero, zero, zero, one], -1).reshape(*y.shape, 3, 3)
    return rz @ rx @ ry


# Centre of rotation: inside the head, behind the face surface.
_HEAD_CENTRE = np.array([0.0, 0.1, -0.6])


def project(points: np.ndarray, pose: Pose) -> np.ndarray:
    """Projects canonical points to 0-based image coordinates (weak perspective).

    Args:
        points: (N, 3) canonical points.
        pose: head pose and placement.

    Returns:
        (N, 2) float64 image ``(x, y)``.
    """
    rotation = rotation_matrix(pose.yaw, pose.pitch, pose.roll)
    rotated = (points - _HEAD_CENTRE) @ rotation.T
    return rotated[:, :2] * pose.scale + np.array([pose.cx, pose.cy])


def project_many(points: np.ndarray, poses: np.ndarray) -> np.ndarray:
    """Projects a batch of point sets, one pose each.

    Args:
        points: (T, N, 3) canonical points.
        poses: (T, 6) yaw, pitch, roll, scale, cx, cy (as in :class:`Pose`).

    Returns:
        (T, N, 2) float64 image coordinates, equal to :func:`project` frame by frame.
    """
    rotation = rotation_matrix(poses[:, 0], poses[:, 1], poses[:, 2])
    rotated = np.matmul(points - _HEAD_CENTRE, np.swapaxes(rotation, -1, -2))
    return rotated[..., :2] * poses[:, 3, None, None] + poses[:, None, 4:6]


def to_49(landmarks66: np.ndarray) -> np.ndarray:
    """The 49 BP4D landmarks of 66-point landmarks ``(..., 66, 2)``."""
    return np.asarray(landmarks66)[..., _INDEX_49, :]
