"""Every experiment config loads and is consistent with the registry, pipelines and papers."""

import inspect

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
    # The staged trainings that change networks or hand weights over, with tiny twins.
    expected |= {"eacnet_bp4d_staged", "eacnet_synth_staged", "aunets_bp4d_hydranet"}
    expected |= {"aunets_synth_hydranet", "aunets_synth_domain"}
    expected |= {"jaanet_disfa_transfer", "jaanet_synth_transfer"}
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
        "jaanet_disfa_transfer",
        "jaanet_synth_transfer",
        "eacnet_bp4d_staged",
        "eacnet_synth_staged",
        "aunets_bp4d_hydranet",
        "aunets_synth_hydranet",
        "aunets_synth_domain",
    }


def test_staged_experiments_are_their_recipes_stages():
    import dataclasses

    from tfau.training import JAANET_STAGES
    from tfau.training.recipes.aunets import hydranet_stages
    from tfau.training.recipes.eacnet import eacnet_stages
    from tfau.training.run import get_handover

    assert ex.get_experiment("eacnet_bp4d_staged").train_config().stages == eacnet_stages(10)
    assert ex.get_experiment("eacnet_synth_staged").train_config().stages == eacnet_stages(1)
    hydranet = ex.get_experiment("aunets_bp4d_hydranet").train_config()
    assert hydranet.model == "HydraNet" and hydranet.stages == hydranet_stages(ex.BP4D_AUS, 12)
    assert ex.get_experiment("aunets_synth_hydranet").train_config().stages == hydranet_stages(
        (1, 2, 4), 1
    )
    transfer = ex.get_experiment("jaanet_disfa_transfer").train_config()
    assert transfer.stages[0].init == {
        "name": "jaanet_au_branches",
        "source": "runs/jaanet_bp4d/model.keras",
    }
    assert transfer.stages == [
        dataclasses.replace(JAANET_STAGES[0], init=transfer.stages[0].init),
        *JAANET_STAGES[1:],
    ]
    assert transfer.model_kwargs["aus"] == list(ex.DISFA_AUS)
    # Every hand-over a config names is registered and takes the config's arguments.
    for name in ex.list_experiments():
        for stage in ex.get_experiment(name).train_config().stages or []:
            if stage.init is not None:
                handover = get_handover(stage.init["name"])
                arguments = {k: v for k, v in stage.init.items() if k != "name"}
                inspect.signature(handover).bind(None, **arguments)
