"""Config names the command line accepts: experiments/ names, built-in configs, files."""

from __future__ import annotations

from typing import Any


def load_experiments() -> Any:
    """The experiments' configs (``experiments/configs.py``, installed as
    ``tfau.experiments.configs``)."""
    from tfau.experiments import configs

    return configs


def resolve_config(name: str) -> tuple[Any, Any, str | None]:
    """``(TrainConfig, PaperResult or None, title or None)`` of an experiment, config or file.

    Raises:
        SystemExit: when ``name`` is none of them, listing the experiments.
    """
    from tfau.training.config import get_config
    from tfau.training.paper_results import paper_result

    experiments = load_experiments()
    if name in experiments.EXPERIMENTS:
        experiment = experiments.get_experiment(name)
        config = experiment.train_config()
        paper = paper_result(experiment.paper, experiment.paper_dataset)
        return config, paper, f"{experiment.name} ({config.model} on {config.dataset})"
    try:
        return get_config(name), None, None
    except KeyError as error:
        names = ", ".join(experiments.list_experiments())
        raise SystemExit(f"error: {error.args[0]} Experiments: {names}") from None
