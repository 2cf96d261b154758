"""Dummy inputs and targets for any registered network, generated from ``model.inputs``."""

import numpy as np
import pytest
from learning_check import LEARNING_SEED

# A frontal 49-point face (0-based indices of the BP4D / IntraFace scheme) in units of the
# image side: brows 0-9, nose 10-18, eyes 19-30 (19/28 outer corners, 22/25 inner), outer
# lip 31-42 (31 and 37 corners, 34 top, 40 bottom), inner lip 43-48.
_BROWS = [(0.20 + 0.06 * i, 0.30 - 0.01 * min(i, 4 - i)) for i in range(5)]
_BROWS += [(0.56 + 0.06 * i, 0.30 - 0.01 * min(i, 4 - i)) for i in range(5)]
_NOSE = [(0.50, 0.38 + 0.06 * i) for i in range(4)] + [(0.42 + 0.04 * i, 0.62) for i in range(5)]
_LEFT_EYE = [(0.27, 0.41), (0.32, 0.38), (0.38, 0.38), (0.43, 0.41), (0.38, 0.44), (0.32, 0.44)]
_RIGHT_EYE = [(0.57, 0.41), (0.62, 0.38), (0.68, 0.38), (0.73, 0.41), (0.68, 0.44), (0.62, 0.44)]
_ANGLES = np.pi - np.arange(12) * np.pi / 6  # from the left corner over the top lip
_OUTER_LIP = [(0.5 + 0.13 * np.cos(a), 0.76 - 0.06 * np.sin(a)) for a in _ANGLES]
_INNER_LIP = [(0.45, 0.75), (0.50, 0.74), (0.55, 0.75), (0.55, 0.77), (0.50, 0.78), (0.45, 0.77)]
TEMPLATE_49 = np.array(
    _BROWS + _NOSE + _LEFT_EYE + _RIGHT_EYE + _OUTER_LIP + _INNER_LIP, dtype="float32"
)
assert TEMPLATE_49.shape == (49, 2)


def plausible_landmarks(batch, height, width, rng):
    """49 landmarks per face: the template, jittered by about 1% of the image, in pixels."""
    scale = np.array([width, height], "float32")
    jitter = rng.normal(0.0, 0.01, size=(batch, 49, 2)).astype("float32")
    return np.clip(TEMPLATE_49 + jitter, 0.05, 0.95) * scale - 0.5


def _image_size(model):
    for tensor in model.inputs:
        if tensor.name == "image":
            return tensor.shape[1], tensor.shape[2]
    return 100, 100


def make_inputs(model, batch=2, seed=0):
    """A dict of inputs named like ``model.inputs``: images as noise, landmarks plausible."""
    rng = np.random.default_rng(seed)
    height, width = _image_size(model)
    inputs = {}
    for tensor in model.inputs:
        shape = (batch, *tensor.shape[1:])
        if tensor.name == "landmarks":
            inputs[tensor.name] = plausible_landmarks(batch, height, width, rng)
        else:
            inputs[tensor.name] = rng.normal(0.0, 1.0, size=shape).astype("float32")
    return inputs


def make_targets(model, outputs, seed=1):
    """Targets for every output that has a loss: AU labels with unknowns, landmarks, views,
    and the network's own initial attention maps as refinement target."""
    rng = np.random.default_rng(seed)
    batch = np.asarray(outputs["au" if "au" in outputs else next(iter(outputs))]).shape[0]
    height, width = _image_size(model)
    targets = {}
    for key, value in outputs.items():
        shape = np.asarray(value).shape
        if key == "au":
            labels = rng.choice([0.0, 1.0], size=shape).astype("float32")
            labels[0, 0] = -1.0  # one unknown label, masked by the loss
            targets[key] = labels
        elif key == "landmarks":
            targets[key] = plausible_landmarks(batch, height, width, rng)
        elif key == "view":
            targets[key] = np.eye(shape[-1], dtype="float32")[rng.integers(0, shape[-1], batch)]
        elif key == "attention" and "attention_initial" in outputs:
            targets[key] = np.asarray(outputs["attention_initial"])
    return targets


