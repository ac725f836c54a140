"""Hostile: calls wasi:sockets directly (componentize-py's CPython has no socket module).

Each poll asks for the instance's network, then for a TCP socket, a UDP socket and a name
lookup, logs what the host answered to each, and reports how many sockets or lookup
streams it got: 0 in a sandbox that grants no network.
"""

from collections.abc import Callable
from typing import Any

from componentize_py_types import Err
from harvester_sdk import SensorBase, guard, log, metric, reading
from wit_world import exports
from wit_world.exports import sensor
from wit_world.imports import (
    instance_network,
    ip_name_lookup,
    network,
    tcp_create_socket,
    udp_create_socket,
)

IPV4 = network.IpAddressFamily.IPV4


def _attempt(name: str, call: Callable[[], Any]) -> int:
    """1 if `call` handed out a socket or stream (released at once), else 0; logs which."""
    try:
        handle = call()
    except Err as err:
        code = getattr(err.value, "name", str(err.value)).lower().replace("_", "-")
        log.info(f"{name}: denied ({code})")
        return 0
    with handle:
        log.info(f"{name}: ALLOWED")
    return 1


class Sensor(SensorBase, exports.Sensor):
    metrics = (metric("value", ""),)

    @guard
    def poll(self) -> list[sensor.Reading]:
        # instance-network has no error case: the host answers with a handle or traps.
        with instance_network.instance_network() as net:
            log.info("instance-network: got a network handle")
            allowed = (
                _attempt("create-tcp-socket", lambda: tcp_create_socket.create_tcp_socket(IPV4))
                + _attempt("create-udp-socket", lambda: udp_create_socket.create_udp_socket(IPV4))
                + _attempt(
                    "resolve-addresses", lambda: ip_name_lookup.resolve_addresses(net, "localhost")
                )
            )
        return [reading("value", allowed)]
