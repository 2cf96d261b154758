"""Trainer in-process: NaN stop, plain model.fit, configs, schedules."""

import numpy as np
import pytest
import tensorflow as tf

from tfau.training import OptimizerSpec, TrainConfig, make_schedule


def test_schedules_match_the_papers():
    drml = make_schedule(OptimizerSpec(learning_rate=0.01, schedule="step", decay_steps=4000), 1)
    assert float(drml(3999)) == pytest.approx(0.01)
    assert float(drml(4000)) == pytest.approx(0.001)
    jaanet = make_schedule(
        OptimizerSpec(learning_rate=0.01, schedule="epoch_step", decay_factor=0.3), 10
    )
    assert float(jaanet(19)) == pytest.approx(0.01)
    assert float(jaanet(20)) == pytest.approx(0.003)
    assert float(jaanet(40)) == pytest.approx(0.0009)


def test_config_round_trip_and_errors(tiny_config):
    assert TrainConfig.from_dict(tiny_config.to_dict()) == tiny_config
    assert tiny_config.replace(**{"optimizer.learning_rate": 0.5}).optimizer.learning_rate == 0.5
    with pytest.raises(ValueError, match="`batch_size` must be a positive integer"):
        tiny_config.replace(batch_size=0)
    with pytest.raises(KeyError, match="Unknown TrainConfig keys"):
        TrainConfig.from_dict({**tiny_config.to_dict(), "epoch": 3})


def test_nan_loss_names_step_and_batch(tiny_config, synth_data_dir, tmp_path):
    import tfau.data
    from tfau.training import NaNLossError, Trainer

    base = tfau.data.get_pipeline("DRML", **tiny_config.pipeline_kwargs)

    def poisoned(dataset, **kwargs):
        batches = base(dataset, **kwargs)
        if not kwargs["training"]:
            return batches

        def poison(index, batch):
            inputs, targets = batch
            # Infinite labels: the losses clip probabilities (hiding NaN outputs) and treat
            # NaN labels as unknown.
            nan = tf.fill(tf.shape(targets["au"]), float("inf"))
            return inputs, {"au": tf.where(index == 1, nan, targets["au"])}

        return batches.enumerate().map(poison)

    poisoned.config = base.config
    trainer = Trainer(
        tiny_config, pipeline=poisoned, data_dir=synth_data_dir, run_dir=str(tmp_path)
    )
    with pytest.raises(NaNLossError, match=r"at step 1 \(epoch 0, batch 1 of the epoch") as info:
        trainer.train()
    keys = trainer.batch_keys(0, 1)
    assert len(set(keys)) == 4 and all(k.startswith(("F001_T1/", "F003_T1/")) for k in keys)
    assert str(keys) in str(info.value)


def test_plain_model_fit(tiny_config, synth_data_dir):
    import keras

    import tfau.data
    import tfau.losses
    import tfau.metrics
    import tfau.models

    train = tfau.data.load_split("synth_au/tiny", "part1+part2", synth_data_dir)
    pipeline = tfau.data.get_pipeline("DRML", **tiny_config.pipeline_kwargs)
    batches = pipeline(train, training=True, batch_size=4, mean=tfau.data.image_mean(train))
    model = tfau.models.get("DRML")(**tiny_config.model_kwargs)
    model.compile(
        optimizer=keras.optimizers.SGD(0.001, momentum=0.9),
        loss={"au": tfau.losses.MultiLabelSigmoidCrossEntropy()},
        metrics={"au": [tfau.metrics.F1Frame(num_aus=12)]},
    )
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(batches, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights(), strict=True))
