"""Draws SynthAU faces with OpenCV (anti-aliased primitives, sub-pixel coordinates).

Everything an AU changes is drawn from the projected face points, so each AU's pixels stay in
its region: brows and forehead (AU1, AU2, AU4), eyelids (AU5, AU7), cheeks and eye corners
(AU6), nose (AU9), upper lip and nasolabial furrows (AU10, AU12), lip corners (AU12, AU14,
AU15, AU20), lips (AU23, AU24, AU25), chin and jaw (AU17, AU26). Wrinkles and furrows are
lines whose colour moves from the skin colour towards a darker shade with intensity; at
intensity 0 they are not drawn at all.

Colours are RGB throughout; convert to BGR only when handing frames to OpenCV writers.
"""

from __future__ import annotations

import cv2
import numpy as np

from tfau.synth.aus import ALL_AUS
from tfau.synth.face import Identity

_SHIFT = 4  # OpenCV fixed-point bits: coordinates are drawn with 1/16 pixel precision
_ONE = 1 << _SHIFT
_AA = cv2.LINE_AA
_K = {au: k for k, au in enumerate(ALL_AUS)}
_MIN_ALPHA = 1e-3
# Width of wrinkles and furrows, canonical units (the face is about 2 units wide).
_WRINKLE = 0.02


def _fixed(points: np.ndarray) -> np.ndarray:
    return np.round(points * _ONE).astype(np.int32)


def _colour(rgb: np.ndarray) -> tuple[float, float, float]:
    return (float(rgb[0]), float(rgb[1]), float(rgb[2]))


def _mix(base: np.ndarray, target: np.ndarray, alpha: float) -> tuple[float, float, float]:
    return _colour(base + (target - base) * min(max(alpha, 0.0), 1.0))


def _idx(sl: slice) -> np.ndarray:
    return np.arange(sl.start, sl.stop)


def _halves(sl: slice) -> tuple[np.ndarray, np.ndarray]:
    idx = _idx(sl)
    half = len(idx) // 2
    return idx[:half], idx[half:]


_CHIN_DOTS = np.array([[-0.06, -0.03], [0.06, -0.03], [0.0, 0.02], [-0.04, 0.06], [0.04, 0.06]])
_INSIDE = np.array([48, 60, 61, 62, 54, 63, 64, 65])
_LIP_LINE = np.array([48, 60, 61, 62, 54])
_OUTER_LIP = np.arange(48, 60)
_EYES = (np.arange(36, 42), np.arange(42, 48))
_UPPER_LIDS = (np.array([36, 37, 38, 39]), np.array([42, 43, 44, 45]))
_LOWER_LIDS = (np.array([39, 40, 41, 36]), np.array([45, 46, 47, 42]))


