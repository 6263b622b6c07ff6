"""Settings come from the config file, then KFAI_* variables, then flags; the namespace as kubectl picks it.

`kfai config view -o json` reports each setting's value and the level it came from; the
other tests check that commands act on the winning value.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.test_output_schemas import kfai, kfai_offline  # noqa: F401  (fixtures)


def write_config(home: Path, **settings: object) -> Path:
    path = home / ".config" / "kfai" / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(settings))
    return path


def viewed(kfai, *args: str) -> dict:
    result = kfai("config", "view", "-o", "json", *args)
    assert result.code == 0, result.stderr
    return result.json()["settings"]


# --- levels -----------------------------------------------------------------------------


def test_default_level(kfai_offline) -> None:
    settings = viewed(kfai_offline)

    assert settings["persona"] == {"value": "data-scientist", "source": "default"}
    assert settings["namespace"] == {"value": None, "source": "default"}
    assert settings["no_input"] == {"value": False, "source": "default"}


def test_view_table_spells_values_as_config(kfai_offline) -> None:
    result = kfai_offline("--no-input", "config", "view")
    lines = result.stdout.splitlines()

    assert result.code == 0
    assert "namespace: (not set)  (default)" in lines
    assert "no_input: true  (flag)" in lines
    assert "None" not in result.stdout
    assert "True" not in result.stdout


def test_file_level(kfai_offline, tmp_path) -> None:
    write_config(tmp_path, persona="ml-engineer", llm_model="ollama/llama3.2")

    settings = viewed(kfai_offline)

    assert settings["persona"] == {"value": "ml-engineer", "source": "file"}
    assert settings["llm_model"] == {"value": "ollama/llama3.2", "source": "file"}


def test_env_overrides_file(kfai_offline, tmp_path, monkeypatch) -> None:
    write_config(tmp_path, persona="ml-engineer")
    monkeypatch.setenv("KFAI_PERSONA", "platform-admin")

    settings = viewed(kfai_offline)

    assert settings["persona"] == {"value": "platform-admin", "source": "env KFAI_PERSONA"}


def test_flag_overrides_env(kfai_offline, tmp_path, monkeypatch) -> None:
    write_config(tmp_path, persona="ml-engineer")
    monkeypatch.setenv("KFAI_PERSONA", "platform-admin")

    settings = viewed(kfai_offline, "--persona", "readonly")

    assert settings["persona"] == {"value": "readonly", "source": "flag"}


def test_env_boolean(kfai_offline, monkeypatch) -> None:
    monkeypatch.setenv("KFAI_NO_INPUT", "yes")

    settings = viewed(kfai_offline)

    assert settings["no_input"] == {"value": True, "source": "env KFAI_NO_INPUT"}


def test_config_set_writes_file_level(kfai_offline, tmp_path) -> None:
    assert kfai_offline("config", "set", "namespace", "team-a").code == 0

    settings = viewed(kfai_offline)

    assert settings["namespace"] == {"value": "team-a", "source": "file"}
    assert yaml.safe_load((tmp_path / ".config" / "kfai" / "config.yaml").read_text()) == {"namespace": "team-a"}


# --- each level acts ------------------------------------------------------------------


def test_output_format_follows_levels(kfai_offline, tmp_path, monkeypatch) -> None:
    write_config(tmp_path, output="json")
    assert kfai_offline("history").json()["entries"] == []

    monkeypatch.setenv("KFAI_OUTPUT", "yaml")
    assert yaml.safe_load(kfai_offline("history").stdout)["entries"] == []

    assert kfai_offline("history", "-o", "json").json()["entries"] == []


def test_namespace_follows_levels(kfai, tmp_path, monkeypatch) -> None:
    def listed_namespace(*args: str) -> str:
        result = kfai("jobs", "-o", "json", *args)
        assert result.code == 0, result.stderr
        return result.json()["namespace"]

    assert listed_namespace() == "default"

    write_config(tmp_path, namespace="from-file")
    assert listed_namespace() == "from-file"

    monkeypatch.setenv("KFAI_NAMESPACE", "from-env")
    assert listed_namespace() == "from-env"

    assert listed_namespace("-n", "from-flag") == "from-flag"


def test_persona_from_file_is_enforced(cluster, kfai, tmp_path) -> None:
    write_config(tmp_path, persona="readonly")

    result = kfai("fine-tune", "llama 3.2 1b", "--dataset", "alpaca", "--yes")

    assert result.code == 6
    assert "readonly" in result.stderr
    assert cluster.store.list("trainjobs", "default").items == []


# --- invalid values ---------------------------------------------------------------------


def test_invalid_env_value_exits_2(kfai_offline, monkeypatch) -> None:
    monkeypatch.setenv("KFAI_OUTPUT", "xml")

    result = kfai_offline("history")

    assert result.code == 2
    assert "invalid output format 'xml'" in result.stderr


def test_unknown_file_key_exits_2(kfai_offline, tmp_path) -> None:
    write_config(tmp_path, namespcae="team-a")

    result = kfai_offline("history")

    assert result.code == 2
    assert "namespcae" in result.stderr
    assert "known keys" in result.stderr


# --- kubeconfig contexts ------------------------------------------------------------------


@pytest.fixture
def two_contexts(cluster, tmp_path) -> Path:
    """A kubeconfig for the emulated cluster with contexts `team-a` (current) and `team-b`, and one without a namespace."""
    document = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    base = document["contexts"][0]["context"]
    document["contexts"] = [
        {"name": "team-a", "context": {**base, "namespace": "team-a"}},
        {"name": "team-b", "context": {**base, "namespace": "team-b"}},
        {"name": "no-namespace", "context": {key: value for key, value in base.items() if key != "namespace"}},
    ]
    document["current-context"] = "team-a"
    path = tmp_path / "two-contexts.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def namespace_of(kfai, *args: str) -> str:
    result = kfai("jobs", "-o", "json", *args)
    assert result.code == 0, result.stderr
    return result.json()["namespace"]


def test_namespace_from_current_context(kfai, two_contexts, monkeypatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(two_contexts))

    assert namespace_of(kfai) == "team-a"


def test_context_flag_picks_its_namespace(kfai, two_contexts) -> None:
    assert namespace_of(kfai, "--kubeconfig", str(two_contexts), "--context", "team-b") == "team-b"


def test_context_from_env(kfai, two_contexts, monkeypatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(two_contexts))
    monkeypatch.setenv("KFAI_CONTEXT", "team-b")

    assert namespace_of(kfai) == "team-b"


def test_context_without_namespace_uses_default(kfai, two_contexts) -> None:
    assert namespace_of(kfai, "--kubeconfig", str(two_contexts), "--context", "no-namespace") == "default"


def test_namespace_flag_overrides_context(kfai, two_contexts) -> None:
    assert namespace_of(kfai, "--kubeconfig", str(two_contexts), "--context", "team-b", "-n", "team-c") == "team-c"


def test_kubeconfig_flag_overrides_env(kfai, two_contexts, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing.yaml"))

    assert namespace_of(kfai, "--kubeconfig", str(two_contexts)) == "team-a"


def test_unknown_context_exits_5(kfai, two_contexts) -> None:
    result = kfai("--kubeconfig", str(two_contexts), "--context", "team-z", "jobs")

    assert result.code == 5
    assert "team-z" in result.stderr
