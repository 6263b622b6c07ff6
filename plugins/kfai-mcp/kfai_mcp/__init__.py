"""kfai-mcp: serve kfai's commands to AI agents over the Model Context Protocol.

The plugin adds `kfai mcp serve`. Its tools are generated from kfai's command tree, so
every read, write and delete command is a tool with the same options, checks, previews
and persona rules as on the command line. This module only registers the command: the
MCP SDK, the Kubernetes client and the Kubeflow SDK are imported when the server starts,
so `kfai --help` stays fast.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional

import typer

from kfctl_ai.cli.registry import command

__version__ = "0.1.0"

DEFAULT_PORT = 8765


def register(app: typer.Typer) -> None:
    """Add the `kfai mcp serve` command to the kfai app (the `kfctl_ai.plugins` entry point)."""
    group = typer.Typer(no_args_is_help=True)

    @command(group, "mcp serve", "local")
    def serve(
        ctx: typer.Context,
        transport: Annotated[Literal["stdio", "http"], typer.Option("--transport", help="stdio for a client that starts kfai itself, or http (streamable HTTP).")] = "stdio",
        host: Annotated[str, typer.Option("--host", help="Address the HTTP server listens on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port of the HTTP server; 0 picks a free port.")] = DEFAULT_PORT,
        mode: Annotated[Literal["full", "progressive"], typer.Option("--mode", help="full: one tool per command; progressive: three meta-tools for clients with small context windows.")] = "full",
        token_env: Annotated[Optional[str], typer.Option("--token-env", metavar="VAR", help="Name of the environment variable that contains the bearer token HTTP clients must send.")] = None,
        allow_remote: Annotated[bool, typer.Option("--allow-remote", help="Allow --host to be an address other machines can reach.")] = False,
    ) -> Any:
        """Serve kfai's commands as MCP tools over stdio or HTTP; the global --persona decides which tools exist.

        Example: kfai --persona readonly mcp serve --transport http --port 8765 --token-env KFAI_MCP_TOKEN
        """
        from kfai_mcp.server import ServeOptions, serve as run_server

        session = ctx.obj
        session.authorize("mcp serve")
        options = ServeOptions(
            transport=transport, host=host, port=port, mode=mode, token_env=token_env, allow_remote=allow_remote,
        )
        run_server(session.settings, options)

    app.add_typer(group, name="mcp", help="Serve kfai's commands to AI agents over the Model Context Protocol.")
