"""Registry of network builders: ``tfau.models.get(name)`` and ``tfau.models.list_models()``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import keras

Builder = TypeVar("Builder", bound=Callable[..., keras.Model])

_BUILDERS: dict[str, Callable[..., keras.Model]] = {}


def register(name: str | None = None) -> Callable[[Builder], Builder]:
    """Registers a model builder under ``name`` (defaults to the function's name).

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
        return builder

    return decorator


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
