"""A small plain CNN learns every SynthAU action unit far above chance, but not perfectly.

Faces are rendered at 128 x 128, aligned on the eye centres (rotation, scale, translation) and
cropped to 64 x 64. Training and test identities are disjoint. The profile is
``balanced`` (every AU present in about 30% of frames) with episodes of about one frame, so
that frames of one person carry different labels and a network cannot learn identities
instead of AUs. Many identities and few epochs (480 x 12 frames, 6 epochs: about two minutes on
two idle cores) learn more reliably than few identities and many epochs (240 x 12 frames, 20
epochs failed the AUC bar with seed 1); the measured table and the spread over seeds are in
experiments/benchmarks/results/synth_learnability.md.
"""

import dataclasses
import os

import cv2
import numpy as np
import pytest

from tfau.synth import ALL_AUS, BALANCED_PROFILE, SynthAU

CROP = 64
EPOCHS = 6
TRAIN_SUBJECTS = 480


def align_crop(frame: np.ndarray, landmarks66: np.ndarray, size: int = CROP) -> np.ndarray:
    """Similarity crop: eyes level, inter-ocular distance 0.36 * size, eyes at 0.36 height."""
    left, right = landmarks66[36:42].mean(0), landmarks66[42:48].mean(0)
    d = right - left
    angle = float(np.degrees(np.arctan2(d[1], d[0])))
    scale = 0.36 * size / float(np.hypot(*d))
    centre = (left + right) / 2
    m = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, scale)
    m[:, 2] += np.array([size / 2, 0.36 * size]) - centre
    return cv2.warpAffine(frame, m, (size, size), flags=cv2.INTER_AREA, borderValue=(128, 128, 128))


def make_split(gen: SynthAU, prefix: str, subjects: int, frames: int):
    images, labels = [], []
    for i in range(subjects):
        seq = gen.sequence(f"{prefix}{i:03d}", "T1", frames)
        images += [align_crop(seq.frame(t), seq.landmarks66[0, t]) for t in range(frames)]
        labels.append(seq.occurrence(ALL_AUS))
    return np.stack(images), np.concatenate(labels).astype(np.float32)


def f1_score(y: np.ndarray, p: np.ndarray) -> float:
    tp = float(np.sum(y & p))
    return 2 * tp / max(1.0, float(y.sum() + p.sum()))


def auc_score(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney; ties count one half)."""
    pos, neg = score[y], score[~y]
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


@pytest.mark.slow
def test_a_small_cnn_learns_every_au_far_above_chance():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    profile = dataclasses.replace(BALANCED_PROFILE, episode_frames=1.0)
    gen = SynthAU(profile, image_size=(128, 128), face_width=0.6, seed=0)
    x_train, y_train = make_split(gen, "S", subjects=TRAIN_SUBJECTS, frames=12)
    x_test, y_test = make_split(gen, "V", subjects=60, frames=10)

    keras.utils.set_random_seed(0)
    inputs = keras.Input((CROP, CROP, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    for filters in (16, 32, 48, 64):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dropout(0.3)(x)
    x = keras.layers.Dense(128, activation="relu")(x)
    outputs = keras.layers.Dense(len(ALL_AUS), activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)

    model.compile(keras.optimizers.Adam(2e-3), "binary_crossentropy")
    model.fit(x_train, y_train, batch_size=32, epochs=EPOCHS, verbose=0, shuffle=True)

    scores = model.predict(x_test, verbose=0)
    rows = []
    for k, au in enumerate(ALL_AUS):
        y = y_test[:, k] > 0.5
        rate = float(y.mean())
        chance = 2 * rate / (1 + rate)  # F1 of always answering "present"
        rows.append(
            (au, rate, chance, f1_score(y, scores[:, k] >= 0.5), auc_score(y, scores[:, k]))
        )
    print("\n| AU | test rate | chance F1 | F1 | AUC |\n|---|---|---|---|---|")
    for au, rate, chance, f1, auc in rows:
        print(f"| {au} | {rate:.2f} | {chance:.2f} | {f1:.2f} | {auc:.2f} |")
    mean_f1, mean_chance = np.mean([r[3] for r in rows]), np.mean([r[2] for r in rows])
    print(f"| mean | | {mean_chance:.2f} | {mean_f1:.2f} | {np.mean([r[4] for r in rows]):.2f} |")

    for au, *_, auc in rows:
        assert auc > 0.65, f"AU{au}: AUC {auc:.2f}"
    above = [au for au, _, chance, f1, _ in rows if f1 > chance + 0.05]
    assert len(above) >= 14, f"F1 clearly above chance only for AUs {above}"
    assert mean_f1 > mean_chance + 0.15
    # Not trivial: the subtle AUs stay subtle.
    assert mean_f1 < 0.95 and min(r[3] for r in rows) < 0.8
