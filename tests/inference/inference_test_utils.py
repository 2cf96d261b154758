"""Constants and builders shared by the tfau.inference tests (a uniquely named module: test
folders each have a conftest.py, so ``from conftest import ...`` depends on import order)."""

import tfau.models

#: Frames of the test video; the ones in BLANK hold no face (a uniform grey frame).
NUM_FRAMES = 14
BLANK = (6, 7, 8)
SIZE = (320, 240)
AUS = [1, 2, 4]
MEAN = [120.0, 100.0, 90.0]


def tiny_model(name: str, num_aus: int = len(AUS)):
    kwargs = tfau.models.tiny_kwargs(name)
    kwargs["num_aus"] = num_aus
    return tfau.models.get(name)(**kwargs)
