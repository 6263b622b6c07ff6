"""The MCP server behind `kfai mcp serve`, over stdio or streamable HTTP.

Tool calls run kfai commands, which block (a `jobs wait` can take an hour), so each call
runs in a worker thread and the server keeps serving other requests meanwhile.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from typing import Any

from kfctl_ai.core.config import Settings
from kfctl_ai.core.errors import UsageError

from kfai_mcp import __version__
from kfai_mcp.toolsets import ToolSet

logger = logging.getLogger("kfai_mcp")

SERVER_NAME = "kfai"
INSTRUCTIONS = (
    "Tools for Kubeflow Trainer through kfai: find runtimes, check that a model fits the GPUs "
    "(preflight), fine-tune, and list, inspect, follow and delete TrainJobs. Write and delete tools "
    "return a preview and change nothing until you call them again with confirmed: true; show the "
    "preview to the user before confirming."
)


@dataclass(frozen=True)
class ServeOptions:
    transport: str = "stdio"
    host: str = "127.0.0.1"
    port: int = 8765
    mode: str = "full"
    token_env: str | None = None
    allow_remote: bool = False


def configure_logging() -> None:
    """Log the server's own events to stderr, which stays free of protocol traffic in both transports."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s kfai-mcp: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def build_server(toolset: ToolSet) -> Any:
    """Return an MCP low-level `Server` whose tools are `toolset`'s."""
    import anyio.to_thread
    import mcp.types as types
    from mcp.server.lowlevel import Server

    server: Any = Server(SERVER_NAME, version=__version__, instructions=INSTRUCTIONS)
    tools = [types.Tool.model_validate(entry) for entry in toolset.list()]

    @server.list_tools()
    async def list_tools() -> list[types.Tool]:
        return tools

    # The runner validates arguments itself, so that invalid ones get kfai's JSON error document.
    @server.call_tool(validate_input=False)
    async def call_tool(name: str, arguments: dict[str, Any]) -> types.CallToolResult:
        outcome = await anyio.to_thread.run_sync(toolset.call, name, arguments)
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=outcome.text())],
            structuredContent=outcome.data,
            isError=outcome.is_error,
        )

    return server


def serve(settings: Settings, options: ServeOptions) -> None:
    """Build the tools for the settings' persona and serve them until the client or a signal ends it."""
    from kfai_mcp.runner import ToolRunner
    from kfai_mcp.toolsets import make_toolset

    configure_logging()
    token = read_token(options.token_env) if options.token_env is not None else None
    if options.transport == "http":
        from kfai_mcp.http_transport import check_host

        check_host(options.host, options.allow_remote)
    elif options.token_env:
        logger.warning("--token-env only applies to --transport http; ignored for stdio")

    toolset = make_toolset(ToolRunner(settings), options.mode)
    server = build_server(toolset)
    logger.info(
        "serving %d tools (mode %s, persona %s) over %s",
        len(toolset.list()), options.mode, settings.persona, options.transport,
    )
    if options.transport == "http":
        from kfai_mcp.http_transport import serve_http

        serve_http(server, options.host, options.port, token, options.allow_remote)
    else:
        serve_stdio(server)
    logger.info("server stopped")


def read_token(variable: str) -> str:
    """Read the bearer token from the environment variable named `variable`; never log it."""
    if not variable.strip() or "=" in variable:
        # An empty name must not fall back to serving without a token.
        raise UsageError(
            f"invalid --token-env '{variable}': expected the name of an environment variable",
            hint="pass the variable that contains the token, for example --token-env KFAI_MCP_TOKEN, or leave out --token-env",
        )
    token = os.environ.get(variable, "").strip()
    if not token:
        raise UsageError(
            f"environment variable {variable} (from --token-env) is not set or is empty",
            hint=f"export {variable} with the token HTTP clients must send, or leave out --token-env",
        )
    return token


def serve_stdio(server: Any) -> None:
    """Serve over stdin and stdout, with stdout reserved for protocol messages."""
    import anyio
    from io import TextIOWrapper

    from mcp.server.stdio import stdio_server

    # Keep a private copy of stdout for the protocol and point file descriptor 1 at stderr,
    # so that a stray print from kfai or a library cannot corrupt the message stream.
    protocol_fd = os.dup(sys.stdout.fileno())
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    protocol_out = anyio.wrap_file(TextIOWrapper(os.fdopen(protocol_fd, "wb"), encoding="utf-8"))

    async def run() -> None:
        async with stdio_server(stdout=protocol_out) as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    anyio.run(run)