@pytest.fixture
def dummy_inputs():
    return make_inputs


@pytest.fixture
def dummy_targets():
    return make_targets


#: AUs of the learning checks: brows (1, 4), lip corners (12), lips apart (25).
LEARNING_AUS = (1, 4, 12, 25)


@pytest.fixture(scope="session")
def learning_aus():
    """``LEARNING_AUS``, for networks that place attention by AU (JAA-Net)."""
    return LEARNING_AUS


def _synth_faces(generator, subject, task, num_frames, size):
    """Face crops (square box around the landmarks, x1.3) resized to ``size``, their
    landmarks in crop pixels, and the occurrence labels of ``LEARNING_AUS``."""
    import tensorflow as tf

    sequence = generator.sequence(subject, task, num_frames)
    frames = np.stack(list(sequence.frames())).astype("float32")
    landmarks = sequence.landmarks49[0].astype("float32")
    low, high = landmarks.min(axis=1), landmarks.max(axis=1)
    centre, side = (low + high) / 2, (high - low).max(axis=1) * 1.3
    corner = centre - side[:, None] / 2
    height, width = frames.shape[1:3]
    boxes = np.stack(
        [
            corner[:, 1] / height,
            corner[:, 0] / width,
            (corner[:, 1] + side) / height,
            (corner[:, 0] + side) / width,
        ],
        axis=1,
    )
    crops = tf.image.crop_and_resize(frames, boxes, np.arange(num_frames), (size, size))
    crop_landmarks = (landmarks - corner[:, None]) * (size / side)[:, None, None]
    return np.asarray(crops), crop_landmarks, sequence.occurrence(LEARNING_AUS).astype("float32")


#: Identities and frames of the learning checks' data: training and test people are disjoint.
SYNTH_TRAIN_SUBJECTS, SYNTH_TRAIN_FRAMES = 192, 10
SYNTH_TEST_SUBJECTS, SYNTH_TEST_FRAMES = 128, 8


def synth_au_split(seed: int = LEARNING_SEED):
    """The data of ``synth_au_faces`` for SynthAU seed ``seed``."""
    import dataclasses

    from tfau.synth import BALANCED_PROFILE, SynthAU

    # Episodes of about one frame (the profile's default is 10): frames of one sequence carry
    # nearly independent labels, so 10 frames of 192 people hold about 1,900 label draws
    # rather than the ~130 episodes of 32 people x 30 frames, which the networks memorised.
    profile = dataclasses.replace(BALANCED_PROFILE, episode_frames=1.0)
    generator = SynthAU(
        profile=profile, image_size=(160, 200), seed=seed, head_motion=0.3, au_scale=2.0
    )
    parts = {
        "train": [
            _synth_faces(generator, f"S{i:03d}", "T1", SYNTH_TRAIN_FRAMES, size=74)
            for i in range(SYNTH_TRAIN_SUBJECTS)
        ],
        "test": [
            _synth_faces(generator, f"V{i:03d}", "T1", SYNTH_TEST_FRAMES, size=74)
            for i in range(SYNTH_TEST_SUBJECTS)
        ],
    }
    return {
        split: tuple(np.concatenate([part[i] for part in split_parts]) for i in range(3))
        for split, split_parts in parts.items()
    }


@pytest.fixture(scope="session")
def synth_au_faces():
    """SynthAU faces (balanced AU profile, one-frame AU episodes): 192 people x 10 frames to
    train, 128 other people x 8 frames to test (the networks must generalise to new faces).

    AUs are rendered at twice their labelled intensity (``au_scale=2``) so that the signal
    stays visible on 74 x 74 crops (labels count intensity >= 1 as present). The SynthAU
    seed is ``LEARNING_SEED`` (``TFAU_LEARNING_SEED``, default 0).

    Returns ``{"train": (images, landmarks, labels), "test": (...)}``, images 74 x 74
    float32 0-255 face crops, landmarks in crop pixels, labels ``(n, 4)`` for
    ``LEARNING_AUS``.
    """
    return synth_au_split(LEARNING_SEED)
