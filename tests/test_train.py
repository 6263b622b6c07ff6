"""`kfai train` on the emulated cluster: the TrainJob runs the script unchanged, and bad
input stops before anything is submitted."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest


EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "train_regression.py"

# Characters that an unquoted bash here-document or a Python string literal would change.
TRICKY_SCRIPT = "\n".join([
    '"""Print what the script received; its text holds $HOME, `date`, a backslash and triple quotes."""',
    "import argparse",
    "",
    'TEXT = "$HOME `date` \\\\ \\n \'\'\' \\"\\"\\""',
    "",
    "",
    "def main():",
    "    parser = argparse.ArgumentParser()",
    '    parser.add_argument("--steps", type=int)',
    '    parser.add_argument("--verbose", action="store_true")',
    "    args = parser.parse_args()",
    '    print(f"steps={args.steps} verbose={args.verbose} name={__name__}")',
    "    print(TEXT)",
    "",
    "",
    'if __name__ == "__main__":',
    "    main()",
    "",
])

FUNCTION_SCRIPT = textwrap.dedent('''\
    import torch


    def train(steps: int = 1, lr: float = 0.1, tag: str = "none"):
        import os

        print(f"train steps={steps} lr={lr} tag={tag} rank={os.environ.get('RANK', '0')}")


    if __name__ == "__main__":
        raise SystemExit("the whole script must not run with --func")
    ''')


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def trainjob(cluster, name: str) -> dict:
    return cluster.store.get("trainjobs", "default", name)


def run_trainer_command(command: list[str], workdir: Path) -> subprocess.CompletedProcess:
    """Run a TrainJob's trainer command here, with a `torchrun` that starts the file with this Python."""
    bin_dir = workdir / "bin"
    bin_dir.mkdir()
    torchrun = bin_dir / "torchrun"
    torchrun.write_text(f'#!/bin/sh\nfor last; do :; done\nexec "{sys.executable}" "$last"\n')
    torchrun.chmod(torchrun.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=60)


# --- on the cluster -------------------------------------------------------------------


