"""The reference cluster as real processes on loopback: hub (embedded broker, history,
web API), the pi4 spoke (every seed plugin, sim HAL) and the pizero (native monitor).

One cluster serves the whole module (it takes a while to start); the test that kills
and restarts a spoke runs last.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harvester.cli.demo import ClusterProcesses
from tests.cluster.harness import (
    Api,
    ClusterFiles,
    running_cluster,
    scrape,
    wait_until,
    write_cluster,
)

pytestmark = [pytest.mark.wasm, pytest.mark.cluster]

PI4_METRICS = {("bme680", "temperature"), ("dht22", "temperature"), ("pi4-monitor", "cpu_usage")}


@pytest.fixture(scope="module")
def files(plugin_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> ClusterFiles:
    return write_cluster(tmp_path_factory.mktemp("cluster"), plugin_dir=plugin_dir, poll_s=1.0)


@pytest.fixture(scope="module")
def cluster(files: ClusterFiles) -> Iterator[ClusterProcesses]:
    with running_cluster(files) as processes:
        yield processes
    for name in ("revpi", "pi4", "pizero"):  # each node stopped by itself, cleanly
        log = (files.folder / f"{name}.log").read_text()
        assert "stopped cleanly" in log, f"{name} did not stop cleanly:\n{log[-3000:]}"


@pytest.fixture(scope="module")
def api(cluster: ClusterProcesses, files: ClusterFiles) -> Api:
    return Api(cluster.url, files.token())


def test_readings_from_both_spokes_reach_the_hubs_history(api: Api) -> None:
    wait_until(
        lambda: PI4_METRICS <= set(api.latest("pi4")), timeout=60, what="pi4's readings at the hub"
    )
    pizero = wait_until(lambda: api.latest("pizero"), timeout=60, what="pizero's readings")
    assert ("pizero-monitor", "uptime") in pizero
    revpi = wait_until(lambda: api.latest("revpi"), timeout=60, what="the hub's own readings")
    assert ("revpi-monitor", "cpu_usage") in revpi
    # A series of a spoke's metric, as the dashboard asks for it.
    end = time.time() + 1
    series = api.get(
        f"/api/series?node=pi4&plugin=dht22&metric=temperature&start={end - 600}&end={end}"
        "&resolution=1"
    )
    assert series["points"] and all(15 < p["mean"] < 25 for p in series["points"])


def test_every_node_is_online_with_its_role(api: Api) -> None:
    def all_online() -> dict[str, str] | None:
        nodes = {n["name"]: n for n in api.get("/api/nodes")["nodes"]}
        if {"revpi", "pi4", "pizero"} <= set(nodes) and all(
            n["state"] == "online" for n in nodes.values()
        ):
            return {name: n["role"] for name, n in nodes.items()}
        return None

    roles = wait_until(all_online, timeout=30, what="three nodes online")
    assert roles == {"revpi": "hub", "pi4": "spoke", "pizero": "spoke"}


def test_a_buzzer_command_round_trips_and_the_simulator_plays_it(
    api: Api, files: ClusterFiles
) -> None:
    wait_until(lambda: api.node("pi4"), timeout=30, what="pi4 known")
    tones = "harvester_sim_buzzer_tones_total{node=pi4,pin=13}"
    before = scrape(files.metrics_ports["pi4"]).get(tones, 0)
    status, result = api.command("pi4", "buzzer.beep", {"frequency_hz": 2000, "duration_ms": 50})
    assert status == 200, result
    assert result["ok"] and result["plugin"] == "pi4-actuator"
    assert result["result"] == {"beeps": 1, "frequency_hz": 2000, "duration_ms": 50}
    after = scrape(files.metrics_ports["pi4"])
    assert after[tones] == before + 1
    # The node keeps what it must remember in its own state folder: the command's id too.
    assert {"outbox.sqlite", "commands.sqlite"} <= {p.name for p in files.state("pi4").iterdir()}
    assert after["harvester_sim_buzzer_last_frequency_hz{node=pi4,pin=13}"] == 2000


def test_commands_need_the_token(api: Api) -> None:
    body = {"command": "buzzer.beep", "args": {"frequency_hz": 440, "duration_ms": 10}}
    status, reply = api.call("POST", "/api/nodes/pi4/commands", body)
    assert status == 401 and "Bearer" in reply["error"]
    status, reply = api.call("POST", "/api/nodes/pi4/commands", body, token="x" * 32)
    assert status == 403 and reply["error"] == "wrong token"


def test_a_command_to_an_unknown_command_names_what_the_node_offers(api: Api) -> None:
    status, result = api.command("pi4", "fan.spin", {})
    assert status == 200 and not result["ok"]
    assert result["error"]["code"] == "unknown-command"
    assert "buzzer.beep" in result["error"]["message"]


def test_a_killed_spoke_shows_offline_within_10_s_and_comes_back(
    cluster: ClusterProcesses, api: Api
) -> None:
    wait_until(
        lambda: (api.node("pi4") or {}).get("state") == "online", timeout=30, what="pi4 online"
    )
    killed_at = time.monotonic()
    cluster.nodes["pi4"].send(signal.SIGKILL)
    cluster.nodes["pi4"].wait(10)
    offline = wait_until(
        lambda: (n := api.node("pi4")) and n["state"] == "offline" and n,
        timeout=15,
        what="pi4 offline",
    )
    took = time.monotonic() - killed_at
    assert took < 10, f"offline after {took:.1f} s"
    assert offline["reason"] in ("will", "silent")
    cluster.start_node("pi4")
    wait_until(
        lambda: (api.node("pi4") or {}).get("state") == "online", timeout=60, what="pi4 back"
    )
    # It goes on numbering where it stopped: its next readings are new ones, not repeats.
    seen = set(api.latest("pi4"))
    assert PI4_METRICS <= seen
