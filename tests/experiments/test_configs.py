"""Every experiment config loads and is consistent with the registry, pipelines and papers."""

import pytest
import tfau.datasets
import tfau.experiments.configs as ex

import tfau.data
from tfau.models import get as get_model
from tfau.training.config import TrainConfig
from tfau.training.paper_results import paper_result

PAPERS = ("drml", "eacnet", "jaanet", "aunets", "pattnet")


def test_every_paper_has_its_published_datasets_and_a_synth_version():
    expected = {f"{p}_{d}" for p in PAPERS for d in ("bp4d", "synth", "synthbp4d")}
    expected |= {"drml_disfa", "eacnet_disfa", "jaanet_disfa"}
    assert set(ex.list_experiments()) == expected
    with pytest.raises(KeyError, match=r"Unknown experiment 'nope'\. Experiments: aunets_bp4d"):
        ex.get_experiment("nope")


@pytest.mark.parametrize("name", ex.list_experiments())
def test_config_is_valid(name):
    import tensorflow_datasets as tfds

    experiment = ex.get_experiment(name)
    config = experiment.train_config()
    assert isinstance(config, TrainConfig)
    assert TrainConfig.from_dict(config.to_dict()) == config
    builder_fn = get_model(config.model)
    pipeline = tfau.data.get_config(config.pipeline or config.model, **config.pipeline_kwargs)
    dataset, config_name = config.dataset.split("/")
    builder_cls = tfds.builder_cls(dataset)
    assert config_name in {c.name for c in builder_cls.BUILDER_CONFIGS}
    assert config.train_split == "part1+part2" and config.test_split == "part3"
    aus = ex.DATASET_AUS[dataset]
    assert config.model_kwargs.get("num_aus", len(aus)) == len(aus)
    paper = paper_result(experiment.paper, experiment.paper_dataset)
    if experiment.dataset != "synth":
        assert paper.aus == aus
    assert experiment.paper_f1 == paper.reported_mean
    if paper.consistent:
        assert abs(paper.mean - experiment.paper_f1) <= 0.05
    else:
        assert "not the row mean" in paper.note
    assert f"--config {name}" in experiment.command and experiment.stages and experiment.runs
    if experiment.dataset.startswith("synth"):
        # CPU-sized networks: build them and check the pipeline feeds their input size.
        model = builder_fn(**config.model_kwargs)
        assert model.count_params() < (3_000_000 if experiment.dataset == "synth" else 10_000_000)
        if experiment.dataset == "synthbp4d":  # the command writes and builds its data
            assert f"tfau build bp4d --config {config_name} " in experiment.command
        image = model.inputs[0].shape if len(model.inputs) == 1 else None
        if "patches" in pipeline.inputs:
            assert tuple(model.inputs[0].shape[2:4]) == (pipeline.patch_size,) * 2
        elif image is not None:
            assert tuple(image[1:3]) == (pipeline.input_size,) * 2
        assert isinstance(model.output, dict) and "au" in model.output


def test_the_command_line_resolves_experiments_configs_and_unknown_names():
    from tfau.cli._configs import resolve_config

    config, paper, title = resolve_config("jaanet_bp4d")  # what `tfau train --config` reads
    assert config.model == "JAANet" and config.dataset.startswith("bp4d")
    assert paper is not None and title.startswith("jaanet_bp4d")
    config, paper, title = resolve_config("synth_drml_tiny")  # a built-in TrainConfig
    assert config.model == "DRML" and paper is None and title is None
    with pytest.raises(SystemExit, match=r"nope.*Experiments: aunets_bp4d"):
        resolve_config("nope")


def test_jaanet_experiments_run_the_papers_stages():
    import dataclasses

    from tfau.training import JAANET_STAGES

    for name in ("jaanet_bp4d", "jaanet_disfa"):
        config = ex.get_experiment(name).train_config()
        assert config.stages == list(JAANET_STAGES)
        assert [s.epochs for s in config.stages] == [8, 2, 2]
    synth = ex.get_experiment("jaanet_synth")
    assert synth.train_config().stages == [dataclasses.replace(s, epochs=1) for s in JAANET_STAGES]
    assert "1 + 1 + 1 epochs (stages)" in synth.runs and "Stage 1 only" not in synth.runs
    # Stages replace `epochs`; the configs keep it equal to their total all the same.
    for name in ex.list_experiments():
        config = ex.get_experiment(name).train_config()
        if config.stages:
            assert config.epochs == sum(s.epochs for s in config.stages), name
    assert {n for n in ex.list_experiments() if ex.get_experiment(n).config.get("stages")} == {
        "jaanet_bp4d",
        "jaanet_disfa",
        "jaanet_synth",
    }
