"""Shell completion: the checked-in scripts are current, and TAB completes commands and names.

The scripts in completions/ run `kfai` with `_KFAI_COMPLETE` set on every TAB. The
tests drive that protocol the way the scripts do, through environment variables, and
call the name-completing callables of `kfctl_ai.cli.completion` directly.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import typer
import yaml

from kfctl_ai.cli import completion
from kfctl_ai.cli.main import run
from tests.kfai_runner import KFAI, clean_env
from tests.test_contract_docs import GENERATOR_COMMAND, load_generator
from tests.test_output_schemas import REPO_ROOT, create_job, kfai, kfai_offline  # noqa: F401  (fixtures)


def completion_context(*words: str) -> typer.Context:
    """The root context click builds while completing `kfai WORDS...`."""
    from kfctl_ai.cli.app import build_command

    return build_command().make_context("kfai", list(words), resilient_parsing=True)


def values(candidates: list) -> list[str]:
    return [item[0] if isinstance(item, tuple) else item for item in candidates]


# --- the scripts --------------------------------------------------------------------------


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_script_up_to_date(shell: str) -> None:
    generator = load_generator()
    path = generator.COMPLETION_PATHS[shell]

    expected = generator.render_completion(shell)

    assert (REPO_ROOT / path).exists(), f"{path} is missing: run `{GENERATOR_COMMAND}`"
    assert (REPO_ROOT / path).read_text(encoding="utf-8") == expected, f"{path} is stale: run `{GENERATOR_COMMAND}`"


def test_zsh_script_starts_with_compdef() -> None:
    first_line = (REPO_ROOT / "completions" / "_kfai").read_text(encoding="utf-8").splitlines()[0]

    assert first_line == "#compdef kfai"


# --- the protocol the scripts speak ------------------------------------------------------------


def complete(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], shell: str, line: str) -> list[str]:
    """Ask kfai for the candidates at the end of `line`, as the `shell` script does."""
    monkeypatch.setenv("_KFAI_COMPLETE", f"complete_{shell}")
    if shell == "bash":
        words = line.split(" ")
        monkeypatch.setenv("COMP_WORDS", line)
        monkeypatch.setenv("COMP_CWORD", str(len(words) - 1))
    else:
        monkeypatch.setenv("_TYPER_COMPLETE_ARGS", line)
    capsys.readouterr()
    try:
        code = run([])
    except SystemExit as exit_info:
        code = exit_info.code
    out, err = capsys.readouterr()
    assert code == 0, f"completion exited {code}: {err.strip()} (is enable_shell_completion() called in create_app?)"
    return out.split()


def test_bash_completes_subcommands(kfai_offline, monkeypatch, capsys) -> None:
    assert complete(monkeypatch, capsys, "bash", "kfai jo") == ["jobs"]


def test_bash_completes_options(kfai_offline, monkeypatch, capsys) -> None:
    assert "--dry-run" in complete(monkeypatch, capsys, "bash", "kfai jobs delete --d")


def test_bash_completes_job_names(cluster, kfai, monkeypatch, capsys) -> None:
    create_job(kfai, cluster, "alpha-run")
    create_job(kfai, cluster, "beta-run")

    assert complete(monkeypatch, capsys, "bash", "kfai logs al") == ["alpha-run"]
    assert complete(monkeypatch, capsys, "bash", "kfai jobs delete ") == ["alpha-run", "beta-run"]


def test_zsh_completes_runtime_names(kfai, monkeypatch, capsys) -> None:
    printed = " ".join(complete(monkeypatch, capsys, "zsh", "kfai runtimes show torchtune-llama3.2-"))

    assert "torchtune-llama3.2-1b" in printed
    assert "torchtune-llama3.2-3b" in printed


def test_fish_completes_model_names(kfai_offline, monkeypatch, capsys) -> None:
    monkeypatch.setenv("_TYPER_COMPLETE_FISH_ACTION", "get-args")

    printed = " ".join(complete(monkeypatch, capsys, "fish", "kfai preflight Qwen/Qwen2.5-1"))

    assert "Qwen/Qwen2.5-1.5B-Instruct" in printed


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_script_runs_in_bash(tmp_path) -> None:
    """Source completions/kfai.bash in a real bash and press TAB after `kfai ru`."""
    env = clean_env(tmp_path)
    env["PATH"] = os.pathsep.join([str(Path(KFAI).parent), env.get("PATH", "")])
    script = (
        f"source {REPO_ROOT / 'completions' / 'kfai.bash'}; "
        'COMP_WORDS=(kfai ru); COMP_CWORD=1; _kfai_completion kfai; printf "%s\\n" "${COMPREPLY[@]}"'
    )

    completed = subprocess.run(["bash", "--norc", "-c", script], env=env, capture_output=True, text=True, timeout=60)

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ["runtimes"]


# --- the name-completing callables -----------------------------------------------------------


def test_job_names_from_cluster(cluster, kfai) -> None:
    create_job(kfai, cluster, "alpha-run")
    create_job(kfai, cluster, "beta-run")

    candidates = completion.complete_job_names(completion_context(), "al")

    assert values(candidates) == ["alpha-run"]
    assert candidates[0][1] == "TrainJob on torchtune-llama3.2-1b"


def test_job_names_follow_namespace_option(cluster, kfai) -> None:
    create_job(kfai, cluster, "default-run")
    assert kfai("-n", "team-a", "fine-tune", "llama 3.2 1b", "--dataset", "alpaca", "--name", "team-run", "--yes").code == 0

    assert values(completion.complete_job_names(completion_context("-n", "team-a"), "")) == ["team-run"]
    assert values(completion.complete_job_names(completion_context(), "")) == ["default-run"]


def test_job_names_follow_kubeconfig_option(cluster, kfai_offline) -> None:
    cluster.seed_trainjobs(2)

    names = values(completion.complete_job_names(completion_context("--kubeconfig", str(cluster.kubeconfig)), ""))

    assert len(names) == 2


def test_job_names_without_kubeconfig(kfai_offline) -> None:
    assert completion.complete_job_names(completion_context(), "") == []


def test_job_names_unreachable_cluster(cluster, kfai_offline, tmp_path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    document = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    document["clusters"][0]["cluster"]["server"] = f"http://127.0.0.1:{closed_port}"
    unreachable = tmp_path / "unreachable.yaml"
    unreachable.write_text(yaml.safe_dump(document))

    assert completion.complete_job_names(completion_context("--kubeconfig", str(unreachable)), "") == []


def test_runtime_names_from_cluster(cluster, kfai) -> None:
    candidates = completion.complete_runtime_names(completion_context(), "torchtune-")

    assert values(candidates) == ["torchtune-llama3.2-1b", "torchtune-llama3.2-3b", "torchtune-qwen2.5-1.5b"]
    assert {kind for _, kind in candidates} == {"ClusterTrainingRuntime"}


def test_runtime_names_upstream_without_cluster(kfai_offline) -> None:
    names = values(completion.complete_runtime_names(completion_context(), ""))

    assert "torch-distributed" in names
    assert "torchtune-llama3.2-1b" in names


def test_model_names_by_id_and_repo_name() -> None:
    by_id = values(completion.complete_model_names("meta-llama/Llama-3.2-"))
    by_name = values(completion.complete_model_names("Llama-3.2-1"))

    assert "meta-llama/Llama-3.2-1B-Instruct" in by_id
    assert all(name.startswith("meta-llama/Llama-3.2-") for name in by_id)
    assert by_name == ["Llama-3.2-1B-Instruct"]


def test_dataset_names() -> None:
    assert "alpaca" in values(completion.complete_dataset_names("al"))


def test_persona_and_output_names() -> None:
    assert completion.complete_personas("ml") == ["ml-engineer"]
    assert completion.complete_output_formats("y") == ["yaml"]


def test_context_names(cluster, kfai_offline, tmp_path) -> None:
    document = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    document["contexts"].append({"name": "staging", "context": dict(document["contexts"][0]["context"])})
    path = tmp_path / "contexts.yaml"
    path.write_text(yaml.safe_dump(document))

    assert completion.complete_contexts(completion_context("--kubeconfig", str(path)), "") == ["kfai-emulator", "staging"]
    assert completion.complete_contexts(completion_context("--kubeconfig", str(path)), "st") == ["staging"]


def test_callables_never_raise(kfai_offline, tmp_path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("contexts: [")
    context = completion_context("--kubeconfig", str(broken))

    assert completion.complete_job_names(context, "") == []
    assert completion.complete_runtime_names(context, "") == []
    assert completion.complete_contexts(context, "") == []


def test_shell_complete_module_imports_nothing_heavy() -> None:
    """Importing the module at start-up costs nothing: it imports the cluster client only on TAB."""
    probe = "import sys, kfctl_ai.cli.completion; print(sorted(m for m in ('kubernetes', 'kubeflow', 'litellm') if m in sys.modules))"

    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)

    assert completed.stdout.strip() == "[]", completed.stderr
