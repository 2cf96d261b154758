"""SynthAU as a TFDS dataset: rendered on the fly by ``tfau.synth``, no download, no manual_dir.

Same features as the ``bp4d`` builder, plus ``landmarks66`` and ``view`` (multi-view configs
render every sequence from FERA 2017's nine views), and in the ``*_pairs`` configs the
previous frame of the same sequence and view (``previous_image``, cropped with the current
frame's transform; ``has_previous`` is False on a sequence's first frame, whose
``previous_image`` repeats the frame) for AUNets' optical flow. Subjects carry BP4D's names, so
the standard parts apply: ``split="part1+part2"`` / ``"part3"``.

Example:
    >>> import tensorflow_datasets as tfds
    >>> import tfau.datasets  # registers the builders
    >>> train = tfds.load("synth_au/tiny", split="part1+part2")

Reference:
    Batista et al., "AUNets: Multi-view dynamic facial action unit detection", 2017 (the
    nine-view setting and optical-flow inputs the multi-view and pairs configs serve).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np
import tensorflow_datasets as tfds
from etils import epath
from tfau.datasets import common
from tfau.datasets.bp4d import layout as bp4d_layout
from tfau.datasets.disfa import layout as disfa_layout
from tfau.datasets.synth_au import generate

from tfau.synth import BP4D_SUBJECTS, BP4D_TASKS


@dataclasses.dataclass(eq=False)
class SynthAUConfig(common.FaceConfig):
    """Builder config of ``synth_au``: what to render and how to crop it.

    Args:
        profile: SynthAU AU profile, ``"bp4d"`` (BP4D's AUs and subjects) or ``"disfa"``.
        subjects: subject names (their part decides their split).
        tasks: task names rendered for every subject.
        num_frames: frames per sequence.
        frame_size: rendered ``(width, height)``.
        num_views: 1 (frontal), 2 (DISFA's stereo pair) or 9 (FERA 2017's views).
        pairs: also store the previous frame (``previous_image``) for optical flow.
        seed: SynthAU seed; the data is a pure function of the config.
    """

    profile: str = "bp4d"
    subjects: tuple[str, ...] = BP4D_SUBJECTS
    tasks: tuple[str, ...] = BP4D_TASKS
    num_frames: int = 24
    frame_size: tuple[int, int] = (260, 348)
    num_views: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.profile not in ("bp4d", "disfa"):
            raise ValueError(
                f'`profile` must be "bp4d" or "disfa". Received: profile={self.profile!r}'
            )
        if self.num_views not in generate.VIEW_SETS:
            raise ValueError(
                f"`num_views` must be one of {sorted(generate.VIEW_SETS)}. "
                f"Received: num_views={self.num_views!r}"
            )
        if self.num_frames < 1:
            raise ValueError(f"`num_frames` must be >= 1. Received: num_frames={self.num_frames}")
        parts = _parts(self.profile)
        known = {subject for subjects in parts.values() for subject in subjects}
        unknown = sorted(set(self.subjects) - known)
        if unknown:
            raise ValueError(
                f"`subjects` must be {self.profile.upper()} subjects of the standard parts. "
                f"Received unknown subjects: {unknown}"
            )


def _parts(profile: str) -> dict[str, tuple[str, ...]]:
    return bp4d_layout.PARTS if profile == "bp4d" else disfa_layout.PARTS


def _standard_aus(profile: str) -> tuple[int, ...]:
    return bp4d_layout.STANDARD_AUS if profile == "bp4d" else disfa_layout.STANDARD_AUS


class Builder(common.AUBuilderMixin, tfds.core.GeneratorBasedBuilder):
    """DatasetBuilder for SynthAU (generated; nothing to download).

    Args:
        num_workers: processes rendering sequences (default: every core).
        **kwargs: `tfds.core.GeneratorBasedBuilder` arguments (``config``, ``data_dir``...).
    """

    pkg_dir_path = epath.Path(__file__).parent
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES: ClassVar[dict[str, str]] = {
        "1.0.0": "Initial release: BP4D-named subjects, parts 1-3, views, frame pairs.",
    }
    BUILDER_CONFIGS: ClassVar[list[SynthAUConfig]] = [
        SynthAUConfig(
            name="aligned200",
            description="41 BP4D subjects x 8 tasks x 24 frames, frontal, JAA-Net aligned 200.",
        ),
        SynthAUConfig(
            name="unaligned224_pairs",
            description=(
                "41 BP4D subjects x 8 tasks x 24 frames, face box resized to 224, with the "
                "previous frame for optical flow (AUNets)."
            ),
            aligned=False,
            image_size=224,
            pairs=True,
        ),
        SynthAUConfig(
            name="multiview_aligned200",
            description=(
                "41 BP4D subjects x 2 tasks x 12 frames from FERA 2017's nine views "
                "(yaw -40/0/40 x pitch -20/0/20), JAA-Net aligned 200."
            ),
            tasks=("T1", "T2"),
            num_frames=12,
            num_views=9,
        ),
        SynthAUConfig(
            name="tiny",
            description=(
                "Smoke tests: F001 (part1), F003 (part2), F004 (part3), one task, 3 frames, "
                "2 views, aligned 64, with previous frames."
            ),
            image_size=64,
            subjects=("F001", "F003", "F004"),
            tasks=("T1",),
            num_frames=3,
            frame_size=(96, 128),
            num_views=2,
            pairs=True,
        ),
    ]
    DEFAULT_CONFIG_NAME = "aligned200"

    def _info(self) -> tfds.core.DatasetInfo:
        config: SynthAUConfig = self.builder_config
        extra: dict[str, Any] = {
            "task": tfds.features.Text(doc="task name (empty for DISFA-profile subjects)"),
            "landmarks66": tfds.features.Tensor(
                shape=(66, 2), dtype=np.float32, doc="66 points in image pixels"
            ),
            "view": tfds.features.Scalar(np.int32, doc="camera index (0: frontal / left)"),
        }
        if config.pairs:
            extra.update(common.pair_features(config.image_size))
        standard_aus = _standard_aus(config.profile)
        return self.dataset_info_from_configs(
            features=common.face_features(config.image_size, len(standard_aus), extra=extra),
            homepage="https://github.com/tfau/tfau",
            metadata=tfds.core.MetadataDict(
                standard_aus=list(standard_aus),
                profile=config.profile,
                views=[list(view) for view in generate.VIEW_SETS[config.num_views]],
                seed=config.seed,
                parts={part: list(s) for part, s in _parts(config.profile).items()},
            ),
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager) -> dict[str, Any]:
        del dl_manager  # nothing to download
        config: SynthAUConfig = self.builder_config
        crop = config.crop_spec()
        parts = _parts(config.profile)
        tasks: dict[str, list[generate.SynthTask]] = {part: [] for part in parts}
        for part, part_subjects in parts.items():
            for subject in (s for s in config.subjects if s in part_subjects):
                for task in config.tasks:
                    tasks[part].append(
                        generate.SynthTask(
                            subject=subject,
                            task=task,
                            profile=config.profile,
                            standard_aus=_standard_aus(config.profile),
                            num_frames=config.num_frames,
                            frame_size=tuple(config.frame_size),
                            num_views=config.num_views,
                            seed=config.seed,
                            crop=crop,
                        )
                    )
        return self._part_generators(tasks)

    def _generate_examples(self, split: str, tasks: list[generate.SynthTask]) -> Any:
        return self._examples(split, generate.sequence_examples, tasks)
