"""``make_model(name, **params)``: a language model by name.

``REGISTRY`` maps a name to a constructor taking keyword parameters; other modules add their
own backends with ``register`` (the thinker adds ``scripted`` and ``commands``). Backends are
imported on first use, so naming ``openai`` never imports torch or llama.cpp.
"""
from __future__ import annotations

from typing import Any, Callable

from seal_nodes.core.thinking.lm.base import LanguageModel

Constructor = Callable[..., LanguageModel]


def _llama(**params: Any) -> LanguageModel:
    from seal_nodes.core.thinking.lm.llama import LlamaModel

    return LlamaModel(**params)


def _transformers(**params: Any) -> LanguageModel:
    from seal_nodes.core.thinking.lm.transformers_lm import TransformersModel

    return TransformersModel(**params)


def _openai(**params: Any) -> LanguageModel:
    from seal_nodes.core.thinking.lm.openai_client import OpenAIChatModel

    return OpenAIChatModel(**params)


REGISTRY: dict[str, Constructor] = {"llama": _llama, "transformers": _transformers, "openai": _openai}


def register(name: str, constructor: Constructor) -> None:
    """Add (or replace) a backend."""
    REGISTRY[name] = constructor


def make_model(name: str, **params: Any) -> LanguageModel:
    """The backend called ``name`` built with ``params``; ``ModelError`` if it cannot load."""
    try:
        constructor = REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown language model {name!r}; one of {sorted(REGISTRY)}") from None
    return constructor(**params)
