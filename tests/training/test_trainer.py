"""Trainer in-process: NaN stop, plain model.fit, configs, schedules."""

import itertools

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


def test_cosine_schedule_warms_up_then_decays_to_zero_at_the_last_step():
    spec = OptimizerSpec(name="adam", learning_rate=1e-3, schedule="cosine", warmup_epochs=0.5)
    rate = make_schedule(spec, steps_per_epoch=10, epochs=4)
    rates = [float(rate(step)) for step in range(41)]
    assert rates[0] == pytest.approx(1e-4)
    assert rates[2] == pytest.approx(1e-4 + 2 / 5 * 9e-4)
    assert max(rates) == pytest.approx(1e-3) and int(np.argmax(rates)) == 5
    assert rates[5 + 35 // 2] == pytest.approx(0.5e-3, rel=0.05)  # half-way down the cosine
    assert rates[40] == pytest.approx(0.0, abs=1e-9)
    assert all(a >= b for a, b in itertools.pairwise(rates[5:]))
    no_warmup = make_schedule(OptimizerSpec(learning_rate=0.1, schedule="cosine"), 10, 2)
    assert float(no_warmup(0)) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="needs the run's length"):
        make_schedule(spec, steps_per_epoch=10)
    with pytest.raises(ValueError, match="longer than its warm-up"):
        make_schedule(OptimizerSpec(schedule="cosine", warmup_epochs=2), 10, 2)


def test_warmup_needs_the_cosine_schedule(tiny_config):
    cosine = tiny_config.replace(optimizer=OptimizerSpec(schedule="cosine", warmup_epochs=0.5))
    assert TrainConfig.from_dict(cosine.to_dict()) == cosine
    with pytest.raises(ValueError, match='above 0 only with the "cosine" schedule'):
        tiny_config.replace(optimizer=OptimizerSpec(schedule="step", warmup_epochs=1))
    with pytest.raises(ValueError, match="must be one of"):
        tiny_config.replace(optimizer=OptimizerSpec(schedule="linear"))


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
    # The epoch's pipeline runs without tf.data's autotuner: ending an epoch early (`take`)
    # otherwise waits for the autotuner's thread (15-60 s per epoch, measured).
    assert trainer.epoch_dataset(0).options().autotune.enabled is False
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
