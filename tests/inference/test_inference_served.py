"""`tfau predict` with the 68 landmarks: E-Net / EAC-Net, landmark alignment, flow AUNets.

Each served network's CSV rows are checked against the Keras model run directly on faces
aligned here from the CSV's own 68 landmarks (dlib's points are whole pixels, so the CSV holds
them exactly), preprocessed by the network's `tfau.data` pipeline config; and against what a
wrong input (moved landmarks, the keypoint alignment, no flow or the wrong previous frame)
would give, so that each test can tell the right input from the wrong one.
"""

import csv
import sys

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf
from inference_test_utils import AUS, BLANK, MEAN, tiny_model

import tfau.inference.predictor as predictor_module
from tfau.cli.main import main as cli_main
from tfau.data import get_config, preprocess_example
from tfau.faces import (
    align_face_from_keypoints,
    convert_landmarks,
    keypoints_from_landmarks,
    square_box_matrix,
    transform_points,
)
from tfau.inference import Predictor, csv_columns, from_keras, load_model

NAMES = ["AU01", "AU02", "AU04"]
#: Probabilities are written with 4 decimals.
CSV_TOLERANCE = 1.5e-4


def seeded_model(name):
    """A tiny network with fixed weights (a random one may saturate and hide its inputs)."""
    keras.utils.set_random_seed(0)
    return tiny_model(name)


@pytest.fixture(scope="module")
def drml(tmp_path_factory):
    path = tmp_path_factory.mktemp("seeded") / "drml.keras"
    seeded_model("DRML").save(path)
    return load_model(path, aus=AUS, mean=MEAN)


