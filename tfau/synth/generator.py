"""SynthAU: procedural face sequences with known action units and landmarks.

A :class:`SynthAU` generator is a pure function of its seed: the person behind a subject name,
the AU time courses and head motion of a (subject, task) sequence, the background, light and
noise are all drawn from random streams keyed by ``(seed, subject, task, view)``, so the same
call gives the same bytes, in any order and in any process.

Example:
    >>> from tfau.synth import SynthAU
    >>> gen = SynthAU(profile="bp4d", image_size=(130, 174), seed=0)
    >>> seq = gen.sequence("F001", "T1", num_frames=4)
    >>> seq.frame(0).shape, seq.landmarks49.shape
    ((174, 130, 3), (1, 4, 49, 2))
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Iterator, Sequence

import cv2
import numpy as np

from tfau.synth.aus import ALL_AUS, AUProfile, get_profile
from tfau.synth.face import (
    NUM_LANDMARKS,
    Identity,
    Pose,
    au_displacements,
    deform,
    project_many,
    sample_identity,
    to_49,
)
from tfau.synth.render import FaceRenderer
from tfau.synth.sequence import integer_intensities, sample_head_motion, sample_intensities

#: Camera (yaw, pitch) offsets in degrees approximating FERA 2017's nine views of BP4D
#: (three yaws by three pitches), the multi-view setting of AUNets.
FERA2017_VIEWS: tuple[tuple[float, float], ...] = tuple(
    (yaw, pitch) for pitch in (-20.0, 0.0, 20.0) for yaw in (-40.0, 0.0, 40.0)
)
#: DISFA's two cameras (left, right): a stereo pair a little to each side of the subject.
DISFA_VIEWS: tuple[tuple[float, float], ...] = ((-12.0, 0.0), (12.0, 0.0))

_NOISE_BANK = 8


#: Width of the face as a fraction of the frame's width, unless `SynthAU` is told otherwise.
DEFAULT_FACE_WIDTH = 0.45


def _stream(seed: int, *keys: str | int) -> np.random.Generator:
    """A random generator keyed by ``seed`` and string/int keys (stable across runs)."""
    words = [zlib.crc32(str(key).encode("utf-8")) for key in keys]
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=words))


@dataclasses.dataclass(frozen=True, eq=False)
class _Backdrop:
    """Per (sequence, view) constants: background image, light and noise fields."""

    background: np.ndarray
    add: np.ndarray  # (K, H, W, 3) uint8 brightening part of light + noise
    sub: np.ndarray  # (K, H, W, 3) uint8 darkening part
    order: np.ndarray  # which bank entry each frame uses


def _make_backdrop(
    rng: np.random.Generator, width: int, height: int, num_frames: int, noise: float
) -> _Backdrop:
    colours = rng.uniform(40.0, 220.0, size=(2, 3))
    ramp = np.linspace(0.0, 1.0, height)[:, None, None]
    background = colours[0] + (colours[1] - colours[0]) * ramp
    background = np.broadcast_to(background, (height, width, 3)).astype(np.float32).copy()
    for _ in range(int(rng.integers(2, 6))):
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        size = (
            int(rng.integers(width // 8, width // 2)),
            int(rng.integers(height // 8, height // 2)),
        )
        colour = tuple(float(c) for c in rng.uniform(30.0, 230.0, 3))
        cv2.ellipse(background, centre, size, float(rng.uniform(0, 180)), 0, 360, colour, -1)
    background = cv2.GaussianBlur(background, (0, 0), max(1.0, width / 60.0))

    angle = rng.uniform(0.0, 2.0 * np.pi)
    strength = rng.uniform(8.0, 30.0)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    light = strength * ((xs / width - 0.5) * np.cos(angle) + (ys / height - 0.5) * np.sin(angle))
    light += rng.uniform(-12.0, 12.0)
    sigma = rng.uniform(1.5, 4.5) * noise
    bank = min(_NOISE_BANK, num_frames)
    noise_fields = rng.standard_normal((bank, height, width, 3), dtype=np.float32)
    fields = np.round(light[None, :, :, None] + noise_fields * np.float32(sigma))
    add = np.clip(fields, 0, 255).astype(np.uint8)
    sub = np.clip(-fields, 0, 255).astype(np.uint8)
    order = rng.integers(0, bank, size=num_frames)
    return _Backdrop(np.clip(background, 0, 255).astype(np.uint8), add, sub, order)


@dataclasses.dataclass(eq=False)
class SynthSequence:
    """One synthetic video: AU time courses, head poses, landmarks, and frames on demand.

    Attributes:
        subject: subject name (e.g. ``"F001"``).
        task: task name (e.g. ``"T1"``).
        profile: AU profile the sequence was drawn from.
        identity: the person.
        intensities: (T, 17) float32 continuous intensities, :data:`ALL_AUS` order.
        head: (T, 6) yaw, pitch, roll, relative scale, x and y offsets.
        views: camera (yaw, pitch) offsets; view ``v`` of frame ``t`` adds ``views[v]``.
        poses: per view and frame, the :class:`Pose` used for projection.
        points: (V, T, N, 2) float64 projected points (landmarks then render points).
        image_size: (width, height).
    """

    subject: str
    task: str
    profile: AUProfile
    identity: Identity
    intensities: np.ndarray
    head: np.ndarray
    views: tuple[tuple[float, float], ...]
    poses: list[list[Pose]]
    points: np.ndarray
    image_size: tuple[int, int]
    _backdrops: list[_Backdrop]
    _renderer: FaceRenderer
    _rendered: np.ndarray

    @property
    def num_frames(self) -> int:
        """Number of frames T."""
        return int(self.intensities.shape[0])

    @property
    def labels(self) -> np.ndarray:
        """(T, 17) int8 integer intensities 0-5 (round half up)."""
        return integer_intensities(self.intensities)

    def occurrence(self, aus: Sequence[int] | None = None) -> np.ndarray:
        """(T, len(aus)) uint8 occurrence (integer intensity >= the profile's level).

        Args:
            aus: AUs to return, defaults to the profile's coded AUs.
        """
        aus = tuple(self.profile.coded_aus if aus is None else aus)
        columns = [ALL_AUS.index(au) for au in aus]
        return (self.labels[:, columns] >= self.profile.occurrence_intensity).astype(np.uint8)

    @property
    def landmarks66(self) -> np.ndarray:
        """(V, T, 66, 2) float32 0-based image landmarks, DISFA's 66-point scheme."""
        return self.points[:, :, :NUM_LANDMARKS].astype(np.float32)

    @property
    def landmarks49(self) -> np.ndarray:
        """(V, T, 49, 2) float32 0-based image landmarks, BP4D's 49-point scheme."""
        return to_49(self.landmarks66)

    def frame(self, t: int, view: int = 0) -> np.ndarray:
        """Renders frame ``t`` from view ``view``: (H, W, 3) uint8 RGB."""
        if not 0 <= t < self.num_frames:
            raise IndexError(f"Frame {t} out of range: the sequence has {self.num_frames} frames.")
        if not 0 <= view < len(self.views):
            raise IndexError(f"View {view} out of range: the sequence has {len(self.views)} views.")
        backdrop = self._backdrops[view]
        canvas = backdrop.background.copy()
        pose = self.poses[view][t]
        self._renderer.render(
            canvas, self.points[view, t], self._rendered[t], pose.scale, pose.roll
        )
        k = backdrop.order[t]
        cv2.add(canvas, backdrop.add[k], dst=canvas)
        cv2.subtract(canvas, backdrop.sub[k], dst=canvas)
        return canvas

    def frames(self, view: int = 0) -> Iterator[np.ndarray]:
        """Yields every frame of view ``view`` in order."""
        for t in range(self.num_frames):
            yield self.frame(t, view)


class SynthAU:
    """Generator of synthetic AU-coded face sequences.

    Args:
        profile: AU profile (``"bp4d"``, ``"disfa"``, ``"balanced"`` or an
            :class:`~tfau.synth.aus.AUProfile`): base rates, coded AUs, occurrence level.
        image_size: ``(width, height)`` of the frames in pixels.
        seed: master seed; everything generated is a pure function of it.
        views: camera ``(yaw, pitch)`` offsets in degrees; one rendering per view
            (e.g. :data:`FERA2017_VIEWS`). Defaults to a single frontal camera.
        face_width: face width as a fraction of the image width.
        head_motion: multiplies the range of head poses and motion (0: still, frontal).
        noise: multiplies the sensor noise (0: none).
        au_scale: multiplies every AU intensity before rendering (labels are unchanged);
            ``0`` renders neutral faces.

    Example:
        >>> gen = SynthAU("disfa", image_size=(128, 96), seed=3)
        >>> seq = gen.sequence("SN001", "", num_frames=3)
        >>> seq.occurrence().shape
        (3, 12)

    Reference:
        - Batista et al., "AUNets: Multi-view dynamic facial action unit detection", 2017
          (the nine-view FERA 2017 setting that ``views`` reproduces).
    """

    def __init__(
        self,
        profile: AUProfile | str = "bp4d",
        image_size: tuple[int, int] = (260, 348),
        seed: int = 0,
        views: Sequence[tuple[float, float]] = ((0.0, 0.0),),
        face_width: float = DEFAULT_FACE_WIDTH,
        head_motion: float = 1.0,
        noise: float = 1.0,
        au_scale: float = 1.0,
    ) -> None:
        self.profile = get_profile(profile)
        width, height = (int(v) for v in image_size)
        if width < 32 or height < 32:
            raise ValueError(
                f"`image_size` must be at least 32 x 32 pixels. Received: image_size={image_size}"
            )
        if not 0.05 <= face_width <= 0.9:
            raise ValueError(
                f"`face_width` must be between 0.05 and 0.9. Received: face_width={face_width}"
            )
        if len(views) < 1:
            raise ValueError("`views` must hold at least one (yaw, pitch) pair. Received: []")
        if int(seed) < 0:
            raise ValueError(f"`seed` must be a non-negative integer. Received: seed={seed}")
        self.image_size = (width, height)
        self.seed = int(seed)
        self.views = tuple((float(y), float(p)) for y, p in views)
        self.face_width = float(face_width)
        self.head_motion = float(head_motion)
        self.noise = float(noise)
        self.au_scale = float(au_scale)

    def identity(self, subject: str) -> Identity:
        """The person behind ``subject`` (the same in every task)."""
        return sample_identity(_stream(self.seed, "identity", subject))

    def sequence(
        self,
        subject: str,
        task: str,
        num_frames: int,
        intensities: np.ndarray | None = None,
    ) -> SynthSequence:
        """Generates the (subject, task) sequence.

        Args:
            subject: subject name; fixes the identity.
            task: task name; with the subject, fixes AU time courses, motion and backdrop.
            num_frames: number of frames T (>= 1).
            intensities: optional (T, 17) intensities to use instead of sampled ones.

        Returns:
            A :class:`SynthSequence` (frames are rendered on demand).
        """
        if num_frames < 1:
            raise ValueError(f"`num_frames` must be at least 1. Received: num_frames={num_frames}")
        rng = _stream(self.seed, "sequence", subject, task)
        if intensities is None:
            intensities = sample_intensities(rng, num_frames, self.profile)
        else:
            intensities = np.asarray(intensities, dtype=np.float32)
            if intensities.shape != (num_frames, len(ALL_AUS)):
                raise ValueError(
                    f"`intensities` must have shape ({num_frames}, {len(ALL_AUS)}). "
                    f"Received: shape={intensities.shape}"
                )
        head = sample_head_motion(rng, num_frames, self.head_motion)
        identity = self.identity(subject)
        rendered = intensities * np.float32(self.au_scale)
        shapes = deform(identity, au_displacements(identity), rendered)

        width, height = self.image_size
        base_scale = self.face_width * width / 2.0
        poses: list[list[Pose]] = []
        points = np.empty((len(self.views), num_frames, identity.points.shape[0], 2))
        backdrops = []
        for v, (view_yaw, view_pitch) in enumerate(self.views):
            table = np.stack(
                [
                    head[:, 0] + view_yaw,
                    head[:, 1] + view_pitch,
                    head[:, 2],
                    base_scale * head[:, 3],
                    width * (0.5 + head[:, 4]),
                    height * (0.5 + head[:, 5]) - 0.25 * base_scale,
                ],
                axis=1,
            )
            points[v] = project_many(shapes, table)
            poses.append([Pose(*row) for row in table.tolist()])
            view_rng = _stream(self.seed, "backdrop", subject, task, v)
            backdrops.append(_make_backdrop(view_rng, width, height, num_frames, self.noise))
        return SynthSequence(
            subject=subject,
            task=task,
            profile=self.profile,
            identity=identity,
            intensities=intensities,
            head=head,
            views=self.views,
            poses=poses,
            points=points,
            image_size=self.image_size,
            _backdrops=backdrops,
            _renderer=FaceRenderer(identity),
            _rendered=rendered,
        )
