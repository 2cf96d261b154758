"""Config names the command line accepts: experiments/ names, built-in configs, files."""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Any

_EXPERIMENTS_FILE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    "experiments",
    "configs.py",
)


def load_experiments() -> Any:
    """The ``experiments.configs`` module of the source tree (None when not installed)."""
    if not os.path.exists(_EXPERIMENTS_FILE):
        return None
    spec = importlib.util.spec_from_file_location("tfau_experiments_configs", _EXPERIMENTS_FILE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def resolve_config(name: str) -> tuple[Any, Any, str | None]:
    """``(TrainConfig, PaperResult or None, title or None)`` of an experiment, config or file.

    Raises:
        SystemExit: when ``name`` is none of them, listing the experiments.
    """
    from tfau.training.config import get_config
    from tfau.training.paper_results import paper_result

    experiments = load_experiments()
    if experiments is not None and name in experiments.EXPERIMENTS:
        experiment = experiments.get_experiment(name)
        config = experiment.train_config()
        paper = paper_result(experiment.paper, experiment.paper_dataset)
        return config, paper, f"{experiment.name} ({config.model} on {config.dataset})"
    try:
        return get_config(name), None, None
    except KeyError as error:
        names = "" if experiments is None else ", ".join(experiments.list_experiments())
        raise SystemExit(f"error: {error.args[0]} Experiments: {names}") from None
