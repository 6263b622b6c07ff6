"""Plugins: an installed distribution adds commands; a broken one is a warning; KFAI_PLUGINS filters.

The fake distribution in tests/data/fake_plugin is "installed" by putting its folder on
`sys.path` (or PYTHONPATH): its `.dist-info` folder is what `importlib.metadata` reads,
exactly as for a wheel installed into site-packages.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kfctl_ai.cli import plugins
from kfctl_ai.cli.app import build_command
from tests.kfai_runner import clean_env, run_kfai
from tests.test_output_schemas import kfai_offline  # noqa: F401  (a fixture)

FAKE_PLUGIN_DIR = Path(__file__).resolve().parent / "data" / "fake_plugin"
BROKEN_WARNING = "warning: plugin 'broken'"


@pytest.fixture
def fake_plugin(monkeypatch) -> Iterator[None]:
    """Install the fake plugin distribution for this test; the command tree is rebuilt around it."""
    monkeypatch.syspath_prepend(str(FAKE_PLUGIN_DIR))
    monkeypatch.setattr(plugins, "LOADED", [])
    build_command.cache_clear()
    yield
    build_command.cache_clear()


def test_plugin_adds_command(fake_plugin, kfai_offline) -> None:
    result = kfai_offline("hello", "agent", "-o", "json")

    assert result.code == 0, result.stderr
    assert result.json() == {"greeting": "hello agent"}


def test_plugin_command_listed_with_risk(fake_plugin, kfai_offline) -> None:
    listing = kfai_offline("commands", "-o", "json").json()

    hello = next(item for item in listing["commands"] if item["command"] == "hello")
    assert hello["risk"] == "read"
    assert hello["params"][0]["name"] == "name"


def test_broken_plugin_is_a_warning(fake_plugin, kfai_offline) -> None:
    result = kfai_offline("hello", "-o", "json")

    assert result.code == 0, result.stderr
    assert BROKEN_WARNING in result.stderr
    assert "the broken plugin failed on purpose" in result.stderr
    assert "Traceback" not in result.stderr
    # The warning stays on stderr: stdout is still one JSON document.
    assert result.json() == {"greeting": "hello world"}


def test_broken_plugin_recorded_as_not_loaded(fake_plugin, kfai_offline) -> None:
    kfai_offline("commands", "-o", "json")

    status = {entry.name: entry for entry in plugins.LOADED if entry.source == "kfai-fake-plugin"}
    assert status["fake"].loaded
    assert not status["broken"].loaded
    assert "RuntimeError" in (status["broken"].error or "")


def test_kfai_plugins_limits_loading(fake_plugin, kfai_offline, monkeypatch) -> None:
    monkeypatch.setenv("KFAI_PLUGINS", "fake")

    result = kfai_offline("hello", "-o", "json")

    assert result.code == 0, result.stderr
    assert BROKEN_WARNING not in result.stderr


def test_kfai_plugins_none_loads_nothing(fake_plugin, kfai_offline, monkeypatch) -> None:
    monkeypatch.setenv("KFAI_PLUGINS", "none")

    result = kfai_offline("hello")

    assert result.code == 2
    assert BROKEN_WARNING not in result.stderr
    assert "No such command 'hello'" in result.stderr


def test_builtin_commands_survive_plugins(fake_plugin, kfai_offline) -> None:
    result = kfai_offline("runtimes", "-o", "json")

    assert result.code == 0, result.stderr
    assert result.json()["source"] == "upstream"


def test_installed_kfai_finds_plugin(tmp_path) -> None:
    """The console script finds the entry points the same way, through PYTHONPATH."""
    python_path = os.pathsep.join(filter(None, [str(FAKE_PLUGIN_DIR), os.environ.get("PYTHONPATH")]))
    env = clean_env(tmp_path, PYTHONPATH=python_path)

    result = run_kfai("hello", "shell", env=env)

    assert result.code == 0, result.stderr
    assert result.stdout.strip() == "hello shell"
    assert BROKEN_WARNING in result.stderr


def test_every_builtin_module_loads(tmp_path) -> None:
    # A fresh process, because an annotation naming a type that only exists for type
    # checkers fails when the module is first imported and registered.
    result = run_kfai("commands", "-o", "json", env=clean_env(tmp_path, KFAI_PLUGINS="none"))
    groups = {command["command"].split()[0] for command in result.json()["commands"]}

    assert result.code == 0
    assert "warning" not in result.stderr
    assert {"runtimes", "preflight", "fine-tune", "train", "logs", "jobs", "ask", "cluster", "history", "config", "commands"} <= groups
