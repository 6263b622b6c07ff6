"""Invalid job names and namespaces are usage errors (exit 2), and nothing reaches the cluster.

An empty job name would make the collection path (`DELETE .../trainjobs/`), and a value
with bytes that are not UTF-8 must not end in UnicodeEncodeError. Each test checks the exit
code, the one error line and, through the emulator's request log, that no request was sent.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from kfctl_ai.core.cluster import Cluster
from kfctl_ai.core.config import Settings
from kfctl_ai.core.errors import UsageError
from kfctl_ai.core.jobs import delete_job, get_job, wait_for_job
from kfctl_ai.core.logs import follow_log_batches, read_logs
from kfctl_ai.core.names import validate_namespace, validate_trainjob_name
from tests.kfai_runner import clean_env, run_kfai

# The lone surrogate Python makes of the byte 0xff in argv; subprocess turns it back into 0xff.
NOT_UTF8 = os.fsdecode(b"\xff")


def error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def assert_usage_error(result, message: str) -> None:
    assert result.code == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "UnicodeEncodeError" not in result.stderr
    lines = error_lines(result)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {message}"), lines[0]
    assert "hint:" in result.stderr


def write_config(home: Path, **settings: object) -> Path:
    path = home / ".config" / "kfai" / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(settings))
    return path


# --- the rules ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "job-1", "llama-3-2-1b-alpaca-5c1e9", "a" * 63])
def test_valid_trainjob_names(name):
    assert validate_trainjob_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "Foo", "a/b", "a,b", "1job", "job-", "-job", "job.v1", "job_1", "a" * 64, "job\n", "../x", NOT_UTF8, None],
)
def test_invalid_trainjob_names(name):
    with pytest.raises(UsageError) as raised:
        validate_trainjob_name(name)

    assert raised.value.message.startswith(f"invalid TrainJob name {name!r}: ")
    assert "RFC 1035" in raised.value.message


@pytest.mark.parametrize("namespace", ["default", "team-a", "1team", "a" * 63])
def test_valid_namespaces(namespace):
    assert validate_namespace(namespace) == namespace


@pytest.mark.parametrize("namespace", ["", "Team_A", "team.a", "team-", "a" * 64, f"abc{NOT_UTF8}", "team a", 7])
def test_invalid_namespaces(namespace):
    with pytest.raises(UsageError) as raised:
        validate_namespace(namespace)

    assert raised.value.message.startswith(f"invalid namespace {namespace!r}: ")


def test_message_escapes_surrogates():
    with pytest.raises(UsageError) as raised:
        validate_namespace(f"abc{NOT_UTF8}")

    raised.value.message.encode("utf-8")  # raises UnicodeEncodeError if the surrogate is kept
    assert "'abc\\udcff'" in raised.value.message


def test_settings_reject_invalid_namespace():
    # Plan steps and the MCP plugin build settings with `with_overrides`, not `load_settings`.
    with pytest.raises(UsageError):
        Settings(namespace="Team_A")
    with pytest.raises(UsageError):
        Settings().with_overrides(namespace="a/b")


# --- job names on the command line -------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["jobs", "show", ""],
        ["jobs", "show", "", "-o", "json"],
        ["jobs", "wait", "", "--timeout", "1"],
        ["jobs", "delete", "", "--dry-run"],
        ["logs", ""],
        ["logs", "", "-f"],
    ],
)
def test_empty_job_name_exits_2(cluster, kfai, command):
    cluster.seed_trainjobs(2)
    cluster.store.clear_requests()

    result = kfai(*command)

    assert_usage_error(result, "invalid TrainJob name '': it must be 1 to 63 lower-case letters")
    assert cluster.store.requests == []


def test_empty_name_delete_sends_nothing(cluster, kfai):
    cluster.seed_trainjobs(2)
    cluster.store.clear_requests()

    result = kfai("--persona", "platform-admin", "jobs", "delete", "", "--yes", "-o", "json")

    assert_usage_error(result, "invalid TrainJob name ''")
    document = json.loads(result.stdout)
    assert document["exit_code"] == 2
    assert document["error"] == "invalid_input"
    assert cluster.store.count_requests("DELETE") == 0
    assert len(cluster.store.list("trainjobs", "default").items) == 2


@pytest.mark.parametrize(
    "command",
    [
        ["jobs", "show", "Foo"],
        ["jobs", "show", "a/b"],
        ["jobs", "wait", "a/b", "--timeout", "1"],
        ["--persona", "platform-admin", "jobs", "delete", "Foo", "--yes"],
        ["logs", "a,b"],
        ["logs", "UPPER", "-f"],
    ],
)
def test_malformed_job_name_exits_2(cluster, kfai, command):
    result = kfai(*command)

    assert_usage_error(result, "invalid TrainJob name ")
    assert cluster.store.requests == []


def test_not_utf8_job_name_exits_2(cluster, kfai):
    result = kfai("jobs", "show", NOT_UTF8, "-o", "json")

    assert_usage_error(result, "invalid TrainJob name '\\udcff'")
    assert json.loads(result.stdout)["exit_code"] == 2
    assert cluster.store.requests == []


def test_valid_job_name_still_shown(cluster, kfai):
    cluster.seed_trainjobs(1)
    name = cluster.store.list("trainjobs", "default").items[0]["metadata"]["name"]

    result = kfai("jobs", "show", name, "-o", "json")

    assert result.code == 0, result.stderr
    assert result.json()["job"]["name"] == name


def test_empty_name_without_kubeconfig_exits_2(offline):
    result = offline("jobs", "show", "")

    assert_usage_error(result, "invalid TrainJob name ''")


# --- job names through the core, as `kfai ask` and the MCP plugin call it ------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda client: get_job(client, ""),
        lambda client: wait_for_job(client, "", timeout=1),
        lambda client: delete_job(client, ""),
        lambda client: client.delete_trainjob(""),
        lambda client: client.get_trainjob("a/b"),
        lambda client: read_logs(client, ""),
        lambda client: list(follow_log_batches(client, "a,b", wait_timeout=1)),
    ],
)
def test_core_rejects_invalid_job_name(cluster, call):
    client = Cluster(kubeconfig=str(cluster.kubeconfig))
    cluster.store.clear_requests()

    with pytest.raises(UsageError):
        call(client)

    assert cluster.store.requests == []


# --- local job names ---------------------------------------------------------------------


def test_local_name_cannot_leave_jobs_folder(tmp_path):
    env = clean_env(tmp_path)
    # A complete job folder next to local-jobs/, where `../outside` points once local-jobs/ exists.
    (tmp_path / ".state" / "kfai" / "local-jobs").mkdir(parents=True)
    outside = tmp_path / ".state" / "kfai" / "outside"
    outside.mkdir()
    (outside / "output.log").write_text("line from outside the jobs folder\n")
    status = {
        "name": "outside", "status": "Complete", "script": "x.py", "command": ["python", "x.py"], "cwd": str(tmp_path),
        "processes": 1, "created": "2026-01-01T00:00:00Z", "log": str(outside / "output.log"),
    }
    (outside / "status.json").write_text(json.dumps(status))

    result = run_kfai("logs", "../outside", "--local", env=env)

    assert_usage_error(result, "invalid local job name '../outside'")
    assert "line from outside" not in result.stdout


def test_local_run_rejects_traversal_name(tmp_path):
    env = clean_env(tmp_path)
    script = tmp_path / "ok.py"
    script.write_text("print('ok')\n")

    result = run_kfai("train", str(script), "--local", "--name", "../x", env=env)

    assert_usage_error(result, "invalid local job name '../x'")
    assert not (tmp_path / ".state" / "kfai" / "x").exists()


# --- namespaces --------------------------------------------------------------------------


@pytest.mark.parametrize("namespace", ["Team_A", "", NOT_UTF8])
def test_namespace_flag_invalid_exits_2(cluster, kfai, namespace):
    result = kfai("-n", namespace, "jobs")

    assert_usage_error(result, f"invalid namespace {namespace!r} from -n/--namespace")
    assert cluster.store.requests == []


def test_namespace_env_invalid_exits_2(cluster, tmp_path):
    env = clean_env(tmp_path, cluster.kubeconfig, KFAI_NAMESPACE="Team_A")

    result = run_kfai("jobs", env=env)

    assert_usage_error(result, "invalid namespace 'Team_A' from KFAI_NAMESPACE")
    assert cluster.store.requests == []


def test_namespace_file_invalid_exits_2(cluster, kfai, tmp_path):
    path = write_config(tmp_path, namespace="Team_A")

    result = kfai("jobs")

    assert_usage_error(result, f"invalid namespace 'Team_A' in config file {path}")
    assert cluster.store.requests == []


def test_namespace_file_invalid_can_be_unset(kfai, tmp_path):
    path = write_config(tmp_path, namespace="Team_A", persona="ml-engineer")

    result = kfai("-n", "default", "config", "unset", "namespace")

    assert result.code == 0, result.stderr
    assert yaml.safe_load(path.read_text()) == {"persona": "ml-engineer"}
    assert kfai("jobs").code == 0


def test_flag_overrides_invalid_file_namespace(kfai, tmp_path):
    write_config(tmp_path, namespace="Team_A")

    result = kfai("-n", "team-a", "jobs", "-o", "json")

    assert result.code == 0, result.stderr
    assert result.json()["namespace"] == "team-a"


def test_context_namespace_invalid_exits_2(cluster, tmp_path):
    document = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    document["contexts"][0]["context"]["namespace"] = "Team_A"
    kubeconfig = tmp_path / "bad-namespace.yaml"
    kubeconfig.write_text(yaml.safe_dump(document))

    result = run_kfai("jobs", env=clean_env(tmp_path, kubeconfig))

    assert_usage_error(result, "invalid namespace 'Team_A' in context ")
    assert cluster.store.requests == []


@pytest.mark.parametrize("value", ["Team_A", f"abc{NOT_UTF8}", "", "a/b"])
def test_config_set_namespace_rejects_without_writing(offline, tmp_path, value):
    result = offline("config", "set", "namespace", value)

    assert_usage_error(result, f"invalid namespace {value!r}")
    assert not (tmp_path / ".config" / "kfai" / "config.yaml").exists()


def test_config_set_namespace_keeps_old_value(offline, tmp_path):
    path = write_config(tmp_path, namespace="team-a")

    result = offline("config", "set", "namespace", "Team_A")

    assert result.code == 2
    assert yaml.safe_load(path.read_text()) == {"namespace": "team-a"}


def test_config_set_valid_namespace_writes(offline, tmp_path):
    result = offline("config", "set", "namespace", "team-b")

    assert result.code == 0, result.stderr
    assert yaml.safe_load((tmp_path / ".config" / "kfai" / "config.yaml").read_text()) == {"namespace": "team-b"}


@pytest.mark.parametrize("name", ["", "ab\n", "Bad_Name"])
def test_fine_tune_rejects_invalid_name(cluster, kfai, name):
    result = kfai("fine-tune", "llama 3.2 1b", "--dataset", "alpaca", "--name", name, "--yes")

    assert result.code == 2
    assert f"invalid TrainJob name {name!r}" in result.stderr
    assert cluster.store.count_requests("POST", "/apis/trainer.kubeflow.org") == 0
