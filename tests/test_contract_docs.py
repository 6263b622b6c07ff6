"""The docs stay true: the reference is regenerated, and AGENTS.md's examples run as written.

docs/reference.md is rebuilt in memory from the command tree and compared with the
checked-in page. Every `$ kfai ...  # exit N` line of docs/AGENTS.md runs, in order,
against one emulated cluster and must exit with N. The plugin example of docs/plugins.md
is installed and run.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import tomllib
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest

from kfctl_ai.core.config import SETTING_KEYS
from kfctl_ai.core.errors import ExitCode
from tests.test_output_schemas import REPO_ROOT, kfai, single_json_document  # noqa: F401  (kfai is a fixture)

DOCS = REPO_ROOT / "docs"
GENERATOR_PATH = REPO_ROOT / "scripts" / "generate_docs.py"
GENERATOR_COMMAND = "python scripts/generate_docs.py"
FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<language>[\w-]*)[ \t]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.DOTALL | re.MULTILINE)
EXIT_COMMENT = re.compile(r"#\s*exit\s+(?P<code>\d+)\s*$")


@cache
def load_generator() -> ModuleType:
    """Import scripts/generate_docs.py, which is a script and not part of the package."""
    spec = importlib.util.spec_from_file_location("generate_docs", GENERATOR_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def code_blocks(path: Path, language: str) -> list[str]:
    """The bodies of the fenced code blocks of `language` in a Markdown file, indentation removed."""
    blocks = []
    for match in FENCE.finditer(path.read_text(encoding="utf-8")):
        if match.group("language") == language:
            indent = len(match.group("indent"))
            blocks.append("\n".join(line[indent:] for line in match.group("body").splitlines()))
    return blocks


def console_commands(path: Path) -> list[tuple[str, list[str], int | None]]:
    """Each `$ kfai ...` line of the console blocks: the line, its arguments and its `# exit N`."""
    commands = []
    for block in code_blocks(path, "console"):
        for line in block.splitlines():
            if not line.startswith("$ kfai "):
                continue
            marked = EXIT_COMMENT.search(line)
            args = shlex.split(line[len("$ kfai "):], comments=True)
            commands.append((line, args, int(marked.group("code")) if marked else None))
    return commands


# --- the generated reference ---------------------------------------------------------------


def test_reference_up_to_date() -> None:
    generator = load_generator()

    expected = generator.render_reference(generator.build_root())

    checked_in = (DOCS / "reference.md").read_text(encoding="utf-8")
    assert checked_in == expected, f"docs/reference.md is stale: run `{GENERATOR_COMMAND}`"


def test_reference_covers_every_command() -> None:
    from kfctl_ai.cli.tree import walk

    generator = load_generator()
    root = generator.build_root()

    page = generator.render_reference(root)

    for info in walk(root):
        assert f"\n## kfai {info.path}\n\nRisk: `{info.risk}`\n" in page
    for param in root.params:
        if param.name != "help":
            assert f"`{param.opts[-1]}`" in page


def test_reference_splits_example_from_help() -> None:
    generator = load_generator()

    description, example = generator.split_help("Do a thing.\n\nExits 3 when it fails. Example: kfai thing --now")

    assert description == "Do a thing.\n\nExits 3 when it fails."
    assert example == "kfai thing --now"


# --- AGENTS.md -----------------------------------------------------------------------------


def test_agents_examples_marked_with_exit_codes() -> None:
    commands = console_commands(DOCS / "AGENTS.md")

    assert len(commands) >= 10
    unmarked = [line for line, _, code in commands if code is None]
    assert unmarked == [], "add `# exit N` to these AGENTS.md lines"


def test_agents_examples_exit_as_written(kfai) -> None:
    failures = []
    for line, args, expected in console_commands(DOCS / "AGENTS.md"):
        result = kfai(*args)
        if result.code != expected:
            failures.append(f"{line}\n    exited {result.code}: {result.stderr.strip()[:300]}")
            continue
        if "-o" in args and args[args.index("-o") + 1] == "json":
            try:
                single_json_document(result.stdout)
            except (AssertionError, json.JSONDecodeError) as error:
                failures.append(f"{line}\n    stdout is not one JSON document: {error}")

    assert failures == [], "AGENTS.md examples that do not behave as written:\n" + "\n".join(failures)


def test_agents_exit_code_table_complete() -> None:
    text = (DOCS / "AGENTS.md").read_text(encoding="utf-8")
    section = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]

    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", section, re.MULTILINE)}

    assert documented == {int(code) for code in ExitCode}


# --- every doc ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["AGENTS.md", "plugins.md"])
def test_python_examples_compile(name: str) -> None:
    blocks = code_blocks(DOCS / name, "python")

    assert blocks
    for number, block in enumerate(blocks):
        compile(block, f"docs/{name} python block {number}", "exec")


@pytest.mark.parametrize("path", sorted(DOCS.glob("*.md")), ids=lambda path: path.name)
def test_json_examples_parse(path: Path) -> None:
    for block in code_blocks(path, "json"):
        json.loads(block)


@pytest.mark.parametrize("path", sorted(DOCS.glob("*.md")), ids=lambda path: path.name)
def test_relative_links_resolve(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
        assert (path.parent / target).exists(), f"{path.name} links to missing {target}"


def test_configuration_lists_every_setting() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")

    for key in SETTING_KEYS:
        assert f"| `{key}` | `KFAI_{key.upper()}` |" in text, f"docs/configuration.md does not document {key}"
    assert "KFAI_PLUGINS" in text


def test_plugins_doc_names_the_contract() -> None:
    from kfctl_ai.cli.plugins import ENTRY_POINT_GROUP

    text = (DOCS / "plugins.md").read_text(encoding="utf-8")

    assert f"`{ENTRY_POINT_GROUP}`" in text
    assert "`register(app)`" in text
    assert "KFAI_PLUGINS" in text


def test_plugins_doc_example_runs(cluster, kfai, tmp_path, monkeypatch) -> None:
    """Install the plugin that docs/plugins.md shows and run its command."""
    from kfctl_ai.cli.app import build_command

    [module_source] = code_blocks(DOCS / "plugins.md", "python")
    [pyproject] = code_blocks(DOCS / "plugins.md", "toml")
    project = tomllib.loads(pyproject)["project"]
    [(entry_name, entry_value)] = project["entry-points"]["kfctl_ai.plugins"].items()
    module_name = entry_value.split(":")[0]

    (tmp_path / f"{module_name}.py").write_text(module_source)
    dist_info = tmp_path / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    (dist_info / "entry_points.txt").write_text(f"[kfctl_ai.plugins]\n{entry_name} = {entry_value}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("KFAI_PLUGINS", entry_name)
    cluster.store.add_resource_quota("default", "gpu-quota", {"requests.nvidia.com/gpu": "8"})
    build_command.cache_clear()
    try:
        result = kfai(entry_name, "-o", "json")
        listing = kfai("commands", "-o", "json")
    finally:
        build_command.cache_clear()

    assert result.code == 0, result.stderr
    assert "warning" not in result.stderr
    rows = result.json()["quotas"]
    assert rows == [{"quota": "gpu-quota", "resource": "requests.nvidia.com/gpu", "used": "0", "hard": "8"}]
    listed = next(item for item in listing.json()["commands"] if item["command"] == entry_name)
    assert listed["risk"] == "read"
