"""Mixed precision (bfloat16, float16 with loss scaling) and XLA in the Trainer."""

import keras
import numpy as np
import pytest


def _train(config, synth_data_dir, run_dir, pipeline=None):
    from tfau.training import Trainer

    trainer = Trainer(
        config,
        pipeline=pipeline,
        data_dir=synth_data_dir,
        run_dir=str(run_dir),
        log=lambda m: None,
    )
    history = trainer.train()
    return trainer, history


def _fvgg_config():
    from tfau.training import TrainConfig

    # No dropout: XLA draws other random numbers than the TensorFlow kernels.
    return TrainConfig(
        model="FVGG",
        dataset="synth_au/tiny",
        model_kwargs={
            "input_size": 32,
            "width": 1 / 16,
            "fc_units": 32,
            "head_units": 16,
            "dropout": 0.0,
        },
        pipeline_kwargs={"input_size": 32},
        batch_size=4,
        epochs=1,
        steps_per_epoch=2,
        losses={"au": {"name": "offset_cross_entropy"}},
        optimizer={"name": "sgd", "learning_rate": 0.01, "momentum": 0.9},
    )


@pytest.fixture(scope="module")
def float32_run(synth_data_dir, tmp_path_factory):
    """A tiny FVGG trained for one epoch of 2 steps in float32."""
    return _train(_fvgg_config(), synth_data_dir, tmp_path_factory.mktemp("float32"))


# FVGG (plain convolutions) rather than DRML: TensorFlow has no float16 gradient of the
# grouped convolution DRML's region layer runs on a CPU ("Gradients for grouped convolutions
# are not supported on CPU"), so DRML cannot train under mixed_float16 on a CPU.
@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_trains_in_low_precision_with_float32_outputs(
    policy, synth_data_dir, tmp_path
):
    import tfau.data
    from tfau.training import Trainer
    from tfau.training.building import build_model

    # 8 steps: float16 skips the first steps, whose scaled gradients overflow.
    config = _fvgg_config().replace(mixed_precision=policy, steps_per_epoch=8)
    trainer = Trainer(config, data_dir=synth_data_dir, run_dir=str(tmp_path), log=lambda m: None)
    compute = policy.removeprefix("mixed_")
    model = trainer.model
    conv = next(layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D))
    assert conv.compute_dtype == compute and conv.variable_dtype == "float32"
    assert all(v.dtype == "float32" for v in model.trainable_variables)
    # The global policy is back to float32 after the Trainer built the model.
    assert keras.config.dtype_policy().name == "float32"
    is_scaled = isinstance(trainer.optimizer, keras.optimizers.LossScaleOptimizer)
    assert is_scaled == (policy == "mixed_float16")
    # Same seed, same initial weights: float32 outputs equal to the float32 network's to
    # within the low precision's rounding (bfloat16 keeps 8 bits: a few percent of the
    # logits' scale after 16 convolutions).
    reference = build_model(_fvgg_config(), data_dir=synth_data_dir)
    examples = tfau.data.load_split("synth_au/tiny", "part3", synth_data_dir)
    inputs, _ = next(iter(trainer.pipeline(examples, training=False, batch_size=6)))
    low = trainer._predict(inputs)["au"]
    assert low.dtype == "float32"
    full = reference(inputs, training=False)["au"]
    logits = [np.log(p) - np.log1p(-p) for p in (np.asarray(low, "float64"), np.asarray(full))]
    error = np.max(np.abs(logits[0] - logits[1])) / np.max(np.abs(logits[1]))
    assert error < (0.05 if compute == "bfloat16" else 0.005), error
    before = model.get_layer("fvgg_au_logits").get_weights()[0]
    history = trainer.train()
    assert np.isfinite(history[-1]["loss"])
    assert not np.array_equal(model.get_layer("fvgg_au_logits").get_weights()[0], before)
    if is_scaled:
        # Dynamic loss scaling: the scale fell from 2^15 on overflowing float16 gradients.
        scale = float(trainer.optimizer.dynamic_scale.numpy())
        assert scale < 2.0**15 and np.log2(scale) == int(np.log2(scale))
    labels, probabilities = trainer.predict_split("part3")
    assert probabilities.dtype == np.float32 and np.isfinite(probabilities).all()
    assert probabilities.shape == labels.shape == (6, 12)


def test_jit_compiled_step_matches_the_plain_step(float32_run, synth_data_dir, tmp_path):
    with pytest.raises(ValueError, match="`jit_compile=True` needs `deterministic=False`"):
        _fvgg_config().replace(jit_compile=True)
    config = _fvgg_config().replace(jit_compile=True, deterministic=False)
    trainer, history = _train(config, synth_data_dir, tmp_path)
    plain, reference = float32_run
    assert history[-1]["loss"] == pytest.approx(reference[-1]["loss"], rel=1e-5)
    pairs = zip(trainer.model.trainable_variables, plain.model.trainable_variables, strict=True)
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-4, atol=1e-6)


def test_jaanet_trains_under_mixed_bfloat16(synth_data_dir, tmp_path):
    from tfau.data import get_pipeline
    from tfau.training import TrainConfig
    from tfau.training.run_data import select_aus

    config = TrainConfig(
        model="JAANet",
        dataset="synth_au/tiny",
        model_kwargs={
            "input_size": 48,
            "c": 2,
            "d": 16,
            "aus": [1, 2, 4],
            "num_aus": 3,
            "local_implementation": "grouped",
        },
        pipeline_kwargs={"input_size": 48, "source_size": 56},
        batch_size=2,
        epochs=1,
        steps_per_epoch=1,
        losses={
            "au": [{"name": "weighted_softmax_ce"}, {"name": "weighted_dice"}],
            "landmarks": {"name": "alignment", "weight": 0.5},
            "attention": {
                "name": "attention_refinement",
                "weight": 1e-7,
                "target": "attention_initial",
            },
        },
        mixed_precision="mixed_bfloat16",
    )
    # The first three of the 12 label columns (AUs 1, 2, 4).
    pipeline = select_aus(get_pipeline("JAANet", input_size=48, source_size=56), [0, 1, 2])
    trainer, history = _train(config, synth_data_dir, tmp_path, pipeline)
    assert np.isfinite(history[-1]["loss"])
    outputs = trainer._predict({"image": np.zeros((1, 48, 48, 3), "float32")})
    for key in ("au", "landmarks", "attention", "attention_initial"):
        assert outputs[key].dtype == "float32" and np.isfinite(outputs[key].numpy()).all(), key
    assert trainer.model.get_layer("jaanet_local").compute_dtype == "bfloat16"
