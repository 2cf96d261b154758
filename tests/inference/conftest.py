"""Shared fixtures of the tfau.inference tests: a short SynthAU video and tiny models."""

import cv2
import numpy as np
import pytest
from inference_test_utils import AUS, BLANK, MEAN, NUM_FRAMES, SIZE, tiny_model

from tfau.export import export_model


@pytest.fixture(scope="session")
def synth_sequence():
    from tfau.synth import SynthAU

    return SynthAU("bp4d", image_size=SIZE, seed=0).sequence("F001", "T1", NUM_FRAMES)


@pytest.fixture(scope="session")
def synth_frames(synth_sequence):
    frames = [synth_sequence.frame(t) for t in range(NUM_FRAMES)]
    for t in BLANK:
        frames[t] = np.full_like(frames[t], 110)
    return frames


@pytest.fixture(scope="session")
def synth_video(tmp_path_factory, synth_frames):
    path = tmp_path_factory.mktemp("video") / "synth.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, SIZE)
    for frame in synth_frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


@pytest.fixture(scope="session")
def drml_model():
    return tiny_model("DRML")


@pytest.fixture(scope="session")
def drml_keras(tmp_path_factory, drml_model):
    path = tmp_path_factory.mktemp("models") / "drml.keras"
    drml_model.save(path)
    return path


@pytest.fixture(scope="session")
def drml_saved_model(tmp_path_factory, drml_model):
    path = tmp_path_factory.mktemp("exported") / "drml"
    export_model(drml_model, path, model_name="DRML", aus=AUS, mean=MEAN)
    return path


@pytest.fixture(scope="session")
def jaanet():
    """A tiny JAA-Net with 12 outputs (read as BP4D's AUs), traced once for every test."""
    from tfau.inference import from_keras

    return from_keras(tiny_model("JAANet", 12))
