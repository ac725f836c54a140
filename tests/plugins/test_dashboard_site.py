"""The dashboard plugin's Python (routing, page, view-model, assets) run in CPython against
a fake hub-data; app.py, the WIT glue, is exercised by the browser test on a real hub."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

DASHBOARD = Path(__file__).resolve().parents[2] / "plugins" / "dashboard"
sys.path.insert(0, str(DASHBOARD))
from assets import IMMUTABLE, build_assets, read_sources, read_template  # noqa: E402
from overview import NodeNotFound, describe_grants  # noqa: E402
from page import render, script_json  # noqa: E402
from routes import HubUnavailable, Site, SiteConfig, TrapRequested  # noqa: E402

NODES = {
    "nodes": [
        {"name": "pi4", "role": "spoke", "state": "online", "last_seen": 100.0, "since": 1.0,
         "version": "v", "reason": "", "health": None, "health_at": None},
        {"name": "revpi", "role": "hub", "state": "online", "last_seen": 100.0, "since": 1.0,
         "version": "v", "reason": "", "health": {"cpu_usage": 3.5}, "health_at": 99.0},
    ]
}  # fmt: skip
PI4_PLUGINS = [
    {"name": "dht22", "version": "abc", "state": "running", "restarts": 0,
     "grants": {"dht22": [4]}, "commands": [],
     "metrics": [{"name": "temperature", "unit": "°C"}, {"name": "humidity", "unit": "%"}]},
    {"name": "oled", "version": "def", "state": "running", "restarts": 2,
     "grants": {"i2c": [{"bus": 1, "addresses": [60]}], "readings": True}, "commands": []},
    {"name": "pi4-actuator", "version": "123", "state": "running", "restarts": 0,
     "grants": {"leds": [{"strip": 0, "pixels": 8}], "buzzer": [13]},
     "commands": ["buzzer.beep", "buzzer.off", "led.fill", "plugin.restart"]},
]  # fmt: skip

PI4_PENDING = [
    {"plugin": "oled", "sequence": 7, "version": "0123456789abcdef", "key_id": "k1",
     "submitted_at": 99.0},
]  # fmt: skip


class FakeHub:
    def __init__(self) -> None:
        self.unavailable = False
        self.vanished: set[str] = set()

    def nodes(self) -> str:
        if self.unavailable:
            raise HubUnavailable("history closed")
        return json.dumps(NODES)

    def node(self, node: str) -> str:
        if node in self.vanished:
            raise NodeNotFound(node)
        row = next(n for n in NODES["nodes"] if n["name"] == node)
        plugins = PI4_PLUGINS if node == "pi4" else []
        deploys = PI4_PENDING if node == "pi4" else []
        return json.dumps({"node": row, "plugins": plugins, "deploys": deploys})


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory):
    """The real static/ files, with a stand-in for uPlot (installed by the build, not here)."""
    vendor = tmp_path_factory.mktemp("uplot")
    (vendor / "uPlot.esm.js").write_text("export default class uPlot {}\n")
    (vendor / "uPlot.min.css").write_text(".uplot{}\n")
    paths = {"uPlot.esm.js": vendor / "uPlot.esm.js", "uPlot.min.css": vendor / "uPlot.min.css"}
    return build_assets(read_sources(vendor=paths))


@pytest.fixture
def hub() -> FakeHub:
    return FakeHub()


@pytest.fixture
def site(assets, hub: FakeHub) -> Site:
    config = SiteConfig(title="Green <house>", trap_path="/ui/trap")
    return Site(config, hub, assets, read_template())


def header(reply, name: str) -> str | None:
    return next((v for k, v in reply.headers if k == name), None)


def test_the_index_carries_the_overview_and_only_external_scripts(site: Site) -> None:
    for path in ("/", "/ui/", "/ui"):
        reply = site.handle("GET", path)
        assert reply.status == 200, path
        assert header(reply, "cache-control") == "no-cache"
    page = reply.body.decode()
    assert "<title>Green &lt;house&gt;</title>" in page
    boot = re.search(r'<script type="application/json" id="bootstrap">(.*?)</script>', page, re.S)
    assert boot is not None
    data = json.loads(boot.group(1))
    assert data["title"] == "Green <house>"
    assert [n["name"] for n in data["overview"]["nodes"]] == ["revpi", "pi4"]  # the hub first
    # The CSP allows no inline script or style: every <script> but the JSON has a src.
    for tag in re.findall(r"<script[^>]*>", page):
        assert 'type="application/json"' in tag or "src=" in tag, tag
    assert "<style" not in page and "style=" not in page


def test_assets_are_immutable_under_hashed_names(site: Site, assets) -> None:
    app = assets["app.js"]
    assert re.fullmatch(r"/ui/assets/app\.[0-9a-f]{8}\.js", app.url)
    reply = site.handle("GET", app.url)
    assert reply.status == 200 and reply.body == app.body
    assert header(reply, "cache-control") == IMMUTABLE == "public, max-age=31536000, immutable"
    assert header(reply, "content-type") == "text/javascript; charset=utf-8"
    # Modules import each other by hashed URL, so a cached module never mixes versions.
    assert f'from "{assets["charts.js"].url}"' in app.body.decode()
    assert "./" not in re.findall(r'from "([^"]+)"', app.body.decode())[0]
    assert site.handle("GET", "/ui/assets/app.00000000.js").status == 404
    assert site.handle("GET", "/ui/assets/app.js").status == 404


def test_a_changed_module_renames_its_importers() -> None:
    importer = b'import { b } from "./b.js";\n'
    before = build_assets({"a.js": importer, "b.js": b"export const b = 1;\n"})
    after = build_assets({"a.js": importer, "b.js": b"export const b = 2;\n"})
    assert before["a.js"].url != after["a.js"].url
    with pytest.raises(ValueError, match="import cycle"):
        build_assets({"a.js": b'import "./b.js";\n', "b.js": b'import "./a.js";\n'})
    with pytest.raises(ValueError, match=r"a.js imports ./c.js"):
        build_assets({"a.js": b'import "./c.js";\n'})


def test_overview_json_is_the_view_model(site: Site) -> None:
    reply = site.handle("GET", "/ui/overview.json")
    assert reply.status == 200 and header(reply, "cache-control") == "no-store"
    data = json.loads(reply.body)
    pi4 = next(n for n in data["nodes"] if n["name"] == "pi4")
    assert pi4["display"] is True  # the oled's grant names 0x3c
    assert next(n for n in data["nodes"] if n["name"] == "revpi")["display"] is False
    assert data["charts"] == [
        {"node": "pi4", "plugin": "dht22", "metrics": PI4_PLUGINS[0]["metrics"]}
    ]
    assert data["controls"] == [
        {"node": "pi4", "plugin": "pi4-actuator",
         "commands": ["buzzer.beep", "buzzer.off", "led.fill"]}
    ]  # fmt: skip
    oled = next(p for p in pi4["plugins"] if p["name"] == "oled")
    assert oled["grants"] == ["I2C bus 1 at 0x3c", "the node's readings"]
    assert oled["restarts"] == 2 and oled["version"] == "def"
    # the deploy the hub holds for it, until the node takes it
    assert oled["pending"] == {"sequence": 7, "version": "0123456789abcdef", "key_id": "k1"}
    assert next(p for p in pi4["plugins"] if p["name"] == "dht22")["pending"] is None


def test_grants_read_down_to_bus_address_and_pin() -> None:
    assert describe_grants(
        {"i2c": [{"bus": 1, "addresses": [0x76, 0x77]}], "gpio": [17, 27], "dht22": [4],
         "leds": [{"strip": 0, "pixels": 8}], "buzzer": [13], "system_info": True,
         "hub_data": True, "readings": False}
    ) == [
        "I2C bus 1 at 0x76, 0x77", "GPIO 17, 27", "DHT22 on GPIO 4", "LED strip 0, 8 pixels",
        "buzzer on GPIO 13", "system info", "hub data (read-only)",
    ]  # fmt: skip
    assert describe_grants({"spi": [{"bus": 0}]}) == ['spi: [{"bus": 0}]']


def test_a_node_that_vanishes_is_left_out(site: Site, hub: FakeHub) -> None:
    hub.vanished.add("pi4")
    data = json.loads(site.handle("GET", "/ui/overview.json").body)
    assert [n["name"] for n in data["nodes"]] == ["revpi"]


def test_an_unavailable_hub_is_503_with_retry_after(site: Site, hub: FakeHub) -> None:
    hub.unavailable = True
    for path in ("/ui/overview.json", "/"):
        reply = site.handle("GET", path)
        assert reply.status == 503 and header(reply, "retry-after") == "2", path


def test_unknown_paths_and_methods(site: Site) -> None:
    assert site.handle("GET", "/ui/nope").status == 404
    assert site.handle("GET", "/ui/overview.json/x").status == 404
    reply = site.handle("POST", "/ui/overview.json")
    assert reply.status == 405 and header(reply, "allow") == "GET, HEAD"
    assert site.handle("DELETE", "/").status == 405
    head = site.handle("HEAD", "/ui/overview.json")
    assert head.status == 200 and head.body == b""


def test_only_the_trap_path_traps(site: Site, assets, hub: FakeHub) -> None:
    with pytest.raises(TrapRequested):
        site.handle("GET", "/ui/trap")
    with pytest.raises(TrapRequested):
        site.handle("POST", "/ui/trap")
    assert site.handle("GET", "/ui/trap/x").status == 404
    off = Site(SiteConfig(), hub, assets, read_template())
    assert off.handle("GET", "/ui/trap").status == 404


def test_bootstrap_json_cannot_close_its_script() -> None:
    text = script_json({"x": "</script><!-- & \u2028"})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"x": "</script><!-- & \u2028"}


def test_an_unknown_template_slot_is_an_error(assets) -> None:
    with pytest.raises(ValueError, match=r"asset:nope\.js"):
        render("{{asset:nope.js}}", title="t", bootstrap={}, assets=assets)
