"""The node's HTTP side: on the hub the JSON API and /metrics (port 3000 by default), on
any node a /metrics endpoint if `[metrics] port` is set."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager

from aiohttp import web

from harvester.mesh.service import MeshNode
from harvester.web.api import hub_app
from harvester.web.metrics import metrics_app
from harvester.web.ui import add_ui_routes


class PortInUse(RuntimeError):
    """The web server's address is taken; names it."""


@asynccontextmanager
async def serve(app: web.Application, host: str, port: int) -> AsyncIterator[str]:
    """`app` served on host:port while inside; yields its base URL."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            raise PortInUse(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        yield f"http://{shown}:{port}"
    finally:
        await runner.cleanup()


def _ui_routes(mesh: MeshNode, plugin: str) -> Callable[[web.Application], None] | None:
    """What adds the pages (`/`, `/ui/...`) served by the hub's UI plugin; None when the
    hub runs no plugin of that name (the API is all there is, and / says so: 404)."""
    node = mesh.node
    assert node is not None
    if plugin not in node.supervisor.runners:
        return None
    supervisor = node.supervisor
    return lambda app: add_ui_routes(app, supervisor, plugin)


@asynccontextmanager
async def node_web(mesh: MeshNode) -> AsyncIterator[dict[str, str]]:
    """Every HTTP endpoint `mesh`'s node serves, running while inside; their URLs by name."""
    urls: dict[str, str] = {}
    assert mesh.node is not None
    async with AsyncExitStack() as stack:
        if mesh.is_hub:
            settings = mesh.config.hub_settings.web
            ui = _ui_routes(mesh, settings.ui_plugin)
            base = await stack.enter_async_context(
                serve(hub_app(mesh, ui=ui), settings.host, settings.port)
            )
            if ui is not None:
                urls["dashboard"] = f"{base}/"
            urls["web API"] = f"{base}/api/nodes"
            urls["metrics"] = f"{base}/metrics"
        metrics = mesh.config.metrics
        if metrics.port is not None:
            app = metrics_app(mesh.node, mesh.stats_providers())
            base = await stack.enter_async_context(serve(app, metrics.host, metrics.port))
            urls["metrics"] = f"{base}/metrics"
        yield urls
