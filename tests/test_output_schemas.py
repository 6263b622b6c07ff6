"""Every `-o json` document matches its schema in docs/schemas, and stdout holds only that document.

The commands run in this process through `kfctl_ai.cli.main.run`, the same function the
`kfai` console script calls, against the emulated cluster. That takes a few milliseconds
per command where a subprocess takes seconds to import the Kubeflow SDK.

This module also defines the in-process runner and its fixtures (`kfai`, `kfai_offline`)
that the other contract tests import.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource

from kfctl_ai.cli.main import run

REPO_ROOT = Path(__file__).resolve().parent.parent
SCHEMA_DIR = REPO_ROOT / "docs" / "schemas"
SHARED_SCHEMA = "common.json"


# --- the in-process runner -----------------------------------------------------------


@dataclass
class Invocation:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return single_json_document(self.stdout)


def single_json_document(text: str) -> Any:
    """Parse `text` as exactly one JSON document; fail the test on anything around it."""
    decoder = json.JSONDecoder()
    stripped = text.lstrip()
    assert stripped, "stdout is empty, expected one JSON document"
    assert stripped == text, f"stdout starts with text before the JSON document: {text[:80]!r}"
    document, end = decoder.raw_decode(stripped)
    trailing = stripped[end:]
    assert trailing.strip() == "", f"stdout holds more than one JSON document or extra text: {trailing[:120]!r}"
    return document


def isolate_environment(monkeypatch: pytest.MonkeyPatch, home: Path, kubeconfig: Path | None) -> None:
    """Give kfai an empty home and config, no KFAI_* or LLM variables, no colors and no terminal."""
    for key in list(os.environ):
        if key.startswith(("KFAI_", "KUBECONFIG", "OPENAI_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".state"))
    monkeypatch.setenv("NO_COLOR", "1")
    if kubeconfig is not None:
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    # An agent's stdin: not a terminal, and empty.
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))


class InProcessKfai:
    """Call `kfai ARGS...` through `kfctl_ai.cli.main.run` and capture what it prints."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def __call__(self, *args: str) -> Invocation:
        self.capsys.readouterr()
        code = run(list(args))
        out, err = self.capsys.readouterr()
        return Invocation(code, out, err)


@pytest.fixture
def kfai(cluster, tmp_path, monkeypatch, capsys) -> InProcessKfai:
    """kfai pointed at the emulated cluster by KUBECONFIG."""
    isolate_environment(monkeypatch, tmp_path, cluster.kubeconfig)
    return InProcessKfai(capsys)


@pytest.fixture
def kfai_offline(tmp_path, monkeypatch, capsys) -> InProcessKfai:
    """kfai with no kubeconfig at all."""
    isolate_environment(monkeypatch, tmp_path, None)
    return InProcessKfai(capsys)


def create_job(kfai: InProcessKfai, cluster: Any, name: str) -> None:
    """Create a TrainJob through kfai and wait until the emulator finishes it."""
    created = kfai("fine-tune", "llama 3.2 1b", "--dataset", "alpaca", "--name", name, "--yes")
    assert created.code == 0, created.stderr
    cluster.wait_for_job(name, timeout=15)


# --- schemas ----------------------------------------------------------------------------


@cache
def schema_registry() -> Registry:
    """All schemas under their file names, so that `common.json#/$defs/...` resolves."""
    resources = [
        (path.name, Resource.from_contents(json.loads(path.read_text(encoding="utf-8"))))
        for path in sorted(SCHEMA_DIR.glob("*.json"))
    ]
    return Registry().with_resources(resources)


def load_schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))


