"""Settings from the config file, then `KFAI_*` environment variables, then flags.

The file is `$XDG_CONFIG_HOME/kfai/config.yaml` (default `~/.config/kfai/config.yaml`).
Secrets never live here: the LLM API key stays in the provider's own environment
variable (`OPENAI_API_KEY`, ...), which litellm reads itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from kfctl_ai.core.errors import UsageError
from kfctl_ai.core.names import validate_namespace
from kfctl_ai.core.personas import PERSONAS

OUTPUT_FORMATS = ("table", "json", "yaml")


@dataclass(frozen=True)
class Settings:
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None
    output: str = "table"
    persona: str = "data-scientist"
    yes: bool = False
    no_input: bool = False
    debug: bool = False
    llm_model: str | None = None
    llm_api_base: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.output not in OUTPUT_FORMATS:
            raise UsageError(
                f"invalid output format '{self.output}'",
                hint=f"use one of: {', '.join(OUTPUT_FORMATS)}",
            )
        if self.persona not in PERSONAS:
            raise UsageError(
                f"invalid persona '{self.persona}'",
                hint=f"use one of: {', '.join(PERSONAS)}",
            )
        if self.namespace is not None:
            validate_namespace(self.namespace)

    def with_overrides(self, **overrides: Any) -> "Settings":
        """Return a copy where every override that is not None replaces the current value."""
        changes = {key: value for key, value in overrides.items() if value is not None}
        return replace(self, **changes)


SETTING_KEYS = tuple(f.name for f in fields(Settings) if f.name not in {"extra", "yes", "debug"})
_BOOLEAN_KEYS = {"no_input"}


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "kfai" / "config.yaml"


def read_config_file(path: Path | None = None) -> dict[str, Any]:
    """Read the config file; a missing file is an empty config, a broken one an error."""
    path = path or config_path()
    if not path.exists():
        return {}

    import yaml

    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise UsageError(
            f"invalid YAML in config file {path}: {exc}",
            hint="fix the file or remove it; `kfai config view` shows what kfai reads",
        ) from exc
    if not isinstance(data, dict):
        raise UsageError(f"config file {path} must contain a mapping of keys to values")

    unknown = sorted(set(data) - set(SETTING_KEYS))
    if unknown:
        raise UsageError(
            f"unknown key(s) in config file {path}: {', '.join(unknown)}",
            hint=f"known keys: {', '.join(SETTING_KEYS)}",
        )
    return data


def _parse_bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise UsageError(f"invalid boolean '{value}' in {name}", hint="use true or false")


def read_environment(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Read `KFAI_<KEY>` variables, for example `KFAI_NAMESPACE` and `KFAI_LLM_MODEL`."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for key in SETTING_KEYS:
        variable = f"KFAI_{key.upper()}"
        if variable in environ:
            raw = environ[variable]
            values[key] = _parse_bool(variable, raw) if key in _BOOLEAN_KEYS else raw
    return values


def load_settings(**flags: Any) -> Settings:
    """Merge file, environment and flags; a flag left as None does not override."""
    file_values = read_config_file()
    env_values = read_environment()
    flag_values = {key: value for key, value in flags.items() if value is not None}
    _check_namespace(file_values, env_values, flag_values)
    return Settings(**{**file_values, **env_values, **flag_values})


def _check_namespace(file_values: dict[str, Any], env_values: dict[str, Any], flag_values: dict[str, Any]) -> None:
    """Validate the namespace that wins, with a message that names where it came from.

    Only the winning value counts, so `kfai -n team-a config unset namespace` still runs
    when the file contains an invalid one.
    """
    if "namespace" in flag_values:
        validate_namespace(flag_values["namespace"], source="from -n/--namespace")
    elif "namespace" in env_values:
        validate_namespace(
            env_values["namespace"],
            source="from KFAI_NAMESPACE",
            hint="set KFAI_NAMESPACE to an existing namespace, or unset it",
        )
    elif file_values.get("namespace") is not None:
        path = config_path()
        validate_namespace(
            file_values["namespace"],
            source=f"in config file {path}",
            hint=f"fix or remove the `namespace` line in {path}, or run `kfai -n default config unset namespace`",
        )


def check_key(key: str) -> None:
    if key not in SETTING_KEYS:
        import difflib

        close = difflib.get_close_matches(key, SETTING_KEYS, n=1)
        raise UsageError(
            f"unknown setting '{key}'" + (f"; did you mean '{close[0]}'?" if close else ""),
            hint=f"known settings: {', '.join(SETTING_KEYS)}",
        )


def effective_settings(settings: Settings) -> dict[str, dict[str, Any]]:
    """Return each setting's value and its source: flag, env, file or default."""
    file_values = read_config_file()
    env_values = read_environment()
    defaults = Settings()
    result: dict[str, dict[str, Any]] = {}
    for key in SETTING_KEYS:
        value = getattr(settings, key)
        if key in env_values:
            below, source = env_values[key], f"env KFAI_{key.upper()}"
        elif key in file_values:
            below, source = file_values[key], "file"
        else:
            below, source = getattr(defaults, key), "default"
        result[key] = {"value": value, "source": source if value == below else "flag"}
    return result


def write_setting(key: str, value: str | None, path: Path | None = None) -> Path:
    """Set (or, with None, remove) one key in the config file, validating the result."""
    import yaml

    check_key(key)
    path = path or config_path()
    data = read_config_file(path)
    if value is None:
        data.pop(key, None)
    else:
        if key == "namespace":
            validate_namespace(value, hint="set an existing namespace, for example `kfai config set namespace team-a`")
        data[key] = _parse_bool(key, value) if key in _BOOLEAN_KEYS else value
    Settings(**data)  # reject an invalid output format, persona or namespace before writing
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=True))
    return path
