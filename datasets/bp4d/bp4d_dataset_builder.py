"""BP4D-Spontaneous as a TFDS dataset: faces, 12 standard AUs (+ all coded AUs), landmarks.

Splits are the standard subject-exclusive parts, so the 3-fold protocol reads
``split="part1+part2"`` (train) and ``split="part3"`` (test). ``unaligned224_pairs`` adds
``previous_image`` (frame f - 1 of the sequence, cut out with frame f's transform) and
``has_previous`` for AUNets' optical flow. The build summary (what was
skipped and why) is logged and stored in ``info.metadata["build_summary"]``.

Example:
    >>> import tensorflow_datasets as tfds
    >>> import tfau.datasets  # registers the builders
    >>> builder = tfds.builder("bp4d/aligned200")
    >>> builder.download_and_prepare(
    ...     download_config=tfds.download.DownloadConfig(manual_dir="/data/BP4D"))
    >>> train = builder.as_dataset(split="part1+part2")

Reference:
    Zhang et al., "BP4D-Spontaneous: a high-resolution spontaneous 3D dynamic facial
    expression database", Image and Vision Computing 2014.
"""

from __future__ import annotations

from typing import Any, ClassVar

import tensorflow_datasets as tfds
from etils import epath
from tfau.datasets import common
from tfau.datasets.bp4d import layout

_HOMEPAGE = "https://www.cs.binghamton.edu/~lijun/Research/3DFE/3DFE_Analysis.html"


class Builder(common.AUBuilderMixin, tfds.core.GeneratorBasedBuilder):
    """DatasetBuilder for BP4D-Spontaneous (manual download).

    Args:
        num_workers: processes used to read sequences (default: every core).
        **kwargs: `tfds.core.GeneratorBasedBuilder` arguments (``config``, ``data_dir``...).
    """

    # Found from this file, not from the module name: an editable install maps tfau.datasets
    # to datasets/, which TFDS's module-name lookup would miss.
    pkg_dir_path = epath.Path(__file__).parent
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES: ClassVar[dict[str, str]] = {
        "1.0.0": "Initial release: parts 1-3, aligned and unaligned faces, build summary.",
    }
    BUILDER_CONFIGS: ClassVar[list[common.FaceConfig]] = [
        common.FaceConfig.make(aligned=True, image_size=200),
        common.FaceConfig.make(aligned=False, image_size=224),
        # Small faces for CPU training (`tfau demo`, the SynthAU runs).
        common.FaceConfig.make(aligned=True, image_size=112),
        # AUNets' optical flow: 224 face boxes with the previous frame.
        common.FaceConfig.make(aligned=False, image_size=224, pairs=True),
    ]
    DEFAULT_CONFIG_NAME = "aligned200"
    MANUAL_DOWNLOAD_INSTRUCTIONS = """\
    BP4D-Spontaneous is licensed: request it from Binghamton University
    (http://www.cs.binghamton.edu/~lijun/Research/3DFE/3DFE_Analysis.html) and extract it
    into manual_dir so that it holds:

      Sequences/<subject>/<task>/<frame>.jpg         (FERA-2015 copy: BP4D-training/...)
      AUCoding/AU_OCC/<subject>_<task>.csv           (FERA-2015 copy: AUCoding/<...>.csv)
      AUCoding/AU_INT/AUxx/<subject>_<task>_AUxx.csv (FERA-2015 copy:
                                                      "AU Intensity Codes3.0/AUxx/...")
      2DFeatures/<subject>_<task>.mat                (49 tracked landmarks per frame)

    e.g. Sequences/F001/T1/2440.jpg, AUCoding/AU_OCC/F001_T1.csv,
    AUCoding/AU_INT/AU06/F001_T1_AU06.csv, 2DFeatures/F001_T1.mat. Image names may be zero
    padded or not; a few missing images or landmarks are reported and skipped. Pairs configs
    read frame f - 1's image as the previous frame (has_previous=False where it is missing).
    """

    def _info(self) -> tfds.core.DatasetInfo:
        config: common.FaceConfig = self.builder_config
        extra: dict[str, Any] = {"task": tfds.features.Text(doc="task, T1-T8")}
        if config.pairs:
            extra.update(common.pair_features(config.image_size))
        features = common.face_features(config.image_size, len(layout.STANDARD_AUS), extra=extra)
        return self.dataset_info_from_configs(
            features=features,
            homepage=_HOMEPAGE,
            metadata=tfds.core.MetadataDict(
                standard_aus=list(layout.STANDARD_AUS),
                intensity_aus=list(layout.INTENSITY_AUS),
                parts={part: list(subjects) for part, subjects in layout.PARTS.items()},
            ),
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager) -> dict[str, Any]:
        config: common.FaceConfig = self.builder_config
        found = layout.find_layout(dl_manager.manual_dir)
        crop = config.crop_spec()
        part_of = {subject: part for part, subjects in layout.PARTS.items() for subject in subjects}
        tasks: dict[str, list[layout.Bp4dSequence]] = {part: [] for part in layout.PARTS}
        outside = common.SequenceResult()
        for subject, task, csv in found.sequences:
            if subject not in part_of:
                outside.skip("subject_not_in_partitions", f"{csv} (whole sequence)")
                continue
            tasks[part_of[subject]].append(layout.make_task(found, subject, task, csv, crop))
        self._summary.add_skips(outside)
        return self._part_generators(tasks)

    def _generate_examples(self, split: str, tasks: list[layout.Bp4dSequence]) -> Any:
        return self._examples(split, layout.sequence_examples, tasks)
