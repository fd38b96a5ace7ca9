"""The thinker's language-model backends by name, and the one function that builds them.

The thinker node, ``seal think``, the benchmarks and the tests all go through ``make_model``.
Its keyword parameters are the thinker node's ROS parameters, so the node passes them through
as they are; each backend uses the ones it needs and ignores the rest. Backend modules are
imported on first use, so naming ``openai`` never imports torch or llama.cpp.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Sequence

from seal_nodes.core.thinking.lm.base import LanguageModel, ModelError

BACKENDS = ("llama", "transformers", "openai", "scripted", "commands")


def make_model(
    backend: str,
    *,
    model_path: str = "",
    llm_threads: int = 1,
    openai_url: str = "",
    openai_model: str = "default",
    script: str | os.PathLike[str] | Sequence[str] = "",
    tokens_per_s: float = 100.0,
    clock_ns: Callable[[], int] | None = None,
    **options: Any,
) -> LanguageModel | None:
    """The model ``backend`` stands for, ready to ``start``.

    * ``llama``: the GGUF file ``model_path`` (default: SmolLM2) on ``llm_threads`` threads;
    * ``transformers``: the local model directory ``model_path``;
    * ``openai``: the endpoint ``openai_url`` serving ``openai_model``;
    * ``scripted``: ``script``, the streams themselves or a file holding them (a scenario with a
      ``script`` list, or a YAML/JSON list of strings), replayed at ``tokens_per_s`` on
      ``clock_ns`` (the wall clock by default; a simulated one replays exactly);
    * ``commands``: None, no model: the thinker's command parser answers alone.

    ``options`` go to the backend's constructor as they are (``seed``, ``temperature``, …).
    Raises ``ValueError`` for an unknown name and ``ModelError`` for a missing parameter or a
    model that cannot load.
    """
    if backend == "commands":
        return None
    if backend == "scripted":
        from seal_nodes.core.thinking.lm.scripted import ScriptedModel, load_script

        from_file = isinstance(script, (str, os.PathLike))
        streams = (load_script(script) if str(script) else []) if from_file else list(script)
        if not streams:
            where = f" ({script} has none)" if from_file and str(script) else ""
            raise ModelError(f"the scripted backend needs a script of one stream or more{where} "
                             "(script: a scenario or stream file, or the streams)")
        return ScriptedModel(streams, tokens_per_s=tokens_per_s, clock_ns=clock_ns, **options)
    if backend == "llama":
        from seal_nodes.core.thinking.lm.llama import LlamaModel

        return LlamaModel(model_path=model_path or None, n_threads=llm_threads, **options)
    if backend == "transformers":
        if not model_path:
            raise ModelError("the transformers backend needs a local model directory (model_path)")
        from seal_nodes.core.thinking.lm.transformers_lm import TransformersModel

        return TransformersModel(model_path, **options)
    if backend == "openai":
        if not openai_url:
            raise ModelError("the openai backend needs the endpoint's URL (openai_url, e.g. http://127.0.0.1:8080)")
        from seal_nodes.core.thinking.lm.openai_client import OpenAIChatModel

        return OpenAIChatModel(openai_url, openai_model, **options)
    raise ValueError(f"unknown thinker backend {backend!r}; one of {BACKENDS}")