def assert_matches_schema(document: Any, schema_name: str) -> None:
    validator = jsonschema.Draft202012Validator(load_schema(schema_name), registry=schema_registry())
    errors = sorted(validator.iter_errors(document), key=lambda error: list(error.absolute_path))
    described = "\n".join(f"  at /{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in errors)
    assert not errors, f"-o json output does not match docs/schemas/{schema_name}:\n{described}"


# --- cases ------------------------------------------------------------------------------

JOB = "schema-job"
SENTENCE = "train llama 3.2 on alpaca, 3 epochs"
FINE_TUNE = ["fine-tune", "llama 3.2 1b", "--dataset", "alpaca"]


TRAIN_SCRIPT = str(Path(__file__).resolve().parents[1] / "examples" / "train_regression.py")


@dataclass
class Case:
    schema: str
    argv: list[str]
    code: int = 0
    # None: against the emulated cluster; "offline": with no kubeconfig.
    where: str | None = None
    # Runs before the command, with (kfai, cluster).
    setup: Callable[[InProcessKfai, Any], None] | None = None
    id: str = field(default="")

    def label(self) -> str:
        return self.id or " ".join(self.argv)


def with_job(kfai: InProcessKfai, cluster: Any) -> None:
    create_job(kfai, cluster, JOB)


def with_history(kfai: InProcessKfai, cluster: Any) -> None:
    assert kfai("ask", "--yes", SENTENCE).code == 0


CASES = [
    Case("runtimes.json", ["runtimes"]),
    Case("runtimes.json", ["runtimes", "--model", "llama 3.2 1b"]),
    Case("runtimes.json", ["runtimes"], where="offline", id="runtimes without cluster"),
    Case("runtimes-show.json", ["runtimes", "show", "torchtune-llama3.2-1b"]),
    Case("preflight.json", ["preflight", "llama 3.2 1b"]),
    Case("preflight.json", ["preflight", "llama 3.1 70b"], code=3),
    Case("preflight.json", ["preflight", "llama 3.2 1b", "--gpu-type", "l4", "--batch-size", "64"], code=3, where="offline"),
    Case("preflight.json", ["preflight", "qwen2.5 1.5b", "--gpu-memory", "24", "--method", "lora"], where="offline"),
    Case("fine-tune.preview.json", [*FINE_TUNE, "--dry-run"]),
    Case("fine-tune.preview.json", [*FINE_TUNE, "--dry-run"], where="offline", id="fine-tune --dry-run without cluster"),
    Case("fine-tune.created.json", [*FINE_TUNE, "--yes"]),
    Case("fine-tune.needs-confirmation.json", FINE_TUNE, code=7),
    Case("logs.json", ["logs", JOB], setup=with_job),
    Case("logs.json", ["logs", JOB, "-f"], setup=with_job),
    Case("jobs.json", ["jobs"], setup=with_job),
    Case("jobs.json", ["jobs", "--status", "Failed"]),
    Case("jobs-show.json", ["jobs", "show", JOB], setup=with_job),
    Case("jobs-wait.json", ["jobs", "wait", JOB], setup=with_job),
    Case("jobs-delete.preview.json", ["jobs", "delete", JOB, "--dry-run"], setup=with_job),
    Case("jobs-delete.deleted.json", ["jobs", "delete", JOB, "--yes"], setup=with_job),
    Case("jobs-delete.needs-confirmation.json", ["jobs", "delete", JOB], code=7, setup=with_job),
    Case("ask.plan.json", ["ask", "--plan-only", SENTENCE]),
    Case("ask.preview.json", ["ask", "--dry-run", SENTENCE]),
    Case("ask.preview.json", ["ask", "--dry-run", f"delete job {JOB}"], setup=with_job),
    Case("ask.done.json", ["ask", "--yes", SENTENCE]),
    Case("ask.done.json", ["ask", "list my failed jobs"]),
    Case("ask.needs-confirmation.json", ["ask", SENTENCE], code=7),
    Case("history.json", ["history"], setup=with_history),
    Case("history.json", ["history"], where="offline", id="history empty"),
    Case("cluster-gpus.json", ["cluster", "gpus"]),
    Case("commands.json", ["commands"], where="offline"),
    Case("config-view.json", ["config", "view"], where="offline"),
    Case("config-get.json", ["config", "get", "persona"], where="offline"),
    Case("config-set.json", ["config", "set", "namespace", "team-a"], where="offline"),
    Case("config-unset.json", ["config", "unset", "namespace"], where="offline"),
    Case("train.preview.json", ["train", TRAIN_SCRIPT, "--gpus", "2", "--dry-run"]),
    Case("train.created.json", ["train", TRAIN_SCRIPT, "--yes"]),
    Case("train.local-preview.json", ["train", TRAIN_SCRIPT, "--local", "--dry-run"], where="offline"),
    Case("error.json", ["jobs", "show", "no-such-job"], code=4),
    Case("error.json", ["preflight", "lama 3.2 1b"], code=2, id="unknown model"),
    Case("error.json", [*FINE_TUNE, "--epoch", "3"], code=2, id="unknown option"),
    Case("error.json", ["--persona", "readonly", *FINE_TUNE, "--yes"], code=6),
    Case("error.json", ["jobs"], code=5, where="offline", id="no kubeconfig"),
    Case("error.json", ["jobs", "wait", "fail-run"], code=8, setup=lambda kfai, cluster: create_job(kfai, cluster, "fail-run")),
]


@pytest.mark.parametrize("case", CASES, ids=[case.label() for case in CASES])
def test_json_output_matches_schema(case: Case, request: pytest.FixtureRequest) -> None:
    if case.where == "offline":
        kfai, cluster = request.getfixturevalue("kfai_offline"), None
    else:
        kfai, cluster = request.getfixturevalue("kfai"), request.getfixturevalue("cluster")
    if case.setup is not None:
        case.setup(kfai, cluster)

    result = kfai(*case.argv, "-o", "json")

    assert result.code == case.code, result.stderr
    assert_matches_schema(result.json(), case.schema)


def test_schemas_are_valid_json_schema() -> None:
    for path in sorted(SCHEMA_DIR.glob("*.json")):
        jsonschema.Draft202012Validator.check_schema(json.loads(path.read_text(encoding="utf-8")))


def test_every_schema_has_a_case() -> None:
    documented = {path.name for path in SCHEMA_DIR.glob("*.json")} - {SHARED_SCHEMA}
    exercised = {case.schema for case in CASES}

    assert documented - exercised == set(), "schemas that no test case checks"
    assert exercised - documented == set(), "test cases that name a missing schema"


def builtin_command_tree(monkeypatch: pytest.MonkeyPatch) -> Any:
    """kfai's own click command tree, with installed plugins switched off."""
    import typer

    from kfctl_ai.cli.app import create_app

    monkeypatch.setenv("KFAI_PLUGINS", "none")
    return typer.main.get_command(create_app())


# NOTE: the documents of `kfai train` (cluster and --local) and of `jobs --local` and
# `logs --local` have no schema yet. Remove `train` here once docs/schemas/train.*.json exists.
COMMANDS_WITHOUT_SCHEMA: set[str] = set()


def has_schema(path: str, schema_names: set[str]) -> bool:
    prefix = path.replace(" ", "-")
    return any(name == prefix or name.startswith(prefix + ".") for name in schema_names)


def test_every_command_has_a_schema(monkeypatch) -> None:
    from kfctl_ai.cli.tree import walk

    names = {path.name.removesuffix(".json") for path in SCHEMA_DIR.glob("*.json")}
    for info in walk(builtin_command_tree(monkeypatch)):
        prefix = info.path.replace(" ", "-")
        if info.path in COMMANDS_WITHOUT_SCHEMA:
            assert not has_schema(info.path, names), f"remove {info.path!r} from COMMANDS_WITHOUT_SCHEMA"
            continue
        assert has_schema(info.path, names), f"`kfai {info.path} -o json` has no schema: add docs/schemas/{prefix}.json (or {prefix}.KIND.json)"


def test_schema_rejects_changed_shape() -> None:
    """The schemas are strict: a renamed field fails, so an output change cannot pass unnoticed."""
    document = {"status": "deleted", "job": "a", "namespace": "default"}
    assert_matches_schema(document, "jobs-delete.deleted.json")

    renamed = {"status": "deleted", "name": "a", "namespace": "default"}
    with pytest.raises(AssertionError, match="does not match"):
        assert_matches_schema(renamed, "jobs-delete.deleted.json")


def test_yaml_output_is_one_document(kfai) -> None:
    import yaml

    result = kfai("runtimes", "-o", "yaml")

    assert result.code == 0, result.stderr
    documents = list(yaml.safe_load_all(result.stdout))
    assert len(documents) == 1
    assert_matches_schema(documents[0], "runtimes.json")


# --- plain text when not a terminal --------------------------------------------------------

ANSI_ESCAPE = "\x1b["
# Select Graphic Rendition parameters that set a foreground or background color. NO_COLOR
# (https://no-color.org) turns colors off but allows bold and dim, and rich keeps those.
SGR_SEQUENCE = re.compile(r"\x1b\[([0-9;]*)m")
COLOR_PARAMETERS = {*range(30, 39), *range(40, 49), *range(90, 98), *range(100, 108)}
COLOR_VARIABLES = ("NO_COLOR", "FORCE_COLOR", "CLICOLOR_FORCE", "TTY_COMPATIBLE", "TTY_INTERACTIVE")
# A table with a colored verdict on stdout; no kubeconfig, so no cluster is needed.
COLORED_COMMAND = ["preflight", "llama 3.2 1b", "--gpu-type", "a100-80gb"]


def color_env(home: Path, **extra: str) -> dict[str, str]:
    from tests.kfai_runner import clean_env

    env = {key: value for key, value in clean_env(home).items() if key not in COLOR_VARIABLES}
    env["TERM"] = "xterm-256color"
    env.update(extra)
    return env


def run_on_terminal(args: list[str], env: dict[str, str]) -> str:
    """Run the installed kfai with stdout on a pseudo-terminal and return what it printed there."""
    import pty
    import subprocess

    from tests.kfai_runner import KFAI

    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen([KFAI, *args], env=env, stdin=subprocess.DEVNULL, stdout=terminal,
                                   stderr=subprocess.DEVNULL)
        os.close(terminal)
        chunks = []
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the terminal closed when kfai exited
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert process.wait(timeout=60) == 0
    finally:
        os.close(controller)
    return b"".join(chunks).decode("utf-8", "replace")


def test_piped_output_has_no_colors(tmp_path) -> None:
    from tests.kfai_runner import run_kfai

    env = color_env(tmp_path)

    table = run_kfai(*COLORED_COMMAND, env=env)
    error = run_kfai("jobs", env=env)

    assert table.code == 0, table.stderr
    assert "verdict" in table.stdout
    assert ANSI_ESCAPE not in table.stdout
    assert error.code == 5
    assert error.stderr.startswith("error:")
    assert ANSI_ESCAPE not in error.stderr


def color_codes(text: str) -> set[int]:
    """The color parameters of every SGR escape sequence in `text`."""
    codes: set[int] = set()
    for match in SGR_SEQUENCE.finditer(text):
        codes |= {int(part) for part in match.group(1).split(";") if part} & COLOR_PARAMETERS
    return codes


def test_no_color_on_terminal_has_no_colors(tmp_path) -> None:
    printed = run_on_terminal(COLORED_COMMAND, color_env(tmp_path, NO_COLOR="1"))

    assert "verdict" in printed
    assert color_codes(printed) == set()


def test_terminal_without_no_color_has_colors(tmp_path) -> None:
    """The control case for the two tests above: the same command on a terminal is colored."""
    printed = run_on_terminal(COLORED_COMMAND, color_env(tmp_path))

    assert color_codes(printed) != set()
