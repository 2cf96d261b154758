"""Attention figures: EAC-Net's landmark maps and JAA-Net's predefined vs refined maps."""

import keras
import numpy as np
import pytest

import tfau.models
from tfau.faces import LANDMARKS_49, eacnet_attention_map, jaanet_attention_maps
from tfau.plots import (
    jaanet_attention,
    plot_attention_maps,
    plot_eacnet_attention,
    plot_jaanet_attention,
)


def face_landmarks(size):
    """A plausible 49-point face in a ``size`` square: each region a line segment."""
    # (x0, y0, x1, y1) of each region of tfau.faces.LANDMARKS_49, as fractions of the side.
    layout = {
        "left_brow": (0.2, 0.3, 0.44, 0.28),
        "right_brow": (0.56, 0.28, 0.8, 0.3),
        "nose_bridge": (0.5, 0.38, 0.5, 0.55),
        "nose_base": (0.42, 0.6, 0.58, 0.6),
        "left_eye": (0.26, 0.4, 0.42, 0.4),
        "right_eye": (0.58, 0.4, 0.74, 0.4),
        "outer_lip": (0.36, 0.74, 0.64, 0.76),
        "inner_upper_lip": (0.42, 0.74, 0.58, 0.74),
        "inner_lower_lip": (0.58, 0.77, 0.42, 0.77),
    }
    points = np.zeros((49, 2), np.float32)
    for name, indices in LANDMARKS_49.regions:
        x0, y0, x1, y1 = layout[name]
        t = np.linspace(0, 1, len(indices))
        points[list(indices)] = np.stack([x0 + t * (x1 - x0), y0 + t * (y1 - y0)], -1) * size
    return points


def test_eacnet_single_map_and_per_au_maps(tmp_path, check_png):
    size = 100
    face = np.random.default_rng(1).uniform(0, 255, (size, size, 3)).astype("float32")
    landmarks = face_landmarks(size)
    check_png(plot_eacnet_attention(tmp_path / "eacnet.png", face, landmarks))
    aus = (1, 12, 17)
    check_png(plot_eacnet_attention(tmp_path / "eacnet_aus.png", face, landmarks, aus=aus))
    maps = np.asarray(eacnet_attention_map(landmarks, size, aus=aus))
    assert maps.shape == (100, 100, 3) and maps.max() == pytest.approx(1.0)


def test_jaanet_initial_and_refined(tmp_path, check_png):
    kwargs = tfau.models.tiny_kwargs("JAANet")
    model = tfau.models.JAANet(**kwargs)
    size = kwargs["input_size"]
    # The alignment head predicts a fixed plausible face, so the predefined maps sit on it.
    head = model.get_layer("jaanet_align_fc2")
    kernel, _ = head.get_weights()
    head.set_weights([np.zeros_like(kernel), face_landmarks(size).reshape(-1)])
    faces = np.random.default_rng(2).uniform(-1, 1, (2, size, size, 3)).astype("float32")
    initial, refined = jaanet_attention(model, {"image": faces})
    outputs = model({"image": faces}, training=False)
    np.testing.assert_allclose(initial, outputs["attention_initial"], rtol=1e-6)
    np.testing.assert_allclose(refined, outputs["attention"], rtol=1e-6)
    # predefined = eq. 3 around the predicted landmarks' AU centres, l/4 + 8 brought to l/4
    # by the authors' nearest resize (cell floor(i * (l/4 + 8) / (l/4)), float32)
    padded = jaanet_attention_maps(
        outputs["landmarks"], aus=(1, 2, 4), image_size=size, map_size=size // 4 + 8
    )
    scale = np.float32((size // 4 + 8) / (size // 4))
    cells = np.floor(np.arange(size // 4, dtype=np.float32) * scale).astype(int)
    np.testing.assert_allclose(initial, np.asarray(padded)[:, cells][:, :, cells], atol=1e-6)
    assert initial.max() > 0.5
    assert initial.shape == refined.shape == (2, size // 4, size // 4, kwargs["num_aus"])
    one_initial, one_refined = jaanet_attention(model, {"image": faces[1]})
    np.testing.assert_allclose(one_refined, refined[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(one_initial, initial[1], rtol=1e-5, atol=1e-6)
    image = check_png(
        plot_jaanet_attention(tmp_path / "jaanet.png", faces, initial, refined, aus=(1, 2, 4))
    )
    assert image.shape[0] > 400  # four rows: predefined and refined of each face
    with pytest.raises(ValueError, match="same shape, one map set per image"):
        plot_jaanet_attention(tmp_path / "x.png", faces, initial, refined[:1], aus=(1, 2, 4))


def test_model_without_refined_maps_is_refused():
    # A JAANet(refinement=False) outputs only "au", "landmarks" and "attention".
    image = keras.Input((8, 8, 3), name="image")
    pooled = keras.layers.GlobalAveragePooling2D()(image)
    outputs = {
        "au": keras.layers.Dense(2, activation="sigmoid")(pooled),
        "attention": keras.layers.Conv2D(2, 1, activation="sigmoid")(image),
    }
    model = keras.Model({"image": image}, outputs)
    with pytest.raises(ValueError, match="built with refinement=True"):
        jaanet_attention(model, {"image": np.zeros((8, 8, 3), "float32")})


def test_plot_attention_maps_errors(tmp_path):
    face = np.zeros((20, 20, 3))
    with pytest.raises(ValueError, match=r"`maps` must be \(rows, h, w, 2\)"):
        plot_attention_maps(tmp_path / "x.png", face, np.zeros((5, 5, 3)), aus=(1, 2))
    with pytest.raises(ValueError, match="must name the 1 rows"):
        plot_attention_maps(tmp_path / "x.png", face, np.zeros((5, 5, 2)), (1, 2), ["a", "b"])
