"""Where every network of a run is built: `build_model` under the run's dtype policy and scope.

The `Trainer` (a config without a model), the staged runs (`tfau.training.run`) and the paper
recipes' hand-overs (`tfau.training.recipes`) all build through `build_model`, so a model is
seeded, sized and placed the same way wherever it is made: the global seed set to the
config's, ``num_aus`` from the AUs the run trains, the config's mixed-precision policy, the
strategy's variable scope. `building_scope` is that policy and scope for whatever else a run
creates (the optimizer, a grown HydraNet head).

Example:
    >>> model = build_model(config, data=data, strategy=strategy)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import keras
import tensorflow as tf

from tfau.training.config import TrainConfig

if TYPE_CHECKING:
    from tfau.training.run_data import RunData


@contextlib.contextmanager
def building_scope(
    config: TrainConfig, strategy: tf.distribute.Strategy | None = None
) -> Iterator[None]:
    """The config's dtype policy and the strategy's scope, the policy restored on exit.

    Example:
        >>> with building_scope(config, strategy):  # doctest: +SKIP
        ...     model = add_hydranet_head(model, 9)
    """
    previous = keras.config.dtype_policy()
    try:
        if config.mixed_precision:
            keras.config.set_dtype_policy(config.mixed_precision)
        with (strategy or tf.distribute.get_strategy()).scope():
            yield
    finally:
        keras.config.set_dtype_policy(previous)


def builder_kwargs(model: str, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of ``kwargs`` that the ``tfau.models`` builder ``model`` takes.

    A stage that builds another network of the paper (FVGG before EAC-Net) takes the
    config's arguments that apply to it (width, input size...) and leaves the others.

    Example:
        >>> builder_kwargs("ENet", {"width": 0.5, "region_units": 8})  # doctest: +SKIP
        {'width': 0.5}
    """
    import tfau.models

    parameters = inspect.signature(tfau.models.get(model)).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return dict(kwargs)
    return {key: value for key, value in kwargs.items() if key in parameters}


def build_model(
    config: TrainConfig,
    *,
    data: RunData | None = None,
    data_dir: str | None = None,
    strategy: tf.distribute.Strategy | None = None,
    model_name: str | None = None,
    model_kwargs: Mapping[str, Any] | None = None,
    **overrides: Any,
) -> keras.Model:
    """Builds ``config.model`` (or ``model_name``): seeded, under the run's policy and scope.

    With ``config.aus`` the builder gets ``num_aus=len(config.aus)`` and, if it takes them,
    ``aus=config.aus`` (JAA-Net's attention centres, HydraNet's heads) unless the arguments
    give them (a disagreeing ``num_aus`` is the builder's error); without, ``num_aus`` is
    the dataset's unless the arguments give ``num_aus`` or ``aus``.

    Args:
        config: the run's config.
        data: the run's examples (their label width); None: ``config.train_split``'s.
        data_dir: TFDS data directory (without ``data``).
        strategy: where the variables live; None: the default strategy.
        model_name: registry name to build instead of ``config.model``.
        model_kwargs: builder arguments instead of ``config.model_kwargs``.
        **overrides: builder arguments added to (replacing) those, e.g. ``enet=`` for
            EAC-Net.

    Returns:
        The model.

    Example:
        >>> enet = build_model(config, model_name="ENet")  # doctest: +SKIP
    """
    import tfau.models

    builder = tfau.models.get(model_name or config.model)
    kwargs = {**(config.model_kwargs if model_kwargs is None else model_kwargs), **overrides}
    if config.aus is not None:
        kwargs.setdefault("num_aus", len(config.aus))
        if "aus" in inspect.signature(builder).parameters:
            kwargs.setdefault("aus", [int(str(au).removeprefix("AU")) for au in config.aus])
    elif "num_aus" not in kwargs and "aus" not in kwargs:
        if data is not None:
            kwargs["num_aus"] = data.num_aus
        else:
            import tfau.data

            examples = tfau.data.load_split(config.dataset, config.train_split, data_dir)
            kwargs["num_aus"] = int(examples.element_spec["au"].shape[-1])
    keras.utils.set_random_seed(config.seed)
    with building_scope(config, strategy):
        return builder(**kwargs)
