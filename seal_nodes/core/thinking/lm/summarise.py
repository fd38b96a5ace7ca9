"""Any streaming model as the memory's episode summariser (prompt → reply), off the hot path.

The model speaks the tag protocol, so the summary is asked for as its spoken answer: the
instructions go in as the system prompt, the episode as the user line, and the ``<assistant>``
segments it writes are the reply. Blocking by design: the recorder calls it on its worker thread
when an episode closes, never on the loop's.
"""
from __future__ import annotations

import re
import time
from typing import Callable

from seal_nodes.core.thinking import tagstream as ts
from seal_nodes.core.thinking.lm.base import ANSWER, LanguageModel, ModelError, Prompt

SYSTEM = ("You keep a robot's notebook. Answer with the lines to remember, nothing else, each line one "
          "short sentence naming the person.")


def summariser(model: LanguageModel, timeout_s: float = 120.0, max_tokens: int = 160,
               sleep: Callable[[float], None] = time.sleep) -> Callable[[str], str]:
    """``model`` as a ``Summariser``: the text of its spoken answer to ``prompt``; ModelError on
    failure or when it takes longer than ``timeout_s``."""
    def summarise(prompt: str) -> str:
        gen = model.start(Prompt(system=SYSTEM, transcript=f"<user>{prompt}</user>", force=ANSWER,
                                 max_tokens=max_tokens))
        parser = ts.TagStreamParser()
        said: list[str] = []
        deadline = time.monotonic() + timeout_s
        while True:
            for piece in gen.poll():
                said += [pe.text for pe in parser.feed(piece) if isinstance(pe, ts.Closed) and pe.kind == ts.SAY]
            if gen.done:
                break
            if time.monotonic() > deadline:
                gen.cancel()
                raise ModelError(f"{model.name} gave no summary within {timeout_s:.0f} s")
            sleep(0.05)
        said += [pe.text for pe in parser.finish() if isinstance(pe, ts.Closed) and pe.kind == ts.SAY]
        if gen.error:
            raise ModelError(f"{model.name} failed to summarise: {gen.error}")
        # a spoken segment is one line: its sentences become the lines the memory keeps
        return "\n".join(s for text in said for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s)
    return summarise
