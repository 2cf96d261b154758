"""Renders SynthAU sequences into finished examples (run in worker processes or Beam workers).

One task is one (subject, task) sequence rendered from every view of the config. Every frame
has landmarks (the generator knows them), so nothing is skipped; the build summary still
counts what was written.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from tfau.datasets import common

from tfau.synth import ALL_AUS, DISFA_VIEWS, FERA2017_VIEWS, SynthAU, get_profile

#: Camera sets a config can ask for, by number of views.
VIEW_SETS: dict[int, tuple[tuple[float, float], ...]] = {
    1: ((0.0, 0.0),),
    2: DISFA_VIEWS,
    9: FERA2017_VIEWS,
}


@dataclasses.dataclass(frozen=True)
class SynthTask:
    """One (subject, task) sequence to render (everything a worker needs, picklable)."""

    subject: str
    task: str
    profile: str
    standard_aus: tuple[int, ...]
    num_frames: int
    frame_size: tuple[int, int]
    num_views: int
    seed: int
    crop: common.CropSpec


def sequence_examples(task: SynthTask) -> common.SequenceResult:
    """Renders one sequence from every view into examples.

    Args:
        task: the sequence.

    Returns:
        The examples, keyed ``<subject>_<task>_v<view>_<frame>``; frames are numbered from 1.
    """
    result = common.SequenceResult()
    generator = SynthAU(
        task.profile,
        image_size=task.frame_size,
        seed=task.seed,
        views=VIEW_SETS[task.num_views],
    )
    sequence = generator.sequence(task.subject, task.task, task.num_frames)
    profile = get_profile(task.profile)
    labels = sequence.labels.astype(np.int64)
    coded = [int(au) for au in profile.coded_aus]
    name = f"{task.subject}_{task.task}" if task.task else task.subject
    for view in range(task.num_views):
        landmarks66 = sequence.landmarks66[view]
        landmarks49 = sequence.landmarks49[view]
        previous = None
        for t in range(task.num_frames):
            image = sequence.frame(t, view)
            face = common.crop_face(
                image,
                landmarks49[t],
                task.crop,
                extra_points={"landmarks66": landmarks66[t]},
                previous_rgb=previous if task.crop.pairs else None,
            )
            intensity = {au: int(labels[t, ALL_AUS.index(au)]) for au in coded}
            occurrence = {
                au: int(value >= profile.occurrence_intensity) for au, value in intensity.items()
            }
            example: dict[str, Any] = {
                **face,
                **common.au_vectors(occurrence, intensity, task.standard_aus),
                "subject": task.subject,
                "task": task.task,
                "sequence": name,
                "frame": np.int32(t + 1),
                "view": np.int32(view),
            }
            previous = image
            result.examples.append((f"{name}_v{view}_{t + 1:05d}", example))
    return result
