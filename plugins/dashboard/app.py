"""The dashboard plugin: the fleet's web page, served through the http-handler export.

The host routes GET|HEAD / and every /ui/... request here (credentials stripped) and reads
the fleet's data for us through hub-data (granted by `hub_data = true`, only on the hub).
The routing is routes.py, the view-model overview.py, the files assets.py (read at import,
so they are in the component). A bug answers 500; only the configured `trap_path` lets an
exception escape, which traps the instance: the host restarts it and the API stays up.
"""

from assets import build_assets, read_sources, read_template
from componentize_py_types import Err
from harvester_sdk import BadSetting, Settings, log
from overview import NodeNotFound
from routes import HubUnavailable, Reply, Site, SiteConfig, TrapRequested
from wit_world import exports
from wit_world.exports import http_handler
from wit_world.imports import hub_data

# Read once, while componentize-py pre-initialises the module: there are no files later.
ASSETS = build_assets(read_sources())
TEMPLATE = read_template()
MAX_TITLE = 80

# componentize-py may make several HttpHandler objects: the site lives at module level.
_site: Site | None = None


class WitHub:
    """hub-data's import, its query-errors turned into the exceptions routes.py knows."""

    def _ask(self, call, *args) -> str:
        try:
            return call(*args)
        except Err as err:
            if isinstance(err.value, hub_data.QueryError_NotFound):
                raise NodeNotFound(err.value.value) from None
            if isinstance(err.value, hub_data.QueryError_Unavailable):
                raise HubUnavailable(err.value.value) from None
            raise RuntimeError(f"hub-data refused: {err.value}") from None

    def nodes(self) -> str:
        return self._ask(hub_data.nodes)

    def node(self, node: str) -> str:
        return self._ask(hub_data.node, node)


def _config(settings: Settings) -> SiteConfig:
    title = settings.text("title", "Harvester").strip()
    if not title or len(title) > MAX_TITLE:
        raise BadSetting(f"title = {title!r}: 1 to {MAX_TITLE} characters")
    trap_path = settings.text("trap_path", "")
    if trap_path and not (trap_path.startswith("/ui/") and len(trap_path) > 4):
        raise BadSetting(f'trap_path = {trap_path!r}: a path under /ui/ (or "" for none)')
    charts = tuple(p.strip() for p in settings.text("charts", "dht22,bme680").split(","))
    return SiteConfig(title=title, trap_path=trap_path, chart_plugins=tuple(p for p in charts if p))


def _response(reply: Reply) -> http_handler.Response:
    headers = [http_handler.Header(name, value) for name, value in reply.headers]
    return http_handler.Response(reply.status, headers, reply.body)


class HttpHandler(exports.HttpHandler):
    def init(self, settings: list[http_handler.Setting]) -> None:
        global _site
        try:
            config = _config(Settings(settings))
        except BadSetting as exc:
            raise Err(http_handler.HandlerError_BadSetting(str(exc))) from None
        _site = Site(config, WitHub(), ASSETS, TEMPLATE)
        trap = f", trap_path {config.trap_path}" if config.trap_path else ""
        log.info(f"serving {len(ASSETS)} assets, charts of {', '.join(config.chart_plugins)}{trap}")

    def handle(self, request: http_handler.Request) -> http_handler.Response:
        if _site is None:
            return _response(Reply(503, [("content-type", "text/plain")], b"not initialised\n"))
        try:
            return _response(_site.handle(request.method, request.path))
        except TrapRequested:
            log.warn(f"trapping on purpose: {request.path} is the trap_path")
            raise
        except MemoryError:
            raise  # the host restarts an instance that ran out of memory
        except Exception as exc:
            log.error(f"{request.method} {request.path}: {type(exc).__name__}: {exc}")
            return _response(Reply(500, [("content-type", "text/plain")], b"internal error\n"))
