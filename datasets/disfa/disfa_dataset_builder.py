"""DISFA as a TFDS dataset: faces, 8 standard AUs (+ all 12 coded AUs, intensities), landmarks.

Splits are the standard subject-exclusive parts (``split="part1+part2"`` / ``"part3"``). The
videos are decoded with OpenCV; label frame f is video frame f - 1; frames are paired until the
shorter of the video and the label lines ends (SN010 has one line less). Occurrence is
intensity >= 2. The left camera is the default (the standard protocol); the ``*_right``
configs read the right camera. ``unaligned224_pairs`` adds ``previous_image`` (the previous
video frame, cut out with the frame's transform) and ``has_previous`` for AUNets' optical
flow. The build summary is logged and stored in
``info.metadata["build_summary"]``.

Example:
    >>> import tensorflow_datasets as tfds
    >>> import tfau.datasets  # registers the builders
    >>> builder = tfds.builder("disfa/aligned200")
    >>> builder.download_and_prepare(
    ...     download_config=tfds.download.DownloadConfig(manual_dir="/data/DISFA"))
    >>> test = builder.as_dataset(split="part3")

Reference:
    Mavadati et al., "DISFA: a spontaneous facial action intensity database", IEEE
    Transactions on Affective Computing 2013.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import tensorflow_datasets as tfds
from etils import epath
from tfau.datasets import common
from tfau.datasets.disfa import layout

_HOMEPAGE = "http://mohammadmahoor.com/disfa/"


class Builder(common.AUBuilderMixin, tfds.core.GeneratorBasedBuilder):
    """DatasetBuilder for DISFA (manual download).

    Args:
        num_workers: processes used to read videos (default: every core).
        **kwargs: `tfds.core.GeneratorBasedBuilder` arguments (``config``, ``data_dir``...).
    """

    # Found from this file, not from the module name: an editable install maps tfau.datasets
    # to datasets/, which TFDS's module-name lookup would miss.
    pkg_dir_path = epath.Path(__file__).parent
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES: ClassVar[dict[str, str]] = {
        "1.0.0": "Initial release: parts 1-3, left/right camera, aligned and unaligned faces.",
    }
    BUILDER_CONFIGS: ClassVar[list[common.FaceConfig]] = [
        common.FaceConfig.make(aligned=True, image_size=200),
        common.FaceConfig.make(aligned=False, image_size=224),
        common.FaceConfig.make(aligned=True, image_size=200, camera="right"),
        common.FaceConfig.make(aligned=False, image_size=224, camera="right"),
        # Small faces for CPU training (`tfau demo`, the SynthAU runs).
        common.FaceConfig.make(aligned=True, image_size=112),
        # AUNets' optical flow: 224 face boxes with the previous video frame.
        common.FaceConfig.make(aligned=False, image_size=224, pairs=True),
    ]
    DEFAULT_CONFIG_NAME = "aligned200"
    MANUAL_DOWNLOAD_INSTRUCTIONS = """\
    DISFA is licensed: request it from http://mohammadmahoor.com/disfa/ and extract it into
    manual_dir so that it holds:

      Videos_LeftCamera/LeftVideoSNxxx_comp.avi
      Video_RightCamera/RightVideoSNxxx_Comp.avi   (right-camera configs only)
      ActionUnit_Labels/SNxxx/SNxxx_au1.txt ... SNxxx_au26.txt
      Landmark_Points/SNxxx/<any folder>/SNxxx_NNNN_lm.mat  (NNNN = frame - 1)
                                      or l0NNNN_lm.mat      (NNNN = frame)

    e.g. Videos_LeftCamera/LeftVideoSN001_comp.avi, ActionUnit_Labels/SN001/SN001_au1.txt,
    Landmark_Points/SN001/tmp_frame_lm/SN001_0000_lm.mat. Missing landmark files are
    reported and skipped (aligned configs) or kept (unaligned configs). Pairs configs take the
    previous frame from the video (none for label frame 1: has_previous=False).
    """

    def _info(self) -> tfds.core.DatasetInfo:
        config: common.FaceConfig = self.builder_config
        extra: dict[str, Any] = {
            "landmarks66": tfds.features.Tensor(
                shape=(66, 2), dtype=np.float32, doc="DISFA's 66 points in image pixels"
            )
        }
        if config.pairs:
            extra.update(common.pair_features(config.image_size))
        features = common.face_features(config.image_size, len(layout.STANDARD_AUS), extra=extra)
        return self.dataset_info_from_configs(
            features=features,
            homepage=_HOMEPAGE,
            metadata=tfds.core.MetadataDict(
                standard_aus=list(layout.STANDARD_AUS),
                intensity_aus=list(layout.CODED_AUS),
                occurrence_threshold=layout.OCCURRENCE_THRESHOLD,
                camera=config.camera,
                parts={part: list(subjects) for part, subjects in layout.PARTS.items()},
            ),
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager) -> dict[str, Any]:
        config: common.FaceConfig = self.builder_config
        found = layout.find_layout(dl_manager.manual_dir, camera=config.camera)
        crop = config.crop_spec()
        part_of = {subject: part for part, subjects in layout.PARTS.items() for subject in subjects}
        tasks: dict[str, list[layout.DisfaSubject]] = {part: [] for part in layout.PARTS}
        outside = common.SequenceResult()
        for subject in found.subjects:
            if subject not in part_of:
                outside.skip("subject_not_in_partitions", f"{found.videos[subject]} (whole video)")
                continue
            tasks[part_of[subject]].append(layout.make_task(found, subject, crop))
        self._summary.add_skips(outside)
        return self._part_generators(tasks)

    def _generate_examples(self, split: str, tasks: list[layout.DisfaSubject]) -> Any:
        return self._examples(split, layout.subject_examples, tasks)