def test_train_example_becomes_trainjob(cluster, kfai):
    result = kfai("train", str(EXAMPLE), "--gpus", "2", "--nodes", "2", "--arg", "steps=40",
                  "--name", "regression", "--yes", "-o", "json")

    assert result.code == 0, result.stderr
    assert result.json()["job"] == "regression"
    job = trainjob(cluster, "regression")
    spec = job["spec"]
    assert spec["runtimeRef"]["name"] == "torch-distributed"
    assert spec["trainer"]["numNodes"] == 2
    assert spec["trainer"]["resourcesPerNode"]["limits"]["nvidia.com/gpu"] == "2"
    assert job["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kfai"
    command = spec["trainer"]["command"]
    assert command[:2] == ["bash", "-c"]
    assert EXAMPLE.read_text() in command[2]
    assert "torchrun" in command[2]
    assert "'--steps', '40'" in command[2]
    assert cluster.wait_for_job("regression") == "Complete"


def test_trainjob_command_runs_script_unchanged(cluster, kfai, tmp_path):
    script = write(tmp_path / "tricky.py", TRICKY_SCRIPT)

    result = kfai("train", str(script), "--arg", "steps=7", "--arg", "verbose=", "--name", "tricky", "--yes")

    assert result.code == 0, result.stderr
    command = trainjob(cluster, "tricky")["spec"]["trainer"]["command"]
    workdir = tmp_path / "container"
    workdir.mkdir()
    ran = run_trainer_command(command, workdir)
    assert ran.returncode == 0, ran.stderr
    assert "steps=7 verbose=True name=__main__" in ran.stdout
    assert "$HOME `date` \\ \n ''' \"\"\"" in ran.stdout
    assert (workdir / "tricky.py").read_text() == TRICKY_SCRIPT


def test_trainjob_command_calls_function(cluster, kfai, tmp_path):
    script = write(tmp_path / "fn.py", FUNCTION_SCRIPT)

    result = kfai("train", str(script), "--func", "train", "--arg", "steps=3", "--arg", "lr=0.5",
                  "--arg", "tag=warmup", "--name", "fn", "--yes")

    assert result.code == 0, result.stderr
    command = trainjob(cluster, "fn")["spec"]["trainer"]["command"]
    assert "train(**{'steps': 3, 'lr': 0.5, 'tag': 'warmup'})" in command[2]
    workdir = tmp_path / "container"
    workdir.mkdir()
    ran = run_trainer_command(command, workdir)
    assert ran.returncode == 0, ran.stderr
    assert "train steps=3 lr=0.5 tag=warmup rank=0" in ran.stdout


def test_train_preview_matches_created_job(cluster, kfai):
    arguments = ("train", str(EXAMPLE), "--gpus", "1", "--cpu", "4", "--memory", "16Gi", "--env", "MODE=fast",
                 "--packages", "einops==0.8.0", "--name", "same")
    preview = kfai(*arguments, "--dry-run", "-o", "json")
    assert preview.code == 0, preview.stderr
    expected = preview.json()["changes"][0]["object"]

    created = kfai(*arguments, "--yes", "-o", "json")

    assert created.code == 0, created.stderr
    job = trainjob(cluster, "same")
    assert job["spec"]["trainer"] == expected["spec"]["trainer"]
    assert job["metadata"]["labels"] == expected["metadata"]["labels"]
    assert "einops==0.8.0" in job["spec"]["trainer"]["command"][2]
    assert job["spec"]["trainer"]["resourcesPerNode"]["limits"] == {"nvidia.com/gpu": "1", "cpu": "4", "memory": "16Gi"}


def test_train_without_yes_exits_7(cluster, kfai):
    result = kfai("train", str(EXAMPLE), "-o", "json")

    assert result.code == 7
    assert result.json()["status"] == "needs_confirmation"
    assert cluster.store.list("trainjobs", "default").items == []


def test_deepspeed_script_picks_deepspeed_runtime(cluster, kfai, tmp_path):
    script = write(tmp_path / "ds.py", "import deepspeed\nimport torch\nprint('ds')\n")

    result = kfai("train", str(script), "--dry-run", "-o", "json")

    assert result.code == 0, result.stderr
    job = result.json()["changes"][0]["object"]
    assert job["spec"]["runtimeRef"]["name"] == "deepspeed-distributed"
    assert job["spec"]["trainer"]["command"][0] == "mpirun"


@pytest.mark.parametrize(
    ("arguments", "code", "message"),
    [
        (("--gpus", "16"), 3, "no node has 16 GPUs"),
        (("--gpus", "8", "--nodes", "3"), 3, "only 2 node(s) have 8 GPUs"),
        (("--gpus", "8", "-n", "team-a"), 3, "quota exceeded"),
        (("--image", "ghcr.io/example/train:1"), 6, "custom image"),
    ],
)
def test_train_cluster_checks_reject(cluster, kfai, arguments, code, message):
    result = kfai("train", str(EXAMPLE), *arguments, "--yes")

    assert result.code == code, result.stderr
    assert message in result.stderr
    assert cluster.store.list("trainjobs", "default").items == []


def test_force_submits_despite_gpu_check(cluster, kfai):
    result = kfai("train", str(EXAMPLE), "--gpus", "16", "--force", "--name", "forced", "--yes")

    assert result.code == 0, result.stderr
    assert trainjob(cluster, "forced")["spec"]["trainer"]["resourcesPerNode"]["limits"]["nvidia.com/gpu"] == "16"


def test_image_without_script_runs_image_entrypoint(cluster, kfai):
    result = kfai("train", "--image", "ghcr.io/example/train:1", "--arg", "epochs=2", "--persona", "ml-engineer",
                  "--name", "image-only", "--yes")

    assert result.code == 0, result.stderr
    trainer = trainjob(cluster, "image-only")["spec"]["trainer"]
    assert trainer["image"] == "ghcr.io/example/train:1"
    assert trainer["args"] == ["--epochs", "2"]
    assert "command" not in trainer


# --- bad input, before anything is submitted ------------------------------------------


@pytest.mark.parametrize(
    ("case", "code", "message"),
    [
        ("missing-script", 2, "script not found: missing.py"),
        ("syntax-error", 2, "syntax error in {broken}:3"),
        ("unknown-function", 2, "no top-level function 'trian' in {script}; did you mean 'train'"),
        ("unknown-runtime", 4, "runtime 'torch-distrib' not found; did you mean 'torch-distributed'"),
        ("torchtune-runtime", 2, "is a torchtune runtime"),
        ("framework-mismatch", 2, "runs jax, but fn.py imports torch"),
        ("bad-arg", 2, "invalid --arg 'steps': expected KEY=VALUE"),
        ("bad-env", 2, "invalid --env '1BAD=x': expected KEY=VALUE"),
        ("bad-memory", 2, "invalid --memory '16 GB'"),
        ("bad-name", 2, "invalid TrainJob name 'Bad_Name'"),
    ],
)
def test_train_bad_input(offline, tmp_path, case, code, message):
    broken = write(tmp_path / "broken.py", "import torch\n\ndef main(:\n    pass\n")
    script = str(write(tmp_path / "fn.py", FUNCTION_SCRIPT))
    arguments = {
        "missing-script": ["missing.py"],
        "syntax-error": [str(broken)],
        "unknown-function": [script, "--func", "trian"],
        "unknown-runtime": [script, "--runtime", "torch-distrib"],
        "torchtune-runtime": [script, "--runtime", "torchtune-llama3.2-1b"],
        "framework-mismatch": [script, "--runtime", "jax-distributed"],
        "bad-arg": [script, "--arg", "steps"],
        "bad-env": [script, "--env", "1BAD=x"],
        "bad-memory": [script, "--memory", "16 GB"],
        "bad-name": [script, "--name", "Bad_Name"],
    }[case]

    result = offline("train", *arguments, "--dry-run")

    assert result.code == code, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert message.format(broken=broken, script=script) in errors[0]
    assert "Traceback" not in result.stderr


def test_function_using_module_names_is_rejected(offline):
    result = offline("train", str(EXAMPLE), "--func", "make_data", "--dry-run")

    assert result.code == 2
    assert "NameError: name 'torch' is not defined" in result.stderr


def test_function_reading_outside_names_is_flagged(offline):
    result = offline("train", str(EXAMPLE), "--func", "main", "--dry-run", "-o", "json")

    assert result.code == 0, result.stderr
    notes = " ".join(result.json()["notes"])
    assert "main() uses dist, make_data, nn, os, parse_args, torch" in notes


def test_json_preview_is_one_document(offline):
    result = offline("train", str(EXAMPLE), "--env", "HF_TOKEN=hf_abcdef", "--dry-run", "-o", "json")

    assert result.code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["status"] == "preview"
    assert document["runtime"] == "torch-distributed"
    assert document["command"][:3] == ["kfai", "train", str(EXAMPLE)]
    assert "hf_abcdef" not in result.stdout
    env = document["changes"][0]["object"]["spec"]["trainer"]["env"]
    assert env == [{"name": "HF_TOKEN", "value": "***"}]
