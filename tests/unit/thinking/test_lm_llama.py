"""The llama.cpp backend with the real SmolLM2 GGUF: grammar-constrained tag output for every
force, cancellation, one generation at a time, errors. Latency and speed are recorded only."""
from __future__ import annotations

import time
from typing import Iterator

import pytest
from tests.helpers.lm import check_protocol, drain

from seal_nodes.core.thinking.lm.base import FORCES, ModelError, Prompt
from seal_nodes.core.thinking.lm.llama import LlamaModel

pytestmark = pytest.mark.unit

OBJECTS = ("red_cube", "blue_ball")
ACTIONS = ("pick", "place", "push", "point", "home", "click", "type", "stop")
SYSTEM = (
    "You are a robot arm at a table. Objects: red_cube, blue_ball. You can pick, place in the bin, "
    "push left or right, point, go home, click and type on a screen, stop."
)
TRANSCRIPT = "<user>Could you put the red cube in the bin, please?</user>"


@pytest.fixture(scope="module")
def model() -> Iterator[LlamaModel]:
    # tight bounds so a whole generation fits in max_tokens and can be checked as complete
    m = LlamaModel(n_ctx=2048, max_segments=2, max_text_chars=80, seed=1)
    yield m
    m.close()


def prompt(force: str = "free", max_tokens: int = 200) -> Prompt:
    return Prompt(SYSTEM, TRANSCRIPT, force=force, max_tokens=max_tokens, objects=OBJECTS, actions=ACTIONS)


def test_server_is_loopback_only(model: LlamaModel) -> None:
    assert model.url.startswith("http://127.0.0.1:")


@pytest.mark.parametrize("force", FORCES)
def test_grammar_output_is_the_tag_protocol(model: LlamaModel, force: str, record_property) -> None:
    gen = model.start(prompt(force))
    run = drain(gen)
    assert gen.error is None
    assert gen.finish_reason == "stop", f"hit max_tokens: {run.text!r}"
    segs = check_protocol(run.text, force, set(OBJECTS), set(ACTIONS))
    record_property(f"llama_{force}_segments", [k for k, _ in segs])


@pytest.mark.parametrize("grammar", [True, False])
def test_record_latency_and_speed(model: LlamaModel, grammar: bool, record_property) -> None:
    model.grammar = grammar
    try:
        model.start(prompt(max_tokens=8)).wait_finished(30)  # warm the prompt cache
        t0 = time.monotonic()
        gen = model.start(prompt(max_tokens=64))
        run = drain(gen, t0)
    finally:
        model.grammar = True
    assert gen.error is None and run.pieces > 0
    tps = model.last_timings.get("predicted_per_second")
    record_property("first_piece_s", run.first_piece_s)
    record_property("tokens_per_s", tps)
    print(f"\nllama grammar={grammar}: first piece {run.first_piece_s * 1000:.0f} ms, "
          f"{tps:.0f} tokens/s (llama.cpp), {run.pieces_per_s:.0f} pieces/s polled")


def test_cancel_stops_within_a_few_pieces(model: LlamaModel) -> None:
    model.grammar = False
    try:
        gen = model.start(prompt(max_tokens=400))
        while gen.pieces < 3 and not gen.done:
            time.sleep(0.001)
        gen.cancel()
        at_cancel = gen.produced
        assert gen.wait_finished(20)
    finally:
        model.grammar = True
    assert gen.done and gen.poll() == [] and gen.error is None
    assert gen.produced - at_cancel <= 3
    assert gen.finish_reason == "cancelled"


def test_second_start_cancels_the_first(model: LlamaModel) -> None:
    first = model.start(prompt(max_tokens=400))
    while first.pieces < 1:
        time.sleep(0.001)
    second = model.start(prompt("think_only"))
    assert first.cancelled and first.done and first.poll() == []
    assert first.wait_finished(1)  # start() waited for the first worker
    run = drain(second)
    assert second.error is None and run.text.startswith("<think>")


def test_bad_grammar_is_a_generation_error(model: LlamaModel) -> None:
    gen = model.complete({"prompt": "hi", "n_predict": 8, "grammar": "root ::= undefined-rule"})
    assert gen.wait_finished(20)
    assert gen.done and gen.error is not None and "grammar" in gen.error


def test_undeclared_action_is_a_model_error(model: LlamaModel) -> None:
    with pytest.raises(ModelError, match="undeclared"):
        model.start(Prompt("s", "t", actions=("fly",)))


def test_missing_model_file() -> None:
    with pytest.raises(ModelError, match="not found"):
        LlamaModel("/nonexistent/model.gguf")


def test_a_generation_carries_the_request_exactly_as_sent(model: LlamaModel) -> None:
    # what the thinker's generation record shows: built once, when the request is sent
    p = prompt("answer", max_tokens=8)
    req = model.request(p)
    gen = model.start(p)
    drain(gen)
    assert gen.sent == (req["prompt"], req.get("grammar", "")) and gen.sent[1]  # grammar on by default