def read_rows(path):
    with open(path, newline="") as file:
        rows = list(csv.reader(file))
    return rows[0], [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def csv_landmarks(row, count=68, prefix=""):
    return np.array(
        [[float(row[f"{prefix}x_{i}"]), float(row[f"{prefix}y_{i}"])] for i in range(count)]
    )


def probabilities(row):
    return np.array([float(row[f"{name}_p"]) for name in NAMES])


def run_keras(keras_model, name, face, landmarks=None, previous=None):
    """The Keras model on one aligned face, preprocessed by its pipeline's test-time config."""
    inputs_shape = {tensor.name: tensor.shape for tensor in keras_model.inputs}
    size = int(inputs_shape.get("image", inputs_shape.get("flow"))[1])
    config = get_config(name, input_size=size, normalization="symmetric")
    example = {
        "image": tf.constant(face),
        "landmarks": tf.zeros([49, 2]) if landmarks is None else tf.constant(landmarks, tf.float32),
        "au": tf.zeros([len(AUS)]),
    }
    if previous is not None:
        example["previous_image"] = tf.constant(previous)
    inputs, _ = preprocess_example(example, config, training=False)
    batch = {key: value[None] for key, value in inputs.items() if key in inputs_shape}
    return keras_model(batch, training=False)["au"].numpy()[0]


def align_from_68(frame, landmarks68):
    aligned = align_face_from_keypoints(frame, keypoints_from_landmarks(landmarks68))
    landmarks49 = transform_points(convert_landmarks(landmarks68, 49), aligned.matrix)
    return aligned, landmarks49.astype(np.float32)


def warp(frame, matrix, size=200):
    return cv2.warpAffine(
        frame, matrix, (size, size), flags=cv2.INTER_LINEAR, borderValue=(128, 128, 128)
    )


def cut_out(frame, landmarks68, crop, size):
    """(face, frame -> face matrix, 49 landmarks in the face) as the datasets cut them."""
    if crop == "aligned":
        aligned, landmarks49 = align_from_68(frame, landmarks68)
        return aligned.image, aligned.matrix, landmarks49
    # The unaligned<size> datasets' square box around the 49 landmarks.
    landmarks49 = convert_landmarks(landmarks68, 49)
    matrix = square_box_matrix(landmarks49, size)
    face_landmarks = transform_points(landmarks49, matrix).astype(np.float32)
    return warp(frame, matrix, size), matrix, face_landmarks


@pytest.mark.parametrize(
    ("name", "crop"), [("ENet", "aligned"), ("EACNet", "aligned"), ("EACNet", "unaligned")]
)
def test_landmark_networks_equal_keras_on_the_same_faces_and_landmarks(
    tmp_path, synth_frames, name, crop
):
    keras_model = seeded_model(name)
    size = 200 if crop == "aligned" else 224  # aligned200 / unaligned224
    model = from_keras(keras_model, aus=AUS, normalization="symmetric", face_size=size)
    assert model.needs_landmarks and not model.needs_flow
    frames = synth_frames[:4]
    predictor = Predictor(model, batch_size=3, detect_every=2, crop=crop)
    predictor.predict_frames(frames, tmp_path / "out.csv")
    header, rows = read_rows(tmp_path / "out.csv")
    assert header == csv_columns(NAMES, 68)
    assert len(rows) == len(frames) and all(row["success"] == "1" for row in rows)
    differences = []
    for frame, row in zip(frames, rows, strict=True):
        landmarks68 = csv_landmarks(row)
        np.testing.assert_array_equal(landmarks68, landmarks68.round())  # dlib: whole pixels
        face, _, landmarks49 = cut_out(frame, landmarks68, crop, size)
        expected = run_keras(keras_model, name, face, landmarks49)
        np.testing.assert_allclose(probabilities(row), expected, atol=CSV_TOLERANCE)
        moved = run_keras(keras_model, name, face, landmarks49 + 6.0)
        differences.append(np.abs(moved - probabilities(row)).max())
    # The landmarks reach the network: moved by 6 px in the face, the answers differ (by
    # 2e-3 to 6e-3 measured; a network that ignored them would give the same).
    assert max(differences) > 1e-3


def test_faces_align_from_the_68_landmarks_by_default(tmp_path, synth_frames, drml):
    frames = synth_frames[:3]
    default = Predictor(drml, batch_size=4)
    assert default.aligns_from_landmarks
    default.predict_frames(frames, tmp_path / "landmarks.csv")
    Predictor(drml, batch_size=4, landmarks=False).predict_frames(frames, tmp_path / "kp.csv")
    header, rows = read_rows(tmp_path / "landmarks.csv")
    assert header == csv_columns(NAMES, 68)
    kp_header, kp_rows = read_rows(tmp_path / "kp.csv")
    assert kp_header == csv_columns(NAMES, 5)
    for frame, row, kp_row in zip(frames, rows, kp_rows, strict=True):
        from_landmarks, _ = align_from_68(frame, csv_landmarks(row))
        from_keypoints = align_face_from_keypoints(frame, csv_landmarks(kp_row, 5))
        by_landmarks = drml(from_landmarks.image[None])["au"][0]
        by_keypoints = drml(from_keypoints.image[None])["au"][0]
        np.testing.assert_allclose(probabilities(row), by_landmarks, atol=CSV_TOLERANCE)
        # The CSV rounds key points to 0.01 px, which moves this alignment a little (<= 0.006
        # measured); the two alignments differ by 0.08-0.22.
        np.testing.assert_allclose(probabilities(kp_row), by_keypoints, atol=0.02)
        assert np.abs(by_landmarks - by_keypoints).max() > 0.03


def test_jaanet_writes_the_68_landmarks_and_its_own_49(tmp_path, synth_frames, jaanet):
    Predictor(jaanet, batch_size=2).predict_frames(synth_frames[:2], tmp_path / "jaanet.csv")
    header, rows = read_rows(tmp_path / "jaanet.csv")
    assert header == csv_columns(jaanet.au_names, 68, network_points=49)
    for frame, row in zip(synth_frames[:2], rows, strict=True):
        aligned, _ = align_from_68(frame, csv_landmarks(row))
        # The network's landmarks, mapped back to the frame with the landmark alignment.
        network = jaanet(aligned.image[None])["landmarks"][0]
        expected = transform_points(network, cv2.invertAffineTransform(aligned.matrix))
        np.testing.assert_allclose(csv_landmarks(row, 49, "net_"), expected, atol=6e-3)


def test_options_and_errors(tmp_path, synth_frames, drml, monkeypatch):
    enet = from_keras(tiny_model("ENet"), aus=AUS)
    with pytest.raises(ValueError, match=r"ENet takes each face's 49 landmarks.*landmarks=False"):
        Predictor(enet, landmarks=False)
    with pytest.raises(ValueError, match=r"align_from='landmarks' needs the 68 landmarks"):
        Predictor(drml, landmarks=False, align_from="landmarks")
    with pytest.raises(ValueError, match=r"`align_from` must be one of"):
        Predictor(drml, align_from="eyes")
    with pytest.raises(ValueError, match=r"`crop` must be one of"):
        Predictor(drml, crop="square")
    with pytest.raises(ValueError, match=r"crop='unaligned' needs the 68 landmarks"):
        Predictor(drml, crop="unaligned", landmarks=False)
    with pytest.raises(ValueError, match=r"ENet takes each face's 49 landmarks: pass `landmarks`"):
        enet(np.zeros((1, 200, 200, 3), np.uint8))
    keypoints = Predictor(drml, align_from="keypoints")
    assert keypoints.landmark_detector is not None and not keypoints.aligns_from_landmarks

    # Without the extra: landmarks off by default, an error naming the command where needed.
    monkeypatch.setattr(predictor_module, "landmarks_available", lambda: False)
    monkeypatch.setitem(sys.modules, "dlib", None)
    plain = Predictor(drml)
    assert plain.landmark_detector is None and plain.num_points == 5
    for make in (
        lambda: Predictor(enet),
        lambda: Predictor(drml, landmarks=True),
        lambda: Predictor(drml, crop="unaligned"),
    ):
        with pytest.raises(ImportError, match=r'pip install "tfau\[landmarks\]"'):
            make()


def test_cli_landmark_options(tmp_path, drml_keras, synth_video):
    out = tmp_path / "cli.csv"
    base = ["predict", "--model", str(drml_keras), "--input", str(synth_video), "--out", str(out)]
    base += ["--aus", "1", "2", "4", "--mean", *map(str, MEAN), "--no_progress"]
    assert cli_main([*base, "--max_frames", "2"]) == 0
    assert read_rows(out)[0] == csv_columns(NAMES, 68)
    assert cli_main([*base, "--max_frames", "2", "--no_landmarks"]) == 0
    assert read_rows(out)[0] == csv_columns(NAMES, 5)
    with pytest.raises(SystemExit, match=r"align_from='landmarks' needs the 68 landmarks"):
        cli_main([*base, "--no_landmarks", "--align_from", "landmarks"])


FLOW_NETWORKS = [
    "AUNetFlow",
    "AUNetChannels",
    "AUNetHorizontal",
    "AUNetPiConv",
    "AUNetPiFC6",
    "AUNetPiFC7",
]


@pytest.mark.parametrize(
    ("name", "crop", "source"),
    [
        *((name, "aligned", "keras") for name in FLOW_NETWORKS),
        ("AUNetChannels", "unaligned", "keras"),
        # Exports: OpenCV's flow between their "flow_frames" and "faces" signatures.
        ("AUNetPiFC6", "aligned", "saved_model"),
        ("AUNetChannels", "unaligned", "litert"),
    ],
)
def test_flow_networks_equal_keras_on_the_same_face_pairs(
    tmp_path, synth_frames, name, crop, source
):
    """A first frame, consecutive frames, frames without a face and the track's restart."""
    keras_model = seeded_model(name)
    size = 200 if crop == "aligned" else 224  # aligned200 / unaligned224_pairs
    if source == "keras":
        model = from_keras(keras_model, aus=AUS, normalization="symmetric", face_size=size)
    else:
        from tfau.export import export_model
        from tfau.export.litert import export_litert

        path = tmp_path / ("model.tflite" if source == "litert" else "saved_model")
        export = export_litert if source == "litert" else export_model
        options = {"quantize": "none", "eval_faces": 8} if source == "litert" else {}
        export(
            keras_model,
            path,
            model_name=name,
            aus=AUS,
            face_size=size,
            normalization="symmetric",
            **options,
        )
        model = load_model(path)
    assert model.needs_flow and model.model_name == name and model.source == source
    frames = synth_frames[:11]  # frames 7-9 (0-based 6-8) hold no face
    predictor = Predictor(model, batch_size=4, detect_every=4, crop=crop)
    predictor.predict_frames(frames, tmp_path / "flow.csv")
    _, rows = read_rows(tmp_path / "flow.csv")
    assert [row["success"] for row in rows] == ["0" if t in BLANK else "1" for t in range(11)]
    assert {row["face_id"] for row in rows if row["success"] == "1"} == {"0"}
    with_previous, without_previous = [], []
    for t, (frame, row) in enumerate(zip(frames, rows, strict=True)):
        if row["success"] == "0":
            continue
        face, matrix, _ = cut_out(frame, csv_landmarks(row), crop, size)
        csv_p = probabilities(row)
        still = run_keras(keras_model, name, face, previous=face)
        if t == 0 or rows[t - 1]["success"] == "0":
            # The track's first frame, and its first frame after the face was lost: the face
            # itself is its previous frame (zero flow), as the *_pairs datasets store a
            # sequence's first frame.
            np.testing.assert_allclose(csv_p, still, atol=CSV_TOLERANCE)
            if t > 0:
                faceless = run_keras(
                    keras_model, name, face, previous=warp(frames[t - 1], matrix, size)
                )
                without_previous.append(np.abs(faceless - csv_p).max())
            continue
        # The previous frame cut out with this frame's alignment.
        previous = warp(frames[t - 1], matrix, size)
        expected = run_keras(keras_model, name, face, previous=previous)
        np.testing.assert_allclose(csv_p, expected, atol=CSV_TOLERANCE)
        with_previous.append(np.abs(still - csv_p).max())
    assert len(with_previous) == 6 and len(without_previous) == 1  # frames 2-6, 11; frame 10
    # The flow reaches the network: zero flow instead of the real one, or the faceless frame
    # as the restart's predecessor, would give other answers.
    assert max(with_previous) > 1e-3 and min(without_previous) > 1e-3
