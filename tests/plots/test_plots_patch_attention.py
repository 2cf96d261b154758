"""PAttNet's AU x patch attention matrix: per-AU models, fold averaging, the figure."""

import numpy as np
import pytest

import tfau.models
from tfau.plots import PATCH_NAMES, patch_attention_matrix, plot_patch_attention


def test_matrix_rows_are_each_models_mean_attention(tmp_path, check_png):
    kwargs = {k: v for k, v in tfau.models.tiny_kwargs("PAttNet").items() if k != "num_aus"}
    aus = (1, 12)
    models = tfau.models.PAttNetPerAU(aus, **kwargs)
    patches = np.random.default_rng(0).uniform(-1, 1, (3, *kwargs["input_shape"]))
    patches = patches.astype("float32")
    rows, matrix = patch_attention_matrix(models, patches, batch_size=2)
    assert rows == aus and matrix.shape == (2, 9)
    for k, au in enumerate(aus):
        alpha = np.asarray(models[au]({"patches": patches})["patch_attention"])
        np.testing.assert_allclose(matrix[k], alpha.mean(axis=0), rtol=1e-5)
    assert ((matrix > 0) & (matrix < 1)).all()  # sigmoid weights
    # Folds are averaged: a second "fold" whose models are swapped averages the two rows.
    swapped = {1: models[12], 12: models[1]}
    _, averaged = patch_attention_matrix([models, swapped], patches)
    np.testing.assert_allclose(averaged, (matrix + matrix[::-1]) / 2, rtol=1e-5)
    image = check_png(plot_patch_attention(tmp_path / "pattnet.png", averaged, aus))
    assert image.shape[1] > image.shape[0]


def test_errors(tmp_path):
    with pytest.raises(ValueError, match=r"non-empty \{au: model\} dict"):
        patch_attention_matrix({}, np.zeros((1, 9, 8, 8, 3)))
    with pytest.raises(ValueError, match=r"`matrix` must be \(2, num_patches\)"):
        plot_patch_attention(tmp_path / "x.png", np.zeros((3, 9)), aus=(1, 2))
    with pytest.raises(ValueError, match="must name the 9 patches"):
        plot_patch_attention(tmp_path / "x.png", np.zeros((1, 9)), (1,), PATCH_NAMES[:8])
