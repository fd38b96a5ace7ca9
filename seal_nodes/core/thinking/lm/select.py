"""The thinker's backend by name, from flat parameters (ROS parameters, CLI flags)."""
from __future__ import annotations

from pathlib import Path

from seal_nodes.core.thinking.lm.base import LanguageModel, ModelError

BACKENDS = ("llama", "transformers", "openai", "scripted", "commands")


def load_script(path: str) -> list[str]:
    """Token streams for the scripted model: a scenario file's ``script`` or a YAML/JSON list."""
    from seal_nodes.tools.scenario import ScenarioError, load_scenario

    p = Path(path)
    try:
        return load_scenario(p).script
    except ScenarioError:
        pass
    import yaml

    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ModelError(f"cannot read script {path}: {exc}") from exc
    if not isinstance(data, list) or not all(isinstance(s, str) for s in data):
        raise ModelError(f"script {path}: expected a scenario with 'script' or a list of strings")
    return data


def make_language_model(backend: str, model_path: str = "", llm_threads: int = 1, openai_url: str = "",
                        openai_model: str = "default", script: str = "", tokens_per_s: float = 100.0,
                        ) -> LanguageModel | None:
    """``commands`` → None (the command parser answers); the others → a started model."""
    if backend == "commands":
        return None
    if backend == "scripted":
        from seal_nodes.core.thinking.lm.scripted import ScriptedModel

        if not script:
            raise ModelError("the scripted backend needs a script file (parameter 'script')")
        return ScriptedModel(load_script(script), tokens_per_s=tokens_per_s)
    from seal_nodes.core.thinking.lm.factory import make_model

    if backend == "llama":
        return make_model("llama", model_path=model_path or None, n_threads=llm_threads)
    if backend == "transformers":
        if not model_path:
            raise ModelError("the transformers backend needs model_path (a local model directory)")
        return make_model("transformers", model=model_path)
    if backend == "openai":
        if not openai_url:
            raise ModelError("the openai backend needs openai_url (e.g. http://127.0.0.1:8080)")
        return make_model("openai", base_url=openai_url, model=openai_model)
    raise ValueError(f"unknown thinker backend {backend!r}; one of {BACKENDS}")
