"""The compact prompt for small local models: only the commands a sentence needs."""

from __future__ import annotations

import json
import os

import pytest

from kfctl_ai.ask.llm import build_messages, relevant_paths, wants_compact
from kfctl_ai.cli.app import build_command
from kfctl_ai.cli.main import run
from kfctl_ai.cli.schema import tools
from tests.fake_llm import FakeLLM, Reply, tool_call

SENTENCES = {
    "train llama 3.2 on alpaca, 3 epochs": "fine-tune",
    "show failed jobs": "jobs",
    "will llama 3.1 8b fit on my GPUs?": "preflight",
    "follow the logs for llama-alpaca-x1": "logs",
    "delete job old-run-7": "jobs delete",
    "which runtimes can I use for qwen 2.5 1.5b?": "runtimes",
    "train llama 3.2 1b on alpaca then stream the logs, then delete job old-run-7": "jobs delete",
}
MAX_PROMPT_TOKENS = 1500


def prompt_tokens(sentence: str, compact: bool) -> int:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    root = build_command()
    tool_list = tools(root, relevant_paths(sentence) if compact else None, compact=compact)
    return litellm.token_counter(model="gpt-4o-mini", messages=build_messages(sentence), tools=tool_list)


def test_compact_prompt_fits_budget():
    rows = []
    for sentence in SENTENCES:
        compact, full = prompt_tokens(sentence, True), prompt_tokens(sentence, False)
        rows.append((compact, full, sentence))
        assert compact <= MAX_PROMPT_TOKENS, f"{compact} prompt tokens for {sentence!r}"
        assert compact < full
    print("\ncompact vs full prompt tokens (gpt-4o-mini tokenizer):")
    for compact, full, sentence in rows:
        print(f"  {compact:5d} {full:5d}  {sentence}")


@pytest.mark.parametrize("sentence,command", SENTENCES.items())
def test_compact_keeps_needed_command(sentence, command):
    assert command in relevant_paths(sentence)


def test_ollama_models_default_to_compact():
    assert wants_compact("ollama/llama3.2", None)
    assert not wants_compact("gpt-4o-mini", None)
    assert wants_compact("gpt-4o-mini", True)
    assert not wants_compact("ollama/llama3.2", False)


def test_compact_flag_sends_fewer_tools(monkeypatch, tmp_path, capsys):
    server = FakeLLM().start()
    try:
        monkeypatch.setenv("KFAI_LLM_MODEL", "openai/gpt-4o-mini")
        monkeypatch.setenv("KFAI_LLM_API_BASE", server.api_base)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-compact")
        monkeypatch.setenv("HOME", str(tmp_path))
        monkeypatch.delenv("KUBECONFIG", raising=False)
        server.queue(Reply(tool_calls=[tool_call("jobs", {"status": "Failed"})]))

        code = run(["ask", "--plan-only", "--compact", "-o", "json", "show failed jobs"])

        assert code == 0
        assert json.loads(capsys.readouterr().out)["steps"][0]["args"] == {"status": "Failed"}
        sent = {tool["function"]["name"] for tool in server.requests[0]["body"]["tools"]}
        assert "jobs" in sent
        assert "fine_tune" not in sent
    finally:
        server.stop()
