"""Any local causal LM through ``transformers`` (GPU when present), streamed piece by piece.

No grammar here: the forced opening tag is prefilled into the prompt (and emitted as the first
piece), and whatever the model writes after it is passed through; the thinker's tag parser
copes with output that is not in the protocol. Loading is ``local_files_only``: never a download.
"""
from __future__ import annotations

import os
from typing import Any

from seal_nodes.core.thinking.lm.base import Generation, ModelError, Prompt
from seal_nodes.core.thinking.lm.grammar import OPENING, chat_messages, prompt_text
from seal_nodes.core.thinking.lm.worker import SingleFlight, WorkerGeneration


def pick_device(device: str = "auto") -> str:
    """``auto`` → ``cuda`` when torch sees a GPU, else ``cpu``."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


class TransformersModel:
    """``LanguageModel`` over ``AutoModelForCausalLM``; one generation at a time.

    ``model`` is a local directory (or an already loaded model, then ``tokenizer`` is required).
    """

    name = "transformers"

    def __init__(
        self,
        model: str | os.PathLike[str] | Any,
        tokenizer: str | os.PathLike[str] | Any | None = None,
        device: str = "auto",
        dtype: str = "auto",
        max_new_tokens: int | None = None,
        temperature: float = 0.7,
        prefill: bool = True,
    ) -> None:
        try:
            import torch  # noqa: F401
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as e:
            raise ModelError(f"transformers/torch are not installed: {e}") from e
        self.device = pick_device(device)
        self.max_new_tokens, self.temperature, self.prefill = max_new_tokens, temperature, prefill
        try:
            if isinstance(model, (str, os.PathLike)):
                if os.path.isabs(model) or str(model).startswith("."):  # a path, not a cached hub id
                    if not os.path.isdir(model):
                        raise ModelError(f"model directory not found: {model}")
                self.model = AutoModelForCausalLM.from_pretrained(model, local_files_only=True, dtype=dtype)
                tokenizer = tokenizer or model
            else:
                self.model = model
                if tokenizer is None:
                    raise ModelError("a loaded model needs its tokenizer")
            self.tokenizer = (
                AutoTokenizer.from_pretrained(tokenizer, local_files_only=True)
                if isinstance(tokenizer, (str, os.PathLike))
                else tokenizer
            )
            self.model.to(self.device).eval()
        except ModelError:
            raise
        except Exception as e:  # noqa: BLE001 - OSError, ValueError, … from loading: one clear error
            raise ModelError(f"cannot load transformers model {model!r}: {e}") from e
        self._flight = SingleFlight("transformers-generation")

    def text(self, prompt: Prompt) -> str:
        """The prompt as text: the tokenizer's chat template when it has one, else ChatML."""
        opening = OPENING[prompt.force] if self.prefill else ""
        if getattr(self.tokenizer, "chat_template", None):
            rendered = self.tokenizer.apply_chat_template(
                chat_messages(prompt), add_generation_prompt=True, tokenize=False
            )
            return str(rendered) + opening
        return prompt_text(prompt, prefill=self.prefill)

    def start(self, prompt: Prompt) -> Generation:
        if self.model is None:
            raise ModelError("the model is closed")
        text = self.text(prompt)
        opening = OPENING[prompt.force] if self.prefill else ""
        limit = min(prompt.max_tokens, self.max_new_tokens or prompt.max_tokens)
        return self._flight.launch(WorkerGeneration(), lambda gen: self._generate(text, opening, limit, gen))

    def _generate(self, text: str, opening: str, limit: int, gen: WorkerGeneration) -> None:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextStreamer

        class PieceStreamer(TextStreamer):
            # TextStreamer's documented hook: decoded text, cut at word/char boundaries, lands
            # straight in the generation's queue (no second thread as with TextIteratorStreamer)
            def on_finalized_text(self, piece: str, stream_end: bool = False) -> None:
                gen.put(piece)

        class Cancelled(StoppingCriteria):
            def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kw: Any) -> torch.BoolTensor:
                return torch.full((input_ids.shape[0],), gen.cancelled, dtype=torch.bool, device=input_ids.device)

        tok = self.tokenizer
        # a chat template already holds the BOS token; raw ChatML gets the tokenizer's specials
        inputs = tok(text, return_tensors="pt", add_special_tokens=not getattr(tok, "chat_template", None))
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        gen.put(opening)
        sample = self.temperature > 0
        with torch.inference_mode():
            out = self.model.generate(
                **inputs,
                max_new_tokens=limit,
                do_sample=sample,
                temperature=self.temperature if sample else None,
                top_p=None,
                top_k=None,
                pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
                streamer=PieceStreamer(tok, skip_prompt=True, skip_special_tokens=True),
                stopping_criteria=StoppingCriteriaList([Cancelled()]),
            )
        new_tokens = out.shape[1] - inputs["input_ids"].shape[1]
        gen.finish_reason = "length" if new_tokens >= limit else "stop"

    def close(self) -> None:
        self._flight.close()
        self.model = None
