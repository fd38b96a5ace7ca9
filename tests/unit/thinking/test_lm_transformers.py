"""The transformers backend through real ``from_pretrained`` loading of a tiny random Llama and a
real BPE tokenizer saved to disk: streaming, forced opening, cancellation, errors."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import pytest
from tests.helpers.lm import drain

from seal_nodes.core.thinking.lm.base import ModelError, Prompt
from seal_nodes.core.thinking.lm.transformers_lm import TransformersModel, pick_device

pytestmark = pytest.mark.unit

SENTENCES = [
    "<think>I should pick the red cube.</think>",
    "<assistant>Sure, picking it up now.</assistant>",
    "<action>pick(object=red_cube)</action>",
    "Hello robot, put the blue ball in the bin and go home.",
]


def build_tiny_model(path: Path) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    # Metaspace keeps word boundaries, so decoded random tokens hold spaces and stream in pieces
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.train_from_iterator(SENTENCES, trainers.BpeTrainer(vocab_size=120, special_tokens=["<unk>", "<s>", "</s>"]))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    fast.save_pretrained(path)
    config = LlamaConfig(
        vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
        bos_token_id=fast.bos_token_id, eos_token_id=fast.eos_token_id,
    )
    import torch

    torch.manual_seed(0)  # the same random weights every run (and greedy decoding below): no flaky early EOS
    LlamaForCausalLM(config).save_pretrained(path)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TransformersModel]:
    path = tmp_path_factory.mktemp("tiny_llama")
    build_tiny_model(path)
    m = TransformersModel(str(path), device="auto", temperature=0.0)
    yield m
    m.close()


def prompt(force: str = "free", max_tokens: int = 40) -> Prompt:
    return Prompt("You are a robot.", "<user>Hello robot.</user>", force=force, max_tokens=max_tokens)


def test_loads_on_the_picked_device(model: TransformersModel) -> None:
    import torch

    assert model.device == pick_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert model.tokenizer.chat_template is None  # so the raw ChatML prompt is used


def test_streams_pieces(model: TransformersModel, record_property) -> None:
    t0 = time.monotonic()
    gen = model.start(prompt(max_tokens=40))
    run = drain(gen, t0)
    assert gen.error is None and gen.finish_reason == "length"
    assert run.pieces > 3 and run.text.strip()
    record_property("first_piece_s", run.first_piece_s)


def test_forced_opening_is_the_first_piece(model: TransformersModel) -> None:
    gen = model.start(prompt("think_only", max_tokens=5))
    assert gen.wait_finished(60)
    assert gen.poll()[0] == "<think>"
    assert model.text(prompt("think_only")).endswith("<|im_start|>assistant\n<think>")


def test_chat_template_is_used_when_present(model: TransformersModel) -> None:
    model.tokenizer.chat_template = "{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}[assistant]"
    try:
        text = model.text(prompt("summary"))
        assert text.startswith("[system]You are a robot.[user]<user>Hello robot.</user>")
        assert text.endswith("[assistant]<assistant>")
        run = drain(model.start(prompt("summary", max_tokens=5)))
        assert run.text.startswith("<assistant>")
    finally:
        model.tokenizer.chat_template = None


def test_cancel_stops_within_a_few_pieces(model: TransformersModel) -> None:
    gen = model.start(prompt(max_tokens=800))
    while gen.pieces < 3 and not gen.done:
        time.sleep(0.001)
    gen.cancel()
    at_cancel = gen.produced
    assert gen.wait_finished(30)
    assert gen.done and gen.poll() == [] and gen.error is None
    assert gen.produced - at_cancel <= 3
    assert gen.finish_reason == "cancelled"


def test_second_start_cancels_the_first(model: TransformersModel) -> None:
    first = model.start(prompt(max_tokens=800))
    while first.pieces < 1:
        time.sleep(0.001)
    second = model.start(prompt("think_only", max_tokens=5))
    assert first.cancelled and first.done and first.poll() == []
    assert first.wait_finished(1)
    assert drain(second).text.startswith("<think>")


def test_bad_path_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        TransformersModel(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="cannot load"):
        TransformersModel(str(tmp_path / "empty"))
