"""Streamable HTTP for the MCP server: loopback by default, with an optional bearer token.

The endpoint is `http://HOST:PORT/mcp`. A host that other machines can reach needs
`--allow-remote`. With a token, every request must carry `Authorization: Bearer TOKEN`,
and any other request gets 401 before it reaches the MCP session manager.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import socket
from typing import Any

from kfctl_ai.core.errors import UsageError

logger = logging.getLogger("kfai_mcp")

ENDPOINT_PATH = "/mcp"
LOOPBACK_NAMES = {"localhost"}
# Log the first rejected request, then one line per this many, so that a client that
# retries without a token cannot flood the log.
REJECTION_LOG_INTERVAL = 100


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_host(host: str, allow_remote: bool) -> None:
    """Reject a host that other machines can reach unless `allow_remote` is set."""
    if is_loopback(host):
        return
    if not allow_remote:
        raise UsageError(
            f"invalid --host '{host}': it is not a loopback address, so other machines could reach the server",
            hint="use --host 127.0.0.1, or add --allow-remote (with --token-env) to accept remote clients",
        )
    logger.warning("listening on %s, which other machines can reach", host)


class BearerTokenMiddleware:
    """ASGI middleware that returns 401 to any HTTP request without the expected bearer token."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self._expected = token.encode()
        self.rejected = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or self._authorized(scope):
            await self.app(scope, receive, send)
            return
        from starlette.responses import JSONResponse

        self.rejected += 1
        if self.rejected % REJECTION_LOG_INTERVAL == 1:
            client = (scope.get("client") or ("unknown",))[0]
            logger.warning("rejected a request from %s without a valid bearer token (%d so far)", client, self.rejected)
        response = JSONResponse(
            {"error": "unauthorized", "message": "missing or invalid bearer token"},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="kfai"'},
        )
        await response(scope, receive, send)

    def _authorized(self, scope: Any) -> bool:
        from starlette.datastructures import Headers

        scheme, _, credentials = Headers(scope=scope).get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip().encode(), self._expected)


def build_app(server: Any, host: str, token: str | None, allow_remote: bool) -> Any:
    """Return the ASGI app: the MCP session manager at /mcp, behind the token check when there is a token."""
    import contextlib

    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
    from mcp.server.transport_security import TransportSecuritySettings
    from starlette.applications import Starlette
    from starlette.routing import Route

    if allow_remote and not is_loopback(host):
        # Clients reach a remote server under names kfai cannot know, so Host checks would reject them.
        security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    else:
        # A loopback server checks Host and Origin, so that a web page cannot reach it by DNS rebinding.
        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
            allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
        )
    manager = StreamableHTTPSessionManager(app=server, security_settings=security)

    class Endpoint:
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            await manager.handle_request(scope, receive, send)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> Any:
        async with manager.run():
            yield

    app: Any = Starlette(routes=[Route(ENDPOINT_PATH, endpoint=Endpoint())], lifespan=lifespan)
    if token:
        app = BearerTokenMiddleware(app, token)
    elif not is_loopback(host):
        logger.warning("no --token-env: any client that reaches %s can use the server", host)
    return app


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind and listen on host:port, so that the port is known (with port 0) and open before it is announced."""
    family, kind, protocol, _, address = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, protocol)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}", hint="pick another --port, or 0 for a free one") from exc
    sock.listen(128)
    return sock


def serve_http(server: Any, host: str, port: int, token: str | None, allow_remote: bool) -> None:
    """Serve until SIGINT or SIGTERM."""
    import uvicorn

    app = build_app(server, host, token, allow_remote)
    sock = bind_socket(host, port)
    bound_port = sock.getsockname()[1]
    shown_host = f"[{host.strip('[]')}]" if ":" in host else host
    logger.info(
        "listening on http://%s:%d%s (bearer token %s)",
        shown_host, bound_port, ENDPOINT_PATH, "required" if token else "not required",
    )
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])
