"""The thinker's backend by name: load_script and make_model (no model file is loaded here;
the real backends are built through make_model in test_thinker_backends.py)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from seal_nodes.core.thinking.fast_path import CommandBackend
from seal_nodes.core.thinking.lm.base import ModelError, Prompt
from seal_nodes.core.thinking.lm.openai_client import OpenAIChatModel
from seal_nodes.core.thinking.lm.registry import BACKENDS, make_model
from seal_nodes.core.thinking.lm.scripted import ScriptedModel, load_script
from seal_nodes.core.thinking.thinker import Thinker

pytestmark = pytest.mark.unit

STREAMS = ["<think>hm</think><assistant>Hello.</assistant>", "<assistant><wait></assistant>"]


# --- load_script ---------------------------------------------------------------------------------
def test_script_from_a_scenario_file(tmp_path):
    p = tmp_path / "sc.yaml"
    p.write_text("name: demo\nevents:\n  - {t_ms: 0, user: hi}\nscript:\n"
                 + "".join(f"  - {json.dumps(s)}\n" for s in STREAMS))
    assert load_script(str(p)) == STREAMS


def test_script_from_a_json_scenario(tmp_path):
    p = tmp_path / "sc.json"
    p.write_text(json.dumps({"events": [{"t_ms": 0, "user": "hi"}], "script": STREAMS}))
    assert load_script(str(p)) == STREAMS


def test_scenario_without_script_gives_no_streams(tmp_path):
    p = tmp_path / "sc.yaml"
    p.write_text("events:\n  - {t_ms: 0, user: hi}\n")
    assert load_script(str(p)) == []


def test_script_from_a_plain_yaml_list(tmp_path):
    p = tmp_path / "list.yaml"
    p.write_text("".join(f"- {json.dumps(s)}\n" for s in STREAMS))
    assert load_script(str(p)) == STREAMS


def test_script_from_a_plain_json_list(tmp_path):
    p = tmp_path / "list.json"
    p.write_text(json.dumps(STREAMS))
    assert load_script(str(p)) == STREAMS


def test_empty_list_is_an_empty_script(tmp_path):
    p = tmp_path / "empty.yaml"
    p.write_text("[]\n")
    assert load_script(str(p)) == []


def test_missing_file(tmp_path):
    p = tmp_path / "nope.yaml"
    with pytest.raises(ModelError, match="cannot read script") as info:
        load_script(str(p))
    assert str(p) in str(info.value)


def test_invalid_yaml(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("- [unclosed\n")
    with pytest.raises(ModelError, match="cannot read script"):
        load_script(str(p))


def test_non_utf8(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_bytes(b"- caf\xe9\n")
    with pytest.raises(ModelError, match="cannot read script"):
        load_script(str(p))


@pytest.mark.parametrize("content", [
    "just a string\n",
    "- ok\n- 3\n",
    "- [nested]\n",
    "key: value\n",
    "",  # empty document: None
    "events: []\nscript: ['<assistant>x</assistant>']\n",  # a scenario that is not valid
    "events:\n  - {t_ms: 0, user: hi}\nscript: 'not a list'\n",
])
def test_wrong_content_is_a_model_error(tmp_path, content):
    p = tmp_path / "wrong.yaml"
    p.write_text(content)
    with pytest.raises(ModelError, match="expected a scenario with 'script' or a list of strings") as info:
        load_script(str(p))
    assert str(p) in str(info.value)


def test_model_error_is_a_runtime_error():
    assert issubclass(ModelError, RuntimeError)


# --- make_model ----------------------------------------------------------------------------------
def test_commands_backend_is_no_model():
    assert make_model("commands") is None
    assert make_model("commands", script="ignored", model_path="ignored") is None


def test_without_a_model_the_thinker_answers_with_the_strict_command_parser():
    th = Thinker(make_model("commands"), {"red_cube"})
    assert isinstance(th.fast, CommandBackend) and th.fast.strict


def test_scripted_backend_needs_a_script():
    with pytest.raises(ModelError, match="script"):
        make_model("scripted")
    with pytest.raises(ModelError, match="needs a script"):
        make_model("scripted", script=[])


def test_scripted_backend_with_a_bad_script(tmp_path):
    with pytest.raises(ModelError):
        make_model("scripted", script=str(tmp_path / "missing.yaml"))


def test_scripted_backend_with_an_empty_script_file(tmp_path):
    p = tmp_path / "sc.yaml"
    p.write_text("events:\n  - {t_ms: 0, user: hi}\n")
    with pytest.raises(ModelError, match="has none"):
        make_model("scripted", script=str(p))


def test_scripted_backend_replays_the_script(tmp_path):
    p = tmp_path / "list.yaml"
    p.write_text("".join(f"- {json.dumps(s)}\n" for s in STREAMS))
    for script in (str(p), p):
        model = make_model("scripted", script=script, tokens_per_s=250.0)
        try:
            assert isinstance(model, ScriptedModel)
            assert model.streams == STREAMS
            assert model.tokens_per_s == 250.0
            model.start(Prompt(system="s", transcript="t"))
            model.start(Prompt(system="s", transcript="t"))
            with pytest.raises(ModelError):  # the script has two streams
                model.start(Prompt(system="s", transcript="t"))
        finally:
            model.close()


def test_scripted_backend_takes_the_streams_and_a_clock():
    t = [1_000]
    model = make_model("scripted", script=tuple(STREAMS), tokens_per_s=10.0, clock_ns=lambda: t[0])
    assert isinstance(model, ScriptedModel) and model.streams == STREAMS
    gen = model.start(Prompt(system="s", transcript="t"))
    assert gen.poll() == [] and gen.next_due_ns() == 1_000 + 100_000_000  # one piece per 100 ms of that clock
    t[0] = gen.next_due_ns()
    assert gen.poll() == ["<think>"]


@pytest.mark.parametrize("name", ["", "gpt", "Commands", "llama.cpp", "scripted "])
def test_unknown_backend(name):
    with pytest.raises(ValueError, match="unknown thinker backend") as info:
        make_model(name)
    assert repr(name) in str(info.value)
    for b in BACKENDS:
        assert b in str(info.value)


def test_transformers_needs_a_model_path():
    with pytest.raises(ModelError, match="model_path"):
        make_model("transformers")


def test_openai_needs_a_url():
    with pytest.raises(ModelError, match="openai_url"):
        make_model("openai")


def test_openai_is_built_with_its_options():
    model = make_model("openai", openai_url="http://127.0.0.1:9/v1", openai_model="m", timeout_s=3.0,
                       model_path="ignored", script="ignored")
    try:
        assert isinstance(model, OpenAIChatModel) and model.name == "openai"
        assert model.model == "m" and model.timeout_s == 3.0
        assert model.endpoint == "http://127.0.0.1:9/v1/chat/completions"
    finally:
        model.close()
    with pytest.raises(ModelError, match="base_url"):
        make_model("openai", openai_url="ftp://x")


def test_naming_openai_imports_no_torch_or_llama_cpp():
    code = ("import sys\n"
            "from seal_nodes.core.thinking.lm.registry import make_model\n"
            "make_model('openai', openai_url='http://127.0.0.1:9').close()\n"
            "print(sorted(m for m in ('torch', 'transformers', 'xllamacpp') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[3])
    assert out.stdout.strip() == "[]"


def test_backends_list():
    assert set(BACKENDS) == {"llama", "transformers", "openai", "scripted", "commands"}
