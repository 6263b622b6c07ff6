"""The kfai-mcp plugin: `kfai mcp serve` driven by the MCP SDK's own client.

Every server runs as a `kfai` subprocess against the emulated cluster, over stdio or over
streamable HTTP on 127.0.0.1, the way an agent's MCP client starts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import re
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp")

import httpx  # noqa: E402  (installed with mcp)
from mcp import ClientSession, StdioServerParameters  # noqa: E402
from mcp.client.stdio import stdio_client  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

from tests.kfai_runner import KFAI, clean_env, run_kfai  # noqa: E402

TOKEN = "test-token-5f0c2a"
TOKEN_VARIABLE = "KFAI_TEST_MCP_TOKEN"
SERVER_START_TIMEOUT = 30


@pytest.fixture
def env(cluster, tmp_path) -> dict[str, str]:
    return clean_env(tmp_path, cluster.kubeconfig)


@contextlib.asynccontextmanager
async def stdio_session(env: dict[str, str], *args: str, errlog: Path) -> AsyncIterator[ClientSession]:
    """Start `kfai mcp serve --transport stdio ARGS` and yield an initialized client session."""
    params = StdioServerParameters(command=KFAI, args=["mcp", "serve", "--transport", "stdio", *args], env=env)
    with errlog.open("a") as log:
        async with stdio_client(params, errlog=log) as (read_stream, write_stream):
            async with ClientSession(read_stream, write_stream) as session:
                await session.initialize()
                yield session


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


async def call(session: ClientSession, name: str, arguments: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    result = await session.call_tool(name, arguments)
    return result.isError, result.structuredContent or {}


async def tool_names(session: ClientSession) -> set[str]:
    return {tool.name for tool in (await session.list_tools()).tools}


def trainjob_names(cluster) -> list[str]:
    return [job["metadata"]["name"] for job in cluster.store.list("trainjobs", "default").items]


# ----------------------------------------------------------------------------------------------
# Tools and personas


def test_readonly_lists_only_read_tools(env, tmp_path):
    async def scenario() -> set[str]:
        async with stdio_session(env, "--persona", "readonly", errlog=tmp_path / "server.log") as session:
            return await tool_names(session)

    names = run(scenario())

    assert {"runtimes", "runtimes_show", "jobs", "jobs_show", "jobs_wait", "logs", "preflight"} <= names
    assert "fine_tune" not in names
    assert "jobs_delete" not in names
    assert "ask" not in names
    assert "config_set" not in names


def test_data_scientist_tools_have_schemas_and_hints(env, tmp_path):
    async def scenario() -> dict[str, Any]:
        async with stdio_session(env, errlog=tmp_path / "server.log") as session:
            return {tool.name: tool for tool in (await session.list_tools()).tools}

    tools = run(scenario())

    assert {"fine_tune", "jobs_delete"} <= set(tools)
    fine_tune = tools["fine_tune"]
    assert fine_tune.inputSchema["required"] == ["model", "dataset"]
    assert fine_tune.inputSchema["properties"]["epochs"]["type"] == "integer"
    assert fine_tune.inputSchema["properties"]["method"]["enum"] == ["full", "lora", "qlora"]
    assert fine_tune.inputSchema["properties"]["confirmed"]["type"] == "boolean"
    assert "dry_run" not in fine_tune.inputSchema["properties"]
    assert fine_tune.annotations.readOnlyHint is False
    assert fine_tune.annotations.destructiveHint is False
    assert tools["jobs_delete"].annotations.destructiveHint is True
    assert tools["runtimes"].annotations.readOnlyHint is True
    assert "confirmed" not in tools["runtimes"].inputSchema["properties"]
    assert {"cursor", "limit", "tail"} <= set(tools["logs"].inputSchema["properties"])
    # `train --local` and the like would run on the server's machine, not on the cluster.
    assert [name for name, tool in tools.items() if "local" in tool.inputSchema["properties"]] == []


# ----------------------------------------------------------------------------------------------
# Preview, confirm, logs and errors


def test_fine_tune_previews_then_creates(cluster, env, tmp_path):
    arguments = {"model": "llama 3.2 1b", "dataset": "alpaca", "epochs": 2}

    async def scenario() -> tuple[Any, Any, list[str]]:
        async with stdio_session(env, errlog=tmp_path / "server.log") as session:
            preview = await call(session, "fine_tune", arguments)
            after_preview = trainjob_names(cluster)
            name = preview[1]["changes"][0]["name"]
            created = await call(session, "fine_tune", {**arguments, "name": name, "confirmed": True})
            return preview, created, after_preview

    (preview_error, preview), (created_error, created), after_preview = run(scenario())

    assert preview_error is False
    assert preview["status"] == "preview"
    assert preview["preflight"]["verdict"] == "fits"
    change = preview["changes"][0]
    assert change["action"] == "create"
    assert change["object"]["spec"]["runtimeRef"]["name"] == "torchtune-llama3.2-1b"
    assert "confirmed: true" in preview["hint"]
    assert after_preview == []

    assert created_error is False
    assert created["status"] == "created"
    assert created["job"] == change["name"]
    job = cluster.store.get("trainjobs", "default", change["name"])
    assert job["spec"]["runtimeRef"]["name"] == "torchtune-llama3.2-1b"
    assert job["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kfai"
    assert trainjob_names(cluster) == [change["name"]]


def test_logs_page_with_cursor_and_limit(cluster, env, tmp_path):
    cluster.store.script_logs("paged", [f"line {index}" for index in range(25)])

    async def scenario() -> list[tuple[bool, dict[str, Any]]]:
        async with stdio_session(env, errlog=tmp_path / "server.log") as session:
            created = await call(session, "fine_tune", {"model": "llama 3.2 1b", "dataset": "alpaca", "name": "paged", "confirmed": True})
            assert created[0] is False, created
            await asyncio.to_thread(cluster.wait_for_job, "paged")
            return [
                await call(session, "logs", {"job": "paged", "limit": 10}),
                await call(session, "logs", {"job": "paged", "limit": 10, "cursor": 10}),
                await call(session, "logs", {"job": "paged", "limit": 10, "cursor": 20}),
                await call(session, "logs", {"job": "paged", "tail": 5, "limit": 2, "cursor": 2}),
            ]

    pages = run(scenario())

    assert [error for error, _ in pages] == [False, False, False, False]
    first, second, last, tail = (page for _, page in pages)
    assert first["lines"] == [f"line {index}" for index in range(10)]
    assert first["next_cursor"] == 10
    assert first["total_lines"] == 25
    assert second["lines"] == [f"line {index}" for index in range(10, 20)]
    assert second["next_cursor"] == 20
    assert last["lines"] == [f"line {index}" for index in range(20, 25)]
    assert last["next_cursor"] is None
    assert tail["lines"] == ["line 22", "line 23"]
    assert tail["total_lines"] == 5


def test_errors_carry_message_hint_and_exit_code(env, tmp_path):
    async def scenario() -> dict[str, Any]:
        async with stdio_session(env, errlog=tmp_path / "server.log") as session:
            missing = await session.call_tool("jobs_show", {"job": "no-such-job"})
            return {
                "missing": (missing.isError, missing.structuredContent or {}, missing.content[0].text),
                "unknown_model": await call(session, "fine_tune", {"model": "no such model at all", "dataset": "alpaca"}),
                "unknown_argument": await call(session, "jobs_show", {"job": "a", "colour": "red"}),
            }

    outcomes = run(scenario())

    is_error, document, text = outcomes["missing"]
    assert is_error is True
    assert document["exit_code"] == 4
    assert "no-such-job" in document["message"]
    assert document["hint"]
    assert "no-such-job" in text
    unknown_error, unknown = outcomes["unknown_model"]
    assert unknown_error is True
    assert unknown["exit_code"] == 2
    assert "fine_tune" in unknown["message"]
    argument_error, argument = outcomes["unknown_argument"]
    assert argument_error is True
    assert argument["exit_code"] == 2
    assert "colour" in argument["message"]


def test_delete_previews_and_guards_foreign_jobs(cluster, env, tmp_path):
    foreign = cluster.seed_trainjobs(1, name_prefix="foreign")[0]

    async def scenario() -> dict[str, Any]:
        async with stdio_session(env, errlog=tmp_path / "server.log") as session:
            created = await call(session, "fine_tune", {"model": "llama 3.2 1b", "dataset": "alpaca", "name": "mine", "confirmed": True})
            assert created[0] is False, created
            outcomes = {"preview": await call(session, "jobs_delete", {"job": "mine"})}
            outcomes["after_preview"] = sorted(trainjob_names(cluster))
            outcomes["confirmed"] = await call(session, "jobs_delete", {"job": "mine", "confirmed": True})
            outcomes["foreign"] = await call(session, "jobs_delete", {"job": foreign, "confirmed": True})
            return outcomes

    outcomes = run(scenario())

    preview_error, preview = outcomes["preview"]
    assert preview_error is False
    assert preview["changes"][0]["action"] == "delete"
    assert outcomes["after_preview"] == sorted([foreign, "mine"])
    assert outcomes["confirmed"] == (False, {"status": "deleted", "job": "mine", "namespace": "default"})
    foreign_error, rejection = outcomes["foreign"]
    assert foreign_error is True
    assert rejection["exit_code"] == 6
    assert trainjob_names(cluster) == [foreign]


# ----------------------------------------------------------------------------------------------
# Progressive mode


def test_progressive_readonly_denies_fine_tune(cluster, env, tmp_path):
    fine_tune = {"model": "llama 3.2 1b", "dataset": "alpaca", "confirmed": True}

    async def scenario() -> dict[str, Any]:
        async with stdio_session(env, "--mode", "progressive", "--persona", "readonly", errlog=tmp_path / "server.log") as session:
            return {
                "names": await tool_names(session),
                "groups": await call(session, "list_tool_groups", {}),
                "described": await call(session, "describe_tools", {"names": ["jobs"]}),
                "runtimes": await call(session, "execute_tool", {"name": "runtimes_show", "arguments": {"name": "torchtune-llama3.2-1b"}}),
                "denied": await call(session, "execute_tool", {"name": "fine_tune", "arguments": fine_tune}),
                "bad_arguments": await call(session, "execute_tool", {"name": "jobs_show", "arguments": {"job": 5}}),
                "no_name": await call(session, "execute_tool", {"arguments": {}}),
            }

    outcomes = run(scenario())

    assert outcomes["names"] == {"list_tool_groups", "describe_tools", "execute_tool"}
    groups = {group["group"]: group for group in outcomes["groups"][1]["groups"]}
    assert "fine-tune" not in groups
    assert {tool["name"] for tool in groups["jobs"]["tools"]} == {"jobs", "jobs_show", "jobs_wait"}
    described = {tool["name"] for tool in outcomes["described"][1]["tools"]}
    assert described == {"jobs", "jobs_show", "jobs_wait"}
    assert outcomes["runtimes"][0] is False
    assert outcomes["runtimes"][1]["name"] == "torchtune-llama3.2-1b"
    denied_error, denied = outcomes["denied"]
    assert denied_error is True
    assert denied["error"] == "forbidden"
    assert denied["exit_code"] == 6
    assert trainjob_names(cluster) == []
    assert outcomes["bad_arguments"][0] is True
    assert outcomes["bad_arguments"][1]["exit_code"] == 2
    assert outcomes["no_name"][0] is True
    assert outcomes["no_name"][1]["exit_code"] == 2


# ----------------------------------------------------------------------------------------------
# HTTP


@contextlib.contextmanager
def http_server(env: dict[str, str], *args: str) -> Iterator[str]:
    """Start `kfai mcp serve --transport http --port 0 ARGS` and yield its endpoint URL."""
    process = subprocess.Popen(
        [KFAI, "mcp", "serve", "--transport", "http", "--port", "0", *args],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def forward_stderr() -> None:
        for line in process.stderr:
            lines.put(line)

    threading.Thread(target=forward_stderr, daemon=True).start()
    try:
        yield _wait_for_url(process, lines)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_url(process: subprocess.Popen, lines: queue.Queue[str]) -> str:
    seen = []
    while True:
        try:
            line = lines.get(timeout=SERVER_START_TIMEOUT)
        except queue.Empty:
            raise AssertionError(f"no 'listening on' line within {SERVER_START_TIMEOUT} s; stderr: {''.join(seen)}") from None
        seen.append(line)
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+/mcp)", line)
        if match:
            return match.group(1)
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}; stderr: {''.join(seen)}")


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "0"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def test_http_requires_bearer_token(env):
    env = dict(env, **{TOKEN_VARIABLE: TOKEN})

    async def scenario(url: str) -> dict[str, Any]:
        async with httpx.AsyncClient(trust_env=False, timeout=10) as raw:
            missing = await raw.post(url, json=INITIALIZE, headers=MCP_HEADERS)
            wrong = await raw.post(url, json=INITIALIZE, headers={**MCP_HEADERS, "Authorization": "Bearer wrong"})
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(trust_env=False, headers=headers, timeout=30) as client:
            async with streamable_http_client(url, http_client=client) as (read_stream, write_stream, _):
                async with ClientSession(read_stream, write_stream) as session:
                    await session.initialize()
                    names = await tool_names(session)
                    runtimes = await call(session, "runtimes", {})
        return {"missing": missing, "wrong": wrong, "names": names, "runtimes": runtimes}

    with http_server(env, "--token-env", TOKEN_VARIABLE) as url:
        outcomes = run(scenario(url))

    assert outcomes["missing"].status_code == 401
    assert outcomes["missing"].headers["www-authenticate"].startswith("Bearer")
    assert outcomes["wrong"].status_code == 401
    assert TOKEN not in outcomes["wrong"].text
    assert "fine_tune" in outcomes["names"]
    runtimes_error, runtimes = outcomes["runtimes"]
    assert runtimes_error is False
    assert "torchtune-llama3.2-1b" in [runtime["name"] for runtime in runtimes["runtimes"]]


def test_http_rejects_remote_host_without_flag(env):
    result = run_kfai("mcp", "serve", "--transport", "http", "--host", "0.0.0.0", "--port", "0", env=env, timeout=30)

    assert result.code == 2
    assert "0.0.0.0" in result.stderr
    assert "--allow-remote" in result.stderr


def test_http_missing_token_variable_fails(env):
    result = run_kfai("mcp", "serve", "--transport", "http", "--port", "0", "--token-env", TOKEN_VARIABLE, env=env, timeout=30)

    assert result.code == 2
    assert TOKEN_VARIABLE in result.stderr


@pytest.mark.parametrize("transport", ["http", "stdio"])
def test_empty_token_env_fails(env, transport):
    result = run_kfai("mcp", "serve", "--transport", transport, "--port", "0", "--token-env", "", env=env, timeout=30)

    assert result.code == 2
    assert "error: invalid --token-env '': expected the name of an environment variable" in result.stderr
    assert "listening on" not in result.stderr


# ----------------------------------------------------------------------------------------------
# Plugin loading


def test_register_imports_no_heavy_modules():
    code = (
        "import sys, typer\n"
        "before = set(sys.modules)\n"
        "import kfai_mcp\n"
        "kfai_mcp.register(typer.Typer())\n"
        "added = set(sys.modules) - before\n"
        "heavy = ('mcp', 'starlette', 'uvicorn', 'kubernetes', 'kubeflow', 'litellm')\n"
        "print(','.join(sorted(m for m in added if m.split('.')[0] in heavy)))\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == ""


def test_mcp_command_is_registered_as_local():
    from kfctl_ai.cli.app import build_command
    from kfctl_ai.cli.registry import RISKS
    from kfctl_ai.cli.schema import tools

    build_command()

    assert RISKS["mcp serve"] == "local"
    assert "mcp_serve" not in {tool["function"]["name"] for tool in tools(build_command())}
