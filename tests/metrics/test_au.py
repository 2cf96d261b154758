"""Keras per-AU metrics: equal to scikit-learn, accumulate, serialise, work in fit."""

import doctest

import keras
import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from tfau import metrics
from tfau.metrics import au


@pytest.fixture
def predictions():
    rng = np.random.default_rng(0)
    y_true = rng.choice([-1, 0, 1], p=[0.1, 0.6, 0.3], size=(240, 3)).astype("float32")
    y_pred = np.clip(0.3 * y_true + rng.uniform(0, 0.8, size=y_true.shape), 0, 1)
    mask = rng.choice([0.0, 1.0], p=[0.2, 0.8], size=y_true.shape).astype("float32")
    return y_true, y_pred.astype("float32"), mask


def sklearn_per_au(score, y_true, y_pred, mask, binarise=True):
    values = []
    for au_index in range(y_true.shape[1]):
        keep = (y_true[:, au_index] >= 0) & (mask[:, au_index] > 0)
        prediction = y_pred[keep, au_index]
        values.append(score(y_true[keep, au_index], prediction >= 0.5 if binarise else prediction))
    return np.array(values)


@pytest.mark.parametrize(
    ("metric_class", "score"), [(metrics.F1Frame, f1_score), (metrics.AUAccuracy, accuracy_score)]
)
def test_confusion_metrics_equal_sklearn_per_au_and_mean(metric_class, score, predictions):
    y_true, y_pred, mask = predictions
    expected = sklearn_per_au(score, y_true, y_pred, mask)
    metric = metric_class(num_aus=3)
    metric.update_state(y_true, y_pred, sample_weight=mask)
    np.testing.assert_allclose(metric.per_au_result(), expected, rtol=1e-6)
    np.testing.assert_allclose(metric.result(), expected.mean(), rtol=1e-6)
    vector = metric_class(num_aus=3, per_au=True)
    vector.update_state(y_true, y_pred, sample_weight=mask)
    np.testing.assert_allclose(vector.result(), expected, rtol=1e-6)


@pytest.mark.parametrize(
    "metric_class", [metrics.F1Frame, metrics.AUAccuracy, metrics.AUROC], ids=lambda c: c.__name__
)
def test_accumulation_over_batches_equals_one_call(metric_class, predictions):
    y_true, y_pred, mask = predictions
    whole = metric_class(num_aus=3, per_au=True)
    whole.update_state(y_true, y_pred, mask)
    pieces = metric_class(num_aus=3, per_au=True)
    for start in range(0, 240, 70):
        pieces.update_state(
            y_true[start : start + 70], y_pred[start : start + 70], mask[start : start + 70]
        )
    np.testing.assert_allclose(pieces.result(), whole.result(), rtol=1e-6)
    pieces.reset_state()
    np.testing.assert_array_equal(pieces.result(), np.zeros(3))


def test_per_sample_weights_and_unknown_labels(predictions):
    y_true, y_pred, _ = predictions
    weights = np.r_[np.ones(120), np.zeros(120)].astype("float32")
    metric = metrics.F1Frame(num_aus=3, per_au=True)
    metric.update_state(y_true, y_pred, sample_weight=weights)
    expected = sklearn_per_au(f1_score, y_true[:120], y_pred[:120], np.ones((120, 3)))
    np.testing.assert_allclose(metric.result(), expected, rtol=1e-6)


def test_auroc_is_close_to_sklearn(predictions):
    y_true, y_pred, mask = predictions
    expected = sklearn_per_au(roc_auc_score, y_true, y_pred, mask, binarise=False)
    metric = metrics.AUROC(num_aus=3)
    metric.update_state(y_true, y_pred, mask)
    np.testing.assert_allclose(metric.per_au_result(), expected, atol=5e-3)
    assert float(metric.result()) == pytest.approx(expected.mean(), abs=5e-3)


def test_auroc_is_exact_when_buckets_separate_the_scores():
    rng = np.random.default_rng(5)
    y_true = rng.choice([0.0, 1.0], size=(50, 2))
    y_pred = (rng.permutation(200)[:100].reshape(50, 2) + 0.5) / 200  # one score per bucket
    expected = [roc_auc_score(y_true[:, i], y_pred[:, i]) for i in range(2)]
    metric = metrics.AUROC(num_aus=2, per_au=True)
    metric.update_state(y_true, y_pred)
    np.testing.assert_allclose(metric.result(), expected, rtol=1e-6)


def test_metrics_inside_compile_and_fit(predictions):
    y_true, _, _ = predictions
    rng = np.random.default_rng(1)
    features = (rng.normal(size=(240, 3)) + y_true).astype("float32")
    inputs = keras.Input((3,), name="image")
    outputs = {"au": keras.layers.Dense(3, activation="sigmoid", name="au")(inputs)}
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer="sgd",
        loss={"au": "mse"},
        metrics={"au": [metrics.F1Frame(num_aus=3), metrics.AUROC(num_aus=3)]},
    )
    model.fit(features, {"au": y_true}, batch_size=64, epochs=1, verbose=0)
    logs = model.evaluate(features, {"au": y_true}, batch_size=50, return_dict=True, verbose=0)
    probabilities = model.predict(features, batch_size=50, verbose=0)["au"]
    assert logs["f1_frame"] == pytest.approx(
        metrics.f1_frame(y_true, probabilities).mean(), abs=1e-6
    )
    assert logs["auc"] == pytest.approx(
        np.nanmean(metrics.roc_auc(y_true, probabilities)), abs=5e-3
    )


@pytest.mark.parametrize(
    "metric",
    [
        metrics.F1Frame(num_aus=4, threshold=0.4, per_au=True),
        metrics.AUAccuracy(num_aus=2),
        metrics.AUROC(num_aus=3, num_thresholds=50),
    ],
    ids=lambda m: type(m).__name__,
)
def test_config_round_trip(metric):
    restored = keras.metrics.deserialize(keras.metrics.serialize(metric))
    assert type(restored) is type(metric)
    assert restored.get_config() == metric.get_config()


def test_errors_name_the_bad_value():
    with pytest.raises(
        ValueError, match=r"`num_aus` must be a positive integer. Received: num_aus=0"
    ):
        metrics.F1Frame(num_aus=0)
    with pytest.raises(ValueError, match=r"`threshold` must be in \[0, 1\]. Received: threshold=2"):
        metrics.AUAccuracy(num_aus=2, threshold=2)
    with pytest.raises(ValueError, match=r"Received: num_thresholds=1"):
        metrics.AUROC(num_aus=2, num_thresholds=1)
    with pytest.raises(ValueError, match=r"expects predictions of shape \(batch, 3\)"):
        metrics.F1Frame(num_aus=3).update_state(np.zeros((2, 4)), np.zeros((2, 4)))


def test_docstring_examples():
    result = doctest.testmod(au)
    assert result.attempted > 0 and result.failed == 0
