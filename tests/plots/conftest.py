"""Shared checks of the plot tests: a PNG is written, decodes and is not blank."""

import os

import cv2
import numpy as np
import pytest


def assert_png(path, min_std=8.0, min_colours=20):
    """``path`` is a PNG that OpenCV decodes, with varied pixels (not one flat colour)."""
    assert os.path.isfile(path), f"{path} was not written"
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert image is not None and image.ndim == 3 and min(image.shape[:2]) > 100
    assert float(image.std()) > min_std, f"{path} is blank (std {image.std():.2f})"
    colours = np.unique(image.reshape(-1, 3), axis=0)
    assert len(colours) >= min_colours, f"{path} has only {len(colours)} colours"
    return image


@pytest.fixture
def check_png():
    return assert_png
