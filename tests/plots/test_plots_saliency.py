"""DRML saliency and AUNets occlusion: exact answers on models built to have them."""

import keras
import numpy as np
import pytest

import tfau.models
from tfau.plots import (
    occlusion_drops,
    occlusion_heatmap,
    occlusion_positions,
    plot_occlusion,
    plot_saliency,
    saliency_maps,
)


def quadrant_model(size=16, channels=3, seed=0):
    """AU 0 sees only the top-left quadrant, AU 1 only the bottom-right; sigmoid outputs."""
    rng = np.random.default_rng(seed)
    half = size // 2
    image = keras.Input((size, size, channels), name="image")
    top_left = keras.layers.Cropping2D(((0, half), (0, half)))(image)
    bottom_right = keras.layers.Cropping2D(((half, 0), (half, 0)))(image)
    dense = []
    logits = []
    for crop in (top_left, bottom_right):
        layer = keras.layers.Dense(1)
        logits.append(layer(keras.layers.Flatten()(crop)))
        layer.set_weights([rng.normal(size=(half * half * channels, 1)), rng.normal(size=1)])
        dense.append(layer)
    au = keras.layers.Activation("sigmoid")(keras.layers.Concatenate()(logits))
    return keras.Model({"image": image}, {"au": au}), dense


def test_saliency_equals_analytic_gradient_and_is_zero_outside():
    model, dense = quadrant_model()
    images = np.random.default_rng(1).normal(size=(2, 16, 16, 3)).astype("float32")
    maps = saliency_maps(model, {"image": images})
    assert maps.shape == (2, 16, 16, 2)
    for b in range(2):
        for k, (rows, cols) in enumerate(
            ((slice(0, 8), slice(0, 8)), (slice(8, 16), slice(8, 16)))
        ):
            w, bias = dense[k].get_weights()
            crop = images[b, rows, cols]
            p = 1 / (1 + np.exp(-(crop.reshape(-1) @ w[:, 0] + bias[0])))
            expected = np.abs(p * (1 - p) * w[:, 0].reshape(8, 8, 3)).max(axis=-1)
            np.testing.assert_allclose(maps[b, rows, cols, k], expected, rtol=1e-4, atol=1e-7)
            outside = np.ones((16, 16), bool)
            outside[rows, cols] = False
            assert (maps[b][outside][:, k] == 0).all()
    # one example without a batch axis, and a subset of AUs in a chosen order
    single = saliency_maps(model, {"image": images[1]}, au_indices=[1, 0])
    # Batch 1 and batch 2 may take other kernels (float rounding differs by CPU): 1e-5.
    np.testing.assert_allclose(single, maps[1][..., ::-1], rtol=1e-5, atol=1e-9)


def test_saliency_errors():
    model, _ = quadrant_model()
    image = np.zeros((16, 16, 3), "float32")
    with pytest.raises(
        ValueError, match=r"column indices in \[0, 2\)\. Received: au_indices=\[2\]"
    ):
        saliency_maps(model, {"image": image}, au_indices=[2])
    with pytest.raises(ValueError, match="must hold the image under 'image'"):
        saliency_maps(model, {"face": image})


def linear_model(height=12, width=10, channels=2, num_aus=2, seed=0):
    """p = W . flatten(image) + b: the drop of a patch is exactly sum(W_patch * (x - fill))."""
    rng = np.random.default_rng(seed)
    image = keras.Input((height, width, channels), name="image")
    layer = keras.layers.Dense(num_aus)
    au = layer(keras.layers.Flatten()(image))
    weights = rng.normal(size=(height * width * channels, num_aus))
    layer.set_weights([weights, rng.normal(size=num_aus)])
    return keras.Model({"image": image}, {"au": au}), weights.reshape(height, width, channels, -1)


def test_occlusion_positions():
    assert occlusion_positions(10, 4, 3).tolist() == [0, 3, 6]
    assert occlusion_positions(10, 4, 4).tolist() == [0, 4, 6]  # the last one at the edge
    assert occlusion_positions(5, 5, 2).tolist() == [0]
    with pytest.raises(ValueError, match=r"`patch_size` must be in \[1, 5\]"):
        occlusion_positions(5, 6, 1)


@pytest.mark.parametrize("fill", [None, 0.25, (0.5, -1.0)])
def test_occlusion_drops_of_a_linear_model(fill):
    model, weights = linear_model()
    image = np.random.default_rng(2).normal(size=(12, 10, 2)).astype("float32")
    drops = occlusion_drops(
        model, {"image": image}, patch_size=4, stride=3, fill=fill, batch_size=5
    )
    ys, xs = occlusion_positions(12, 4, 3), occlusion_positions(10, 4, 3)
    assert drops.shape == (len(ys), len(xs), 2)
    fill_value = image.mean(axis=(0, 1)) if fill is None else np.broadcast_to(fill, (2,))
    for i, y in enumerate(ys):
        for j, x in enumerate(xs):
            patch = image[y : y + 4, x : x + 4] - fill_value
            expected = np.einsum("hwc,hwck->k", patch, weights[y : y + 4, x : x + 4])
            np.testing.assert_allclose(drops[i, j], expected, rtol=1e-4, atol=1e-4)


def test_occlusion_heatmap_is_the_mean_over_covering_patches():
    rng = np.random.default_rng(3)
    drops = rng.normal(size=(4, 3, 2))
    heat = occlusion_heatmap(drops, (12, 10), patch_size=4, stride=3)
    ys, xs = occlusion_positions(12, 4, 3), occlusion_positions(10, 4, 3)
    for y in range(12):
        for x in range(10):
            covering = [
                drops[i, j]
                for i, py in enumerate(ys)
                for j, px in enumerate(xs)
                if py <= y < py + 4 and px <= x < px + 4
            ]
            np.testing.assert_allclose(heat[y, x], np.mean(covering, axis=0), rtol=1e-5)
    with pytest.raises(ValueError, match=r"`drops` must be \(4, 3, num_aus\)"):
        occlusion_heatmap(drops[:3], (12, 10), patch_size=4, stride=3)


def test_occlusion_needs_one_example():
    model, _ = linear_model()
    with pytest.raises(ValueError, match="explains one example"):
        occlusion_drops(model, {"image": np.zeros((2, 12, 10, 2))}, patch_size=4, stride=2)


def test_drml_saliency_and_occlusion_pngs(tmp_path, check_png):
    model = tfau.models.DRML(**tfau.models.tiny_kwargs("DRML"))
    size = model.input["image"].shape[1]
    yy, xx = np.mgrid[:size, :size] / size
    face = np.stack([np.sin(6 * xx), np.cos(5 * yy), xx * yy], axis=-1).astype("float32")
    maps = saliency_maps(model, {"image": face})
    assert maps.shape == (size, size, 3) and np.isfinite(maps).all() and maps.max() > 0
    check_png(plot_saliency(tmp_path / "saliency.png", face, maps, aus=(1, 2, 4)))

    drops = occlusion_drops(model, {"image": face}, patch_size=16, stride=8)
    heat = occlusion_heatmap(drops, (size, size), patch_size=16, stride=8)
    check_png(plot_occlusion(tmp_path / "occlusion.png", face, heat, aus=(1, 2, 4)))
    with pytest.raises(ValueError, match=r"`saliency` must be \(H, W, 2\)"):
        plot_saliency(tmp_path / "x.png", face, maps, aus=(1, 2))
