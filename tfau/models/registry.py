"""Registry of networks: one `Network` record per name (``tfau.models.network(name)``).

A record holds everything tfau knows of a network apart from its weights: the builder, the
keyword arguments of a tiny version (tests, smoke runs), the name of the ``keras.Model`` the
builder returns (how a saved model is recognised), its input names and the `tfau.data`
pipeline that feeds it, by name and fixed arguments. `tfau.data`, `tfau.export`,
`tfau.inference` and `tfau.convert` read these records; none keeps its own table of networks.

The records are plain data, so that this module imports nothing above ``tfau.models``:
``pipeline`` names the family of `tfau.data.pipelines` (``"drml"`` ->
``tfau.data.drml_config``), which `tfau.data.get_config` looks up.

Example:
    >>> record = tfau.models.network("AUNetFlow")
    >>> record.keras_name, record.inputs, record.pipeline, record.pipeline_kwargs
    ('aunet_flow', ('flow',), 'aunets', {'fusion': 'alone'})
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import keras

Builder = TypeVar("Builder", bound=Callable[..., keras.Model])


@dataclasses.dataclass(frozen=True)
class Network:
    """One registered network.

    Args:
        name: registry name, e.g. ``"AUNetFlow"``.
        builder: the function that builds it.
        tiny_kwargs: keyword arguments that build a small version (tiny input, narrow
            widths) for tests and smoke runs.
        keras_name: the name of the ``keras.Model`` the builder returns by default, e.g.
            ``"aunet_flow"``; a loaded model is recognised by it (`from_keras_name`).
        inputs: the model's input names (CONTRIBUTING.md), e.g. ``("image", "flow")``.
        pipeline: the `tfau.data` pipeline family that feeds it (``"drml"``, ``"jaanet"``,
            ``"eacnet"``, ``"aunets"``, ``"aunets_view"``, ``"pattnet"``,
            ``"pattnet_holistic"``); None: no tfau pipeline.
        pipeline_kwargs: fixed arguments of that family's config function, e.g.
            ``{"fusion": "alone"}``.
    """

    name: str
    builder: Callable[..., keras.Model]
    tiny_kwargs: Mapping[str, Any]
    keras_name: str
    inputs: tuple[str, ...]
    pipeline: str | None = None
    pipeline_kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)


def _facts(
    keras_name: str, inputs: tuple[str, ...], pipeline: str, **pipeline_kwargs: Any
) -> dict[str, Any]:
    return {
        "keras_name": keras_name,
        "inputs": inputs,
        "pipeline": pipeline,
        "pipeline_kwargs": pipeline_kwargs,
    }


_IMAGE = ("image",)
_TWO_STREAMS = ("image", "flow")
# The record of each tfau network beside its builder and tiny kwargs, which its module
# registers (`register`); tests/models/test_registry.py checks every entry against the tiny
# model and its pipeline.
_BUILTIN: dict[str, dict[str, Any]] = {
    "DRML": _facts("drml", _IMAGE, "drml"),
    "DRML_ConvNet": _facts("drml_convnet", _IMAGE, "drml"),
    "DRML_LCN": _facts("drml_lcn", _IMAGE, "drml"),
    "JAANet": _facts("jaanet", _IMAGE, "jaanet"),
    "FVGG": _facts("fvgg", _IMAGE, "eacnet", landmarks=False),
    "ENet": _facts("enet", ("image", "landmarks"), "eacnet"),
    "EACNet": _facts("eacnet", ("image", "landmarks"), "eacnet"),
    "AUNet": _facts("aunet", _IMAGE, "aunets"),
    "HydraNet": _facts("hydranet", _IMAGE, "aunets"),
    "AUNetFlow": _facts("aunet_flow", ("flow",), "aunets", fusion="alone"),
    "AUNetChannels": _facts("aunet_channels", _TWO_STREAMS, "aunets", fusion="channels"),
    "AUNetHorizontal": _facts("aunet_horizontal", _TWO_STREAMS, "aunets", fusion="horizontal"),
    "AUNetPiConv": _facts("aunet_pi_conv", _TWO_STREAMS, "aunets", fusion="pi_conv"),
    "AUNetPiFC6": _facts("aunet_pi_fc6", _TWO_STREAMS, "aunets", fusion="pi_fc6"),
    "AUNetPiFC7": _facts("aunet_pi_fc7", _TWO_STREAMS, "aunets", fusion="pi_fc7"),
    "AUNetsViewClassifier": _facts("aunets_view", _IMAGE, "aunets_view"),
    "PAttNet": _facts("pattnet", ("patches",), "pattnet"),
    "PAttNet_Softmax": _facts("pattnet_softmax", ("patches",), "pattnet"),
    "PAttNet_SinglePatch": _facts("pattnet_single_patch", _IMAGE, "pattnet", patch_index=0),
    "PAttNet_Holistic": _facts("pattnet_holistic", _IMAGE, "pattnet_holistic"),
}

_NETWORKS: dict[str, Network] = {}


def register(
    name: str | None = None,
    *,
    tiny_kwargs: dict[str, Any] | None = None,
    keras_name: str | None = None,
    inputs: tuple[str, ...] | None = None,
    pipeline: str | None = None,
    pipeline_kwargs: dict[str, Any] | None = None,
) -> Callable[[Builder], Builder]:
    """Registers a model builder under ``name`` (defaults to the function's name).

    tfau's own networks take their Keras name, inputs and pipeline from this module's table;
    another network passes them here.

    Args:
        name: registry key; defaults to the builder's ``__name__``.
        tiny_kwargs: keyword arguments that build a small version of the network (tiny input,
            narrow widths) for tests and smoke runs; the registry-driven tests use them.
        keras_name: name of the ``keras.Model`` the builder returns by default.
        inputs: the model's input names, e.g. ``("image",)``.
        pipeline: the `tfau.data` pipeline family that feeds it (see `Network`); None: none.
        pipeline_kwargs: fixed arguments of that family's config function.

    Raises:
        ValueError: if the name or the Keras name is already registered, or a network tfau
            does not know comes without ``keras_name`` and ``inputs``.

    Example:
        >>> @register(tiny_kwargs={"num_aus": 2}, keras_name="mynet", inputs=("image",),
        ...           pipeline="drml")
        ... def MyNet(num_aus=12, name="mynet"): ...  # doctest: +SKIP
    """

    def decorator(builder: Builder) -> Builder:
        key = name or builder.__name__
        if key in _NETWORKS:
            existing = _NETWORKS[key].builder
            raise ValueError(
                f"A model builder named {key!r} is already registered "
                f"(by {existing.__module__}.{existing.__qualname__})."
            )
        given = {
            "keras_name": keras_name,
            "inputs": None if inputs is None else tuple(inputs),
            "pipeline": pipeline,
            "pipeline_kwargs": None if pipeline_kwargs is None else dict(pipeline_kwargs),
        }
        facts = {
            **_BUILTIN.get(key, {}),
            **{field: value for field, value in given.items() if value is not None},
        }
        missing = [field for field in ("keras_name", "inputs") if field not in facts]
        if missing:
            raise ValueError(
                f"Registering {key!r}: a network tfau does not know needs "
                f"{' and '.join(f'`{field}`' for field in missing)} (the default name of the "
                "keras.Model it builds and its input names)."
            )
        taken = [n for n, record in _NETWORKS.items() if record.keras_name == facts["keras_name"]]
        if taken:
            raise ValueError(
                f"Registering {key!r}: the Keras name {facts['keras_name']!r} is already "
                f"{taken[0]!r}'s; a saved model must tell its network by its name."
            )
        _NETWORKS[key] = Network(
            name=key, builder=builder, tiny_kwargs=dict(tiny_kwargs or {}), **facts
        )
        return builder

    return decorator


def network(name: str) -> Network:
    """The `Network` record registered under ``name``.

    Raises:
        KeyError: naming the unknown model and listing the registered ones.
    """
    try:
        return _NETWORKS[name]
    except KeyError:
        raise KeyError(
            f"Unknown model {name!r}. Registered models: {', '.join(list_models())}."
        ) from None


def from_keras_name(keras_name: str) -> Network:
    """The registered network whose builder names its ``keras.Model`` ``keras_name``.

    Example:
        >>> from_keras_name("aunets_view").name
        'AUNetsViewClassifier'

    Raises:
        KeyError: naming ``keras_name`` and the Keras names of the registered networks.
    """
    for record in _NETWORKS.values():
        if record.keras_name == keras_name:
            return record
    known = sorted(record.keras_name for record in _NETWORKS.values())
    raise KeyError(
        f"No registered network builds a Keras model named {keras_name!r}. Keras names of "
        f"the registered networks: {', '.join(known)}."
    )


def get(name: str) -> Callable[..., keras.Model]:
    """Returns the builder registered under ``name``.

    Raises:
        KeyError: naming the unknown model and listing the registered ones.
    """
    return network(name).builder


def tiny_kwargs(name: str) -> dict[str, Any]:
    """Returns the keyword arguments that build a small version of model ``name``."""
    return dict(network(name).tiny_kwargs)


def list_models() -> list[str]:
    """Returns the names of every registered builder, sorted."""
    return sorted(_NETWORKS)
