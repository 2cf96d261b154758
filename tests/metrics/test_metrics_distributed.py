"""The metrics under tf.distribute.MirroredStrategy on two logical CPU devices.

Logical devices must be configured before TensorFlow initialises its devices, so the check runs
in a fresh Python process.
"""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tfau import metrics

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
    )
    import keras
    import tfau

    rng = np.random.default_rng(0)
    y_true = rng.choice([-1, 0, 1], p=[0.1, 0.6, 0.3], size=(96, 3)).astype("float32")
    y_pred = np.clip(0.3 * y_true + rng.uniform(0, 0.8, size=y_true.shape), 0, 1)
    y_pred = y_pred.astype("float32")
    truth = rng.uniform(20, 150, size=(96, 49, 2)).astype("float32")
    guess = truth + rng.normal(0, 5, size=truth.shape).astype("float32")

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        # The model passes its input through, so the metrics see exactly y_pred.
        scores = keras.Input((3,), name="image")
        points = keras.Input((49, 2), name="landmarks")
        outputs = {
            "au": keras.layers.Activation("linear", name="au")(scores),
            "landmarks": keras.layers.Activation("linear", name="landmarks_out")(points),
        }
        model = keras.Model({"image": scores, "landmarks": points}, outputs)
        model.compile(
            loss={"au": "mse", "landmarks": "mse"},
            metrics={
                "au": [
                    tfau.metrics.F1Frame(num_aus=3),
                    tfau.metrics.AUAccuracy(num_aus=3),
                    tfau.metrics.AUROC(num_aus=3),
                ],
                "landmarks": [tfau.metrics.LandmarkMeanError()],
            },
        )
        direct = tfau.metrics.F1Frame(num_aus=3, per_au=True)

    logs = model.evaluate(
        {"image": y_pred, "landmarks": guess},
        {"au": y_true, "landmarks": truth},
        batch_size=32,
        return_dict=True,
        verbose=0,
    )
    dataset = strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensor_slices((y_true, y_pred)).batch(32)
    )
    replicas = set()

    @tf.function
    def step(labels, predictions):
        def update(labels, predictions):
            direct.update_state(labels, predictions)
            return tf.distribute.get_replica_context().replica_id_in_sync_group

        return strategy.run(update, args=(labels, predictions))

    for labels, predictions in dataset:
        ids = step(labels, predictions)
        replicas.update(int(v) for v in strategy.experimental_local_results(ids))
    print(json.dumps({
        "replicas": strategy.num_replicas_in_sync,
        "replica_ids": sorted(replicas),
        "logs": {k: float(v) for k, v in logs.items()},
        "direct": [float(v) for v in direct.result()],
    }))
    """
)


@pytest.mark.slow
def test_metrics_under_mirrored_strategy_equal_single_device_numbers():
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300, check=False
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["replicas"] == 2 and report["replica_ids"] == [0, 1]

    rng = np.random.default_rng(0)
    y_true = rng.choice([-1, 0, 1], p=[0.1, 0.6, 0.3], size=(96, 3)).astype("float32")
    y_pred = np.clip(0.3 * y_true + rng.uniform(0, 0.8, size=y_true.shape), 0, 1)
    y_pred = y_pred.astype("float32")
    truth = rng.uniform(20, 150, size=(96, 49, 2)).astype("float32")
    guess = truth + rng.normal(0, 5, size=truth.shape).astype("float32")

    f1 = metrics.f1_frame(y_true, y_pred)
    np.testing.assert_allclose(report["direct"], f1, rtol=1e-5)
    logs = report["logs"]
    assert logs["au_f1_frame"] == pytest.approx(f1.mean(), rel=1e-5)
    assert logs["au_au_accuracy"] == pytest.approx(metrics.accuracy(y_true, y_pred).mean(), 1e-5)
    assert logs["au_auc"] == pytest.approx(metrics.roc_auc(y_true, y_pred).mean(), abs=5e-3)
    expected_error = metrics.landmark_mean_error(truth, guess)
    assert logs["landmarks_landmark_mean_error"] == pytest.approx(expected_error, rel=1e-4)
