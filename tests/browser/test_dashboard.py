"""The dashboard in a real browser (Debian's chromium, headless, through Playwright)
against the reference cluster as real processes: node cards, charts that grow, log tabs,
a buzzer command that reaches the pi4's simulator, a trapped dashboard plugin that the
open page survives, and the screenshots docs/dashboard.md shows.

One cluster and one page serve the module; the tests run in order (the trap last but
one, the screenshots last). Waits are on the page's own state (wait_for_function), or on
another process's state over HTTP (wait_until), never fixed sleeps.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harvester.cli.demo import ClusterProcesses
from tests.browser.rig import TRAP_PATH, dashboard_cluster, launch
from tests.cluster.harness import Api, ClusterFiles, running_cluster, scrape, wait_until
from tests.conftest import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.cluster, pytest.mark.slow, pytest.mark.wasm]

DOCS = ROOT / "docs"
TONES = "harvester_sim_buzzer_tones_total{node=pi4,pin=13}"
WAIT_MS = 30_000


@pytest.fixture(scope="module")
def files(plugin_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> ClusterFiles:
    return dashboard_cluster(tmp_path_factory.mktemp("dash"), plugin_dir, poll_s=1.0)


@pytest.fixture(scope="module")
def cluster(files: ClusterFiles) -> Iterator[ClusterProcesses]:
    with running_cluster(files) as processes:
        yield processes


@pytest.fixture(scope="module")
def api(cluster: ClusterProcesses, files: ClusterFiles) -> Api:
    api = Api(cluster.url, files.token())

    def all_online() -> bool:
        nodes = api.get("/api/nodes")["nodes"]
        return len(nodes) == 3 and all(n["state"] == "online" for n in nodes)

    wait_until(all_online, timeout=60, what="three nodes online")
    wait_until(lambda: dashboard(api)["state"] == "running", timeout=60, what="dashboard up")
    return api


def dashboard(api: Api) -> dict[str, Any]:
    plugins = api.get("/api/nodes/revpi/plugins")["plugins"]
    return next(p for p in plugins if p["name"] == "dashboard")


@pytest.fixture(scope="module")
def page(api: Api) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on(
            "console",
            lambda m: (
                errors.append(m.text)
                if m.type == "error" and "Content Security Policy" in m.text
                else None
            ),
        )
        page.goto(api.base + "/")
        page.wait_for_function("() => document.body.dataset.ready === 'true'")
        page.errors = errors  # type: ignore[attr-defined]
        yield page
        browser.close()


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def logs_loaded(page: Any, node_and_level: str) -> None:
    """Until the log viewer shows what it fetched for "node/level" (level "" for all)."""
    page.wait_for_function(
        "(want) => document.getElementById('log-lines').dataset.loaded === want",
        arg=node_and_level,
    )


def log_levels(page: Any) -> list[str]:
    return list(page.eval_on_selector_all("#log-lines li", "ls => ls.map(l => l.dataset.level)"))


def points(page: Any, plugin: str) -> int:
    return int(
        page.evaluate(
            """(plugin) => [...document.querySelectorAll(`.plot[data-plugin="${plugin}"]`)]
                .reduce((sum, el) => sum + Number(el.dataset.points), 0)""",
            plugin,
        )
    )


def test_three_node_cards_online(page: Any) -> None:
    page.wait_for_function(
        """() => {
            const cards = [...document.querySelectorAll('#nodes .card')];
            return cards.length === 3 && cards.every((c) => c.dataset.state === 'online');
        }"""
    )
    names = page.eval_on_selector_all("#nodes .card", "cs => cs.map(c => c.dataset.node)")
    assert sorted(names) == ["pi4", "pizero", "revpi"]
    pi4 = page.locator('#nodes .card[data-node="pi4"]')
    for label in ("CPU", "Memory", "Temperature", "Uptime", "Last seen"):
        assert label in pi4.inner_text()


def test_the_pi4_oled_is_shown_and_only_the_pi4s(page: Any) -> None:
    page.wait_for_function(
        """() => { const img = document.querySelector('#displays img[data-node="pi4"]');
            return img && img.dataset.loaded && img.naturalWidth === 128; }"""
    )
    shown = page.eval_on_selector_all("#displays img", "imgs => imgs.map(i => i.dataset.node)")
    assert shown == ["pi4"]  # the hub and the pizero have no display


@pytest.mark.parametrize("plugin", ["dht22", "bme680"])
def test_charts_grow_while_the_page_is_open(page: Any, plugin: str) -> None:
    page.wait_for_selector(f'.plot[data-plugin="{plugin}"] canvas')
    before = points(page, plugin)
    page.wait_for_function(
        """([plugin, before]) => [...document.querySelectorAll(`.plot[data-plugin="${plugin}"]`)]
            .reduce((sum, el) => sum + Number(el.dataset.points), 0) > before""",
        arg=[plugin, before],
    )
    assert points(page, plugin) > before


def test_a_range_reloads_the_history(page: Any) -> None:
    hour = '#ranges button[data-range="1h"]'
    page.click(hour)
    assert page.get_attribute(hour, "aria-pressed") == "true"
    page.wait_for_function(
        """() => [...document.querySelectorAll('.plot[data-plugin="dht22"]')]
            .every((e) => Number(e.dataset.points) > 0)"""
    )
    page.click('#ranges button[data-range="15m"]')


def test_log_tabs_switch_and_filter_by_level(page: Any) -> None:
    tabs = page.eval_on_selector_all("#log-tabs button", "bs => bs.map(b => b.textContent)")
    assert sorted(tabs) == ["HUB", "PI4", "PIZERO"]
    page.click('#log-tabs button[data-node="pi4"]')
    logs_loaded(page, "pi4/")
    levels = log_levels(page)
    assert "info" in levels  # e.g. the plugins' start lines
    page.select_option("#log-level", "warn")
    logs_loaded(page, "pi4/warn")
    filtered = log_levels(page)
    assert set(filtered) <= {"warn", "error"} and len(filtered) < len(levels)
    page.click('#log-tabs button[data-node="revpi"]')
    logs_loaded(page, "revpi/warn")
    assert page.get_attribute('#log-tabs button[data-node="revpi"]', "aria-selected") == "true"
    assert set(log_levels(page)) <= {"warn", "error"}
    page.select_option("#log-level", "")
    logs_loaded(page, "revpi/")
    assert "info" in log_levels(page)


def test_login_then_a_buzzer_click_reaches_the_pi4_simulator(
    page: Any, files: ClusterFiles
) -> None:
    before = scrape(files.metrics_ports["pi4"]).get(TONES, 0)
    page.fill("#token", "not-the-token")
    page.click("#login button[type=submit]")
    page.wait_for_function(
        "() => document.getElementById('login-result').textContent === 'wrong token'"
    )
    page.fill("#token", files.token())
    page.click("#login button[type=submit]")
    page.wait_for_function(
        "() => document.getElementById('controls').dataset.authenticated === 'true'"
    )
    panel = '.control[data-node="pi4"][data-plugin="pi4-actuator"]'
    page.click(f'{panel} button[data-command="buzzer.beep"]')
    page.wait_for_function(
        """(panel) => document.querySelector(`${panel} output`).textContent.includes('ok')""",
        arg=panel,
    )
    shown = page.inner_text(f"{panel} output")
    assert shown.startswith("buzzer.beep: ok") and '"beeps":1' in shown
    assert scrape(files.metrics_ports["pi4"])[TONES] == before + 1


def test_a_trapped_dashboard_restarts_and_the_open_page_recovers(page: Any, api: Api) -> None:
    restarts = dashboard(api)["restarts"]
    outages = int(page.evaluate("Number(document.body.dataset.outages || 0)"))
    assert page.is_hidden("#banner")
    status = http_status(api.base + TRAP_PATH)
    assert status >= 500  # the host answers for the trapped plugin, it does not crash
    assert api.call("GET", "/api/nodes")[0] == 200  # the JSON API stays up meanwhile
    # The open page notices by itself (its overview refresh fails) and says so ...
    page.wait_for_function("(n) => Number(document.body.dataset.outages || 0) > n", arg=outages)
    assert "not answering" in page.text_content("#banner")
    updates = int(page.evaluate("Number(document.body.dataset.overviewUpdates || 0)"))
    # ... the host restarts the plugin, and the page clears its banner and updates again.
    wait_until(lambda: dashboard(api)["restarts"] > restarts, timeout=60, what="restarted")
    wait_until(lambda: dashboard(api)["state"] == "running", timeout=30, what="running again")
    page.wait_for_function("() => document.body.dataset.banner === 'cleared'", timeout=60_000)
    assert page.is_hidden("#banner")
    page.wait_for_function("(n) => Number(document.body.dataset.overviewUpdates) > n", arg=updates)
    # The plugins view shows the restart (from the restarted plugin's own overview).
    cell = '#plugins .plugin-node[data-node="revpi"] tr[data-plugin="dashboard"] td.num'
    page.wait_for_function(
        "([cell, n]) => Number(document.querySelector(cell)?.dataset.restarts) > n",
        arg=[cell, restarts],
    )


def test_screenshots_and_no_horizontal_scroll_at_phone_width(page: Any) -> None:
    page.set_viewport_size({"width": 1280, "height": 900})
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(DOCS / "dashboard-desktop.png"), full_page=True)  # every section
    page.set_viewport_size({"width": 375, "height": 812})
    page.wait_for_function("() => document.documentElement.clientWidth === 375")
    widths = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"horizontal scroll at 375 px: {widths}"
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(DOCS / "dashboard-phone.png"))
    assert page.errors == []  # type: ignore[attr-defined]