class FaceRenderer:
    """Draws one identity's face; index lists and colours are prepared once.

    Args:
        identity: the person (colours, render-point layout).

    Example:
        >>> import numpy as np
        >>> from tfau.synth.face import Pose, deform, au_displacements, project, sample_identity
        >>> person = sample_identity(np.random.default_rng(0))
        >>> zero = np.zeros(17)
        >>> shape = deform(person, au_displacements(person), zero)
        >>> pts = project(shape, Pose(0, 0, 0, 60, 128, 100))
        >>> canvas = np.zeros((192, 256, 3), np.uint8)
        >>> FaceRenderer(person).render(canvas, pts, zero, 60.0)
        >>> bool(canvas.any())
        True
    """

    def __init__(self, identity: Identity) -> None:
        self.identity = identity
        sl = identity.slices
        skin = identity.skin
        self.skin = skin
        self.shadow = skin * 0.72
        self.deep = skin * (1.0 - 0.55 * identity.wrinkle_depth)
        self.highlight = np.minimum(skin * 1.12 + 8.0, 255.0)
        self.blush = skin * np.array([1.04, 0.9, 0.9]) + np.array([6.0, 0.0, 0.0])
        self.c_skin = _colour(skin)
        self.c_neck = _colour(skin * 0.82)
        self.c_hair = _colour(identity.hair)
        self.c_brows = _colour(identity.brows)
        self.c_lash = _colour(identity.brows * 0.5)
        self.c_lower_lid = _colour(self.shadow)
        self.c_crease = _colour(skin * 0.8)
        self.c_nose_side = _colour(skin * 0.86)
        self.c_nose_base = _colour(skin * 0.7)
        self.c_nostril = _colour(skin * 0.35)
        self.c_lips = _colour(identity.lips)
        self.c_iris = _colour(identity.iris)

        forehead = _idx(sl["forehead"])
        self.neck = _idx(sl["neck"])
        self.head = np.concatenate([np.arange(17), forehead[::-1]])
        self.hair = np.concatenate([_idx(sl["hair"]), forehead[::-1]])
        self.cheeks = _idx(sl["cheek"])
        self.irises = _idx(sl["iris"])
        up_l, up_r = _halves(sl["eye_cover_up"])
        dn_l, dn_r = _halves(sl["eye_cover_down"])
        self.covers = [
            np.concatenate([_UPPER_LIDS[0], up_l[::-1]]),
            np.concatenate([_LOWER_LIDS[0], dn_l[::-1]]),
            np.concatenate([_UPPER_LIDS[1], up_r[::-1]]),
            np.concatenate([_LOWER_LIDS[1], dn_r[::-1]]),
        ]
        self.creases = list(_halves(sl["lid_crease"]))
        self.infraorbital = list(_halves(sl["infraorbital"]))
        feet = _idx(sl["crows_feet"])
        self.crows_feet = [feet[i : i + 2] for i in range(0, len(feet), 2)]
        rows = _idx(sl["forehead_lines"]).reshape(3, 5)
        self.forehead_inner = [r[[1, 2]] for r in rows] + [r[[2, 3]] for r in rows]
        self.forehead_outer = [r[[0, 1]] for r in rows] + [r[[3, 4]] for r in rows]
        g = _idx(sl["glabella"])
        self.glabella = [g[[0, 1]], g[[2, 3]]]
        outline = _idx(sl["brow_outline"])
        self.brows = [np.concatenate([b[:5], b[5:][::-1]]) for b in (outline[:10], outline[10:])]
        self.nostrils = _idx(sl["nostril"])
        w = _idx(sl["nose_wrinkles"])
        self.nose_wrinkles = [w[[i, i + 1]] for i in (0, 2, 4, 6, 8, 10)]
        self.nasolabial = list(_halves(sl["nasolabial"]))
        self.dimples = _idx(sl["dimple"])
        q = _idx(sl["depressor"])
        self.depressor = [q[[0, 1]], q[[2, 3]]]
        q = _idx(sl["stretch"])
        self.stretch = [q[[0, 1]], q[[2, 3]]]
        q = _idx(sl["press"])
        self.press = [q[:3], q[3:]]
        chin = _idx(sl["chin"])
        self.chin_centre, self.mentolabial = chin[0], chin[1:]

    def render(
        self,
        canvas: np.ndarray,
        points: np.ndarray,
        intensities: np.ndarray,
        scale: float,
        roll: float = 0.0,
    ) -> None:
        """Draws the face onto ``canvas`` in place.

        Args:
            canvas: (H, W, 3) uint8 RGB image (the background).
            points: (N, 2) projected points of the deformed face (landmarks, render points).
            intensities: (17,) AU intensities in [0, 5], :data:`ALL_AUS` order.
            scale: pixels per canonical unit (sets line widths and radii).
            roll: in-plane rotation in degrees (orients ellipses).
        """
        s = np.clip(np.asarray(intensities, dtype=np.float64) / 5.0, 0.0, 1.0).tolist()
        a = dict(zip(ALL_AUS, s, strict=True))
        fx = _fixed(points)
        skin, shadow, deep = self.skin, self.shadow, self.deep

        def width(units: float) -> int:
            return max(1, int(units * scale + 0.5))

        def fill(polys, colour) -> None:
            cv2.fillPoly(canvas, [fx[i] for i in polys], colour, _AA, _SHIFT)

        def lines(curves, colour, units: float, closed: bool = False) -> None:
            cv2.polylines(
                canvas, [fx[i] for i in curves], closed, colour, width(units), _AA, _SHIFT
            )

        def ellipse(index: int, axes, colour) -> None:
            ax = (max(1, int(axes[0] * scale * _ONE)), max(1, int(axes[1] * scale * _ONE)))
            cv2.ellipse(
                canvas, tuple(fx[index].tolist()), ax, roll, 0, 360, colour, -1, _AA, _SHIFT
            )

        def disc(centre, radius: float, colour) -> None:
            r = max(1, int(radius * scale * _ONE))
            cv2.circle(canvas, tuple(centre.tolist()), r, colour, -1, _AA, _SHIFT)

        # Neck, head, hair.
        fill([self.neck], self.c_neck)
        fill([self.head], self.c_skin)
        fill([self.hair], self.c_hair)

        # Cheeks: a soft blush that AU6 (and AU12, through the points) lift and brighten.
        cheek = _mix(skin, self.blush, 0.45 + 0.55 * a[6])
        for index in self.cheeks:
            ellipse(index, (0.15, 0.1), cheek)

        # Eyes: sclera, iris, then skin covers that hide the iris beyond the lids.
        fill(_EYES, (236.0, 232.0, 226.0))
        for index in self.irises:
            disc(fx[index], 0.075, self.c_iris)
            disc(fx[index], 0.032, (20.0, 15.0, 15.0))
        fill(self.covers, self.c_skin)
        lines(_UPPER_LIDS, self.c_lash, 0.022)
        lines(_LOWER_LIDS, self.c_lower_lid, 0.01)
        lines(self.creases, self.c_crease, 0.01)

        # Furrow under the lower lids: faint at rest, deeper with AU6 and AU7.
        lines(self.infraorbital, _mix(skin, shadow, 0.15 + 0.45 * a[6] + 0.5 * a[7]), _WRINKLE)
        if a[6] > _MIN_ALPHA:  # crow's feet
            lines(self.crows_feet, _mix(skin, deep, 0.9 * a[6]), _WRINKLE)
        if a[1] > _MIN_ALPHA:  # forehead lines, inner part
            lines(self.forehead_inner, _mix(skin, deep, 0.8 * a[1]), _WRINKLE)
        if a[2] > _MIN_ALPHA:  # forehead lines, outer parts
            lines(self.forehead_outer, _mix(skin, deep, 0.8 * a[2]), _WRINKLE)
        if a[4] > _MIN_ALPHA:  # vertical lines between the brows
            lines(self.glabella, _mix(skin, deep, 0.95 * a[4]), _WRINKLE)
        fill(self.brows, self.c_brows)

        # Nose: side, base, nostrils; wrinkles across the bridge with AU9.
        lines([np.array([28, 29, 31])], self.c_nose_side, 0.012)
        lines([np.arange(31, 36)], self.c_nose_base, 0.014)
        for index in self.nostrils:
            ellipse(index, (0.035, 0.018), self.c_nostril)
        if a[9] > _MIN_ALPHA:
            lines(self.nose_wrinkles, _mix(skin, deep, 0.95 * a[9]), _WRINKLE)

        # Nasolabial furrows: faint at rest, deeper with AU12, AU10 and AU9.
        fold = 0.12 + 0.55 * a[12] + 0.45 * a[10] + 0.3 * a[9]
        lines(self.nasolabial, _mix(skin, shadow, fold), _WRINKLE)
        if a[14] > _MIN_ALPHA:  # dimples
            for index in self.dimples:
                ellipse(index, (0.045, 0.085), _mix(skin, deep, a[14]))
        if a[15] > _MIN_ALPHA:  # lines down from the lip corners
            lines(self.depressor, _mix(skin, deep, 0.9 * a[15]), _WRINKLE)
        if a[20] > _MIN_ALPHA:  # lines out from the lip corners
            lines(self.stretch, _mix(skin, deep, 0.9 * a[20]), _WRINKLE)
        if a[24] > _MIN_ALPHA:  # lip-press bulges
            lines(self.press, _mix(skin, self.highlight, a[24]), 1.5 * _WRINKLE)

        # Chin (AU17): mentolabial furrow and the dimpled chin boss.
        lines([self.mentolabial], _mix(skin, deep, 0.1 + 0.8 * a[17]), _WRINKLE)
        if a[17] > _MIN_ALPHA:
            dot = _mix(skin, deep, 0.85 * a[17])
            for offset in np.round(_CHIN_DOTS * scale * _ONE).astype(np.int32):
                disc(fx[self.chin_centre] + offset, 0.022, dot)

        # Mouth: lips, the dark inside, upper teeth when the lips part, and the lip line.
        lips = self.identity.lips
        fill([_OUTER_LIP], self.c_lips)
        fill([_INSIDE], (45.0, 22.0, 24.0))
        gap = points[[65, 64, 63], 1] - points[[60, 61, 62], 1]
        if gap.max() > 0.5:
            bottom = points[[62, 61, 60]].copy()
            bottom[:, 1] += np.minimum(gap[::-1] * 0.55, 0.06 * scale)
            teeth = np.concatenate([points[[48, 60, 61, 62, 54]], bottom])
            cv2.fillPoly(canvas, [_fixed(teeth)], (225.0, 220.0, 205.0), _AA, _SHIFT)
        press = max(a[23], a[24])
        lines([_LIP_LINE], _mix(lips * 0.7, lips * 0.35, press), 0.012 + 0.008 * press)
        if a[23] > _MIN_ALPHA:  # tightened lips: a darker vermilion border
            lines([_OUTER_LIP], _mix(lips, lips * 0.45, a[23]), _WRINKLE, closed=True)


def render_face(
    canvas: np.ndarray,
    identity: Identity,
    points: np.ndarray,
    intensities: np.ndarray,
    scale: float,
    roll: float = 0.0,
) -> None:
    """Draws a face onto ``canvas`` in place (one-off use of :class:`FaceRenderer`).

    Args:
        canvas: (H, W, 3) uint8 RGB image (the background).
        identity: the person.
        points: (N, 2) projected points of the deformed face.
        intensities: (17,) AU intensities in [0, 5].
        scale: pixels per canonical unit.
        roll: in-plane rotation in degrees.
    """
    FaceRenderer(identity).render(canvas, points, intensities, scale, roll)
