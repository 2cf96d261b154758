"""Registry of network builders: ``tfau.models.get(name)`` and ``tfau.models.list_models()``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import keras

Builder = TypeVar("Builder", bound=Callable[..., keras.Model])

_BUILDERS: dict[str, Callable[..., keras.Model]] = {}
_TINY_KWARGS: dict[str, dict[str, Any]] = {}


def register(
    name: str | None = None, *, tiny_kwargs: dict[str, Any] | None = None
) -> Callable[[Builder], Builder]:
    """Registers a model builder under ``name`` (defaults to the function's name).

    Args:
        name: registry key; defaults to the builder's ``__name__``.
        tiny_kwargs: keyword arguments that build a small version of the network (tiny input,
            narrow widths) for tests and smoke runs; the registry-driven tests use them.

    Raises:
        ValueError: if the name is already registered.
    """

    def decorator(builder: Builder) -> Builder:
        key = name or builder.__name__
        if key in _BUILDERS:
            raise ValueError(
                f"A model builder named {key!r} is already registered "
                f"(by {_BUILDERS[key].__module__}.{_BUILDERS[key].__qualname__})."
            )
        _BUILDERS[key] = builder
        _TINY_KWARGS[key] = dict(tiny_kwargs or {})
        return builder

    return decorator


def tiny_kwargs(name: str) -> dict[str, Any]:
    """Returns the keyword arguments that build a small version of model ``name``."""
    get(name)
    return dict(_TINY_KWARGS[name])


def get(name: str) -> Callable[..., keras.Model]:
    """Returns the builder registered under ``name``.

    Raises:
        KeyError: naming the unknown model and listing the registered ones.
    """
    try:
        return _BUILDERS[name]
    except KeyError:
        raise KeyError(
            f"Unknown model {name!r}. Registered models: {', '.join(list_models())}."
        ) from None


def list_models() -> list[str]:
    """Returns the names of every registered builder, sorted."""
    return sorted(_BUILDERS)
