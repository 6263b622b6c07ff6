"""The LLM planner through real litellm against a local OpenAI-compatible server."""

from __future__ import annotations

import json

import pytest

from kfctl_ai.cli.main import run
from tests.fake_llm import FakeLLM, Reply, tool_call

SECRET_KEY = "sk-test-do-not-print-0123456789"


@pytest.fixture
def llm(monkeypatch, tmp_path):
    server = FakeLLM().start()
    monkeypatch.setenv("KFAI_LLM_MODEL", "openai/gpt-4o-mini")
    monkeypatch.setenv("KFAI_LLM_API_BASE", server.api_base)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET_KEY)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    yield server
    server.stop()


def plan_only(capsys, sentence):
    code = run(["ask", "--plan-only", "-o", "json", sentence])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_llm_plan_is_validated_and_resolved(llm, capsys):
    llm.queue(Reply(tool_calls=[tool_call("fine_tune", {"model": "llama 3.2", "dataset": "alpaca", "epochs": 3})]))

    code, out, err = plan_only(capsys, "train llama 3.2 on alpaca, 3 epochs")

    assert code == 0, err
    plan = json.loads(out)
    assert plan["planner"] == "llm"
    step = plan["steps"][0]
    assert step["command"] == "fine-tune"
    assert step["args"] == {"model": "meta-llama/Llama-3.2-1B-Instruct", "dataset": "hf://tatsu-lab/alpaca", "epochs": 3}
    assert step["argv"][:3] == ["kfai", "fine-tune", "meta-llama/Llama-3.2-1B-Instruct"]
    assert plan["usage"]["prompt_tokens"] == 120


def test_llm_request_carries_generated_tools(llm, capsys):
    llm.queue(Reply(tool_calls=[tool_call("jobs", {})]))

    plan_only(capsys, "list my jobs")

    body = llm.requests[0]["body"]
    names = {tool["function"]["name"] for tool in body["tools"]}
    assert {"fine_tune", "preflight", "logs", "jobs", "jobs_delete", "runtimes"} <= names
    fine_tune = next(t for t in body["tools"] if t["function"]["name"] == "fine_tune")
    assert "epochs" in fine_tune["function"]["parameters"]["properties"]
    assert SECRET_KEY not in json.dumps(body)


def test_hallucinated_option_is_repaired_once(llm, capsys):
    llm.queue(
        Reply(tool_calls=[tool_call("fine_tune", {"model": "llama 3.2 1b", "dataset": "alpaca", "epoch": 3}, "call_1")]),
        Reply(tool_calls=[tool_call("fine_tune", {"model": "llama 3.2 1b", "dataset": "alpaca", "epochs": 3}, "call_2")]),
    )

    code, out, err = plan_only(capsys, "train llama 3.2 1b on alpaca for 3 epochs")

    assert code == 0, err
    assert json.loads(out)["steps"][0]["args"]["epochs"] == 3
    assert len(llm.requests) == 2
    repair = llm.requests[1]["body"]["messages"][-1]
    assert repair["role"] == "tool"
    assert "epoch" in repair["content"]
    assert "did you mean epochs" in repair["content"]


def test_invalid_plan_twice_stops(llm, capsys):
    bad = {"model": "llama 3.2 1b", "dataset": "alpaca", "learning_rate": 0.1}
    llm.queue(Reply(tool_calls=[tool_call("fine_tune", bad, "c1")]), Reply(tool_calls=[tool_call("fine_tune", bad, "c2")]))

    code, out, err = plan_only(capsys, "train llama with lr 0.1")

    assert code == 2
    assert "learning_rate" in err
    assert "twice" in err
    assert json.loads(out)["proposed"][0]["args"]["learning_rate"] == 0.1


def test_malformed_arguments_are_rejected(llm, capsys):
    llm.queue(
        Reply(tool_calls=[tool_call("fine_tune", '{"model": "llama 3.2 1b", "dataset": ', "c1")]),
        Reply(tool_calls=[tool_call("fine_tune", '{"model": ', "c2")]),
    )

    code, out, err = plan_only(capsys, "train llama 3.2 1b on alpaca")

    assert code == 2
    assert "invalid" in err


def test_unknown_tool_is_rejected(llm, capsys):
    llm.queue(
        Reply(tool_calls=[tool_call("shell_exec", {"cmd": "kubectl delete trainjobs --all"}, "c1")]),
        Reply(tool_calls=[tool_call("shell_exec", {"cmd": "rm -rf /"}, "c2")]),
    )

    code, out, err = plan_only(capsys, "clean up the cluster")

    assert code == 2
    assert "unknown command" in err


def test_no_tool_call_explains(llm, capsys):
    llm.queue(Reply(content="I cannot make you a billionaire."))

    code, out, err = plan_only(capsys, "make me a billionaire")

    assert code == 2
    assert "no kfai command" in err


def test_unreachable_llm_exits_5(llm, capsys, monkeypatch):
    monkeypatch.setenv("KFAI_LLM_API_BASE", "http://127.0.0.1:9/v1")

    code, out, err = plan_only(capsys, "list my jobs")

    assert code == 5
    assert "cannot reach the LLM" in err
    assert SECRET_KEY not in err + out


@pytest.mark.parametrize(("tool", "args", "message"), [
    ("jobs_show", {"job": True}, "'job' must be a string or a number, got True"),
    ("jobs_show", {"job": ["ftjob"]}, "'job' must be a string or a number, got ['ftjob']"),
    ("jobs_delete", {"job": None}, "Missing argument"),
    ("train", {"script": "train.py", "env": [None]}, "'env' must be a string or a number, got None"),
    ("fine_tune", {"model": "llama 3.2", "dataset": "alpaca", "gradient_checkpointing": ""}, "'gradient_checkpointing' must be true or false, got ''"),
])
def test_llm_wrong_json_types_rejected(llm, capsys, tool, args, message):
    # The planner sends the error back to the LLM once, so both replies carry the same call.
    for _ in range(2):
        llm.queue(Reply(tool_calls=[tool_call(tool, args)]))

    code, out, err = plan_only(capsys, "do what the tool call says")

    assert code == 2, err
    assert message in err
    assert json.loads(out)["error"] == "invalid_plan"


def test_llm_null_optional_is_not_given(llm, capsys):
    llm.queue(Reply(tool_calls=[tool_call("fine_tune", {"model": "llama 3.2", "dataset": "alpaca", "epochs": None, "name": None})]))

    code, out, err = plan_only(capsys, "train llama 3.2 on alpaca")

    assert code == 0, err
    step = json.loads(out)["steps"][0]
    assert "epochs" not in step["args"]
    assert "--epochs" not in step["argv"]
    assert "None" not in step["argv"]
