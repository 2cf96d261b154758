"""Mixed precision (bfloat16, float16 with loss scaling) and XLA in the Trainer."""

import keras
import numpy as np
import pytest


def _train(config, synth_data_dir, run_dir):
    from tfau.training import Trainer

    trainer = Trainer(config, data_dir=synth_data_dir, run_dir=str(run_dir), log=lambda m: None)
    history = trainer.train()
    return trainer, history


@pytest.fixture(scope="module")
def tiny_config():
    from tfau.training import get_config

    return get_config("synth_drml_tiny").replace(epochs=1, steps_per_epoch=2)


@pytest.fixture(scope="module")
def float32_run(tiny_config, synth_data_dir, tmp_path_factory):
    """The tiny DRML config trained for one epoch of 2 steps in float32."""
    return _train(tiny_config, synth_data_dir, tmp_path_factory.mktemp("float32"))


def _fvgg_config():
    from tfau.training import TrainConfig

    return TrainConfig(
        model="FVGG",
        dataset="synth_au/tiny",
        model_kwargs={"input_size": 32, "width": 1 / 16, "fc_units": 32, "head_units": 16},
        pipeline_kwargs={"input_size": 32},
        batch_size=4,
        epochs=1,
        steps_per_epoch=2,
        losses={"au": {"name": "offset_cross_entropy"}},
        optimizer={"name": "sgd", "learning_rate": 0.01, "momentum": 0.9},
    )


# DRML under mixed_float16 cannot train on a CPU: TensorFlow has no float16 gradient of the
# grouped convolution its region layer runs ("Gradients for grouped convolutions are not
# supported on CPU"); float16 is tested on the VGG-based FVGG instead.
@pytest.mark.parametrize(
    ("policy", "network"), [("mixed_bfloat16", "drml"), ("mixed_float16", "fvgg")]
)
def test_mixed_precision_trains_in_low_precision_with_float32_outputs(
    policy, network, tiny_config, float32_run, synth_data_dir, tmp_path
):
    if network == "drml":
        config, (_, reference) = tiny_config, float32_run
    else:
        config = _fvgg_config()
        reference = _train(config, synth_data_dir, tmp_path / "float32")[1]
    trainer, history = _train(
        config.replace(mixed_precision=policy), synth_data_dir, tmp_path / policy
    )
    compute = policy.removeprefix("mixed_")
    model = trainer.model
    conv = next(layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D))
    assert conv.compute_dtype == compute and conv.variable_dtype == "float32"
    assert all(v.dtype == "float32" for v in model.trainable_variables)
    # The global policy is back to float32 after the Trainer built the model.
    assert keras.config.dtype_policy().name == "float32"
    is_scaled = isinstance(trainer.optimizer, keras.optimizers.LossScaleOptimizer)
    assert is_scaled == (policy == "mixed_float16")
    loss = history[-1]["loss"]
    assert np.isfinite(loss)
    # Same seed, same initial weights and batches: the loss is the float32 one to within the
    # low precision's rounding.
    assert loss == pytest.approx(reference[-1]["loss"], rel=0.05)
    labels, probabilities = trainer.predict_split("part3")
    assert probabilities.dtype == np.float32 and np.isfinite(probabilities).all()
    assert probabilities.shape == labels.shape == (6, 12)


def test_jit_compiled_step_matches_the_plain_step(synth_data_dir, tmp_path):
    with pytest.raises(ValueError, match="`jit_compile=True` needs `deterministic=False`"):
        _fvgg_config().replace(jit_compile=True)
    # No dropout: XLA draws other random numbers than the TensorFlow kernels.
    config = _fvgg_config().replace(**{"model_kwargs.dropout": 0.0})
    plain, reference = _train(config, synth_data_dir, tmp_path / "plain")
    config = config.replace(jit_compile=True, deterministic=False)
    trainer, history = _train(config, synth_data_dir, tmp_path / "xla")
    assert history[-1]["loss"] == pytest.approx(reference[-1]["loss"], rel=1e-5)
    pairs = zip(trainer.model.trainable_variables, plain.model.trainable_variables, strict=True)
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-4, atol=1e-6)


def test_jaanet_trains_under_mixed_bfloat16(synth_data_dir, tmp_path):
    from tfau.training import TrainConfig

    config = TrainConfig(
        model="JAANet",
        dataset="synth_au/tiny",
        model_kwargs={"input_size": 48, "c": 2, "d": 16, "local_implementation": "grouped"},
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
    trainer, history = _train(config, synth_data_dir, tmp_path)
    assert np.isfinite(history[-1]["loss"])
    outputs = trainer._predict({"image": np.zeros((1, 48, 48, 3), "float32")})
    for key in ("au", "landmarks", "attention", "attention_initial"):
        assert outputs[key].dtype == "float32" and np.isfinite(outputs[key].numpy()).all(), key
    assert trainer.model.get_layer("jaanet_local").compute_dtype == "bfloat16"
