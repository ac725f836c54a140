"""The embedded broker's child process: amqtt on one TCP listener, with the cluster's
users and ACL (amqtt_plugins.py) or anonymous access, and retained messages kept on disk.
Started by EmbeddedBrokerProcess (embedded.py); prints `READY host:port` once it listens
and stops on SIGTERM.

    python -m harvester.mesh.broker.child --host 127.0.0.1 --port 1883 \\
        [--cluster cluster.toml --discovery-prefix homeassistant] [--retained FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import signal
import sys
from typing import Any

from harvester.mesh.broker.embedded import EXIT_PORT_TAKEN, READY

# A client silent for its keep-alive plus this many seconds is dropped (and its will
# published). MQTT asks for 1.5 keep-alives; with the nodes' 5 s that is 7.5 s, this 8 s.
KEEPALIVE_GRACE_S = 3


def broker_config(args: argparse.Namespace) -> dict[str, Any]:
    """amqtt's config: one TCP listener; our cluster plugins, or anonymous access."""
    plugins: dict[str, Any]
    if args.cluster:
        policy = {"cluster_file": args.cluster, "discovery_prefix": args.discovery_prefix}
        plugins = {
            "harvester.mesh.broker.amqtt_plugins.ClusterAuthPlugin": policy,
            "harvester.mesh.broker.amqtt_plugins.ClusterAclPlugin": policy,
        }
    else:
        plugins = {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}}
    if args.retained:
        plugins["harvester.mesh.broker.amqtt_plugins.RetainedStorePlugin"] = {"file": args.retained}
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{args.host}:{args.port}"}},
        "timeout_disconnect_delay": KEEPALIVE_GRACE_S,
        "plugins": plugins,
    }


def only_own_retained(broker_class: Any) -> None:
    """amqtt 0.12.1, on every connect, sends retained messages for every topic filter
    ANY client subscribed to (`for topic in self._subscriptions` in client_connected),
    not only the connecting session's: a spoke connecting after the hub's collector
    subscribed to `harvester/+/status` received every node's retained status, and
    Home Assistant's discovery configs, past the ACL. Send retained messages only for
    filters the session itself holds."""
    original = broker_class._publish_retained_messages_for_subscription
    if getattr(original, "only_own", False):
        return

    async def for_own_subscriptions(self: Any, subscription: tuple[str, int], session: Any) -> None:
        holders = self._subscriptions.get(subscription[0], ())
        if any(held.client_id == session.client_id for held, _qos in holders):
            await original(self, subscription, session)

    for_own_subscriptions.only_own = True  # type: ignore[attr-defined]
    broker_class._publish_retained_messages_for_subscription = for_own_subscriptions


def enforce_keepalive(handler_class: Any) -> None:
    """amqtt 0.12.1 reads a client's stream with the keep-alive (plus
    `timeout-disconnect-delay`) as timeout but then does nothing (`handle_read_timeout`
    is `pass`): a node that vanished without a TCP reset (power cut, cable, a network
    partition) stayed "connected" and its last will never went out. End the session
    instead, as MQTT 3.1.1 (3.1.2-24) requires: the reader loop ends and the broker
    publishes the will."""
    if getattr(handler_class.handle_read_timeout, "enforces", False):
        return

    def handle_read_timeout(self: Any) -> None:
        client = getattr(self.session, "client_id", "?")
        logging.getLogger("harvester.mesh.broker").info(
            "client %s silent past its keep-alive: disconnected (its will goes out)", client
        )
        if self._reader_task is not None and not self._reader_task.done():
            self._reader_task.cancel()

    handle_read_timeout.enforces = True  # type: ignore[attr-defined]
    handler_class.handle_read_timeout = handle_read_timeout


async def serve(args: argparse.Namespace) -> int:
    from amqtt.broker import Broker  # the hub process itself never imports amqtt
    from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler

    only_own_retained(Broker)
    enforce_keepalive(BrokerProtocolHandler)
    where = f"{args.host}:{args.port}"
    broker = Broker(broker_config(args))
    try:
        await broker.start()
    except Exception as exc:  # amqtt wraps the OSError in BrokerError; find it
        cause: BaseException | None = exc
        while cause is not None and not isinstance(cause, OSError):
            cause = cause.__cause__
        if isinstance(cause, OSError) and cause.errno == errno.EADDRINUSE:
            print(f"cannot listen on {where}: the port is taken", file=sys.stderr)
            return EXIT_PORT_TAKEN
        print(f"cannot start the broker on {where}: {exc!r} (cause: {cause!r})", file=sys.stderr)
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"{READY} {where}", flush=True)
    await stop.wait()
    await broker.shutdown()
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Harvester's embedded MQTT broker (amqtt)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=1883)
    p.add_argument("--cluster", help="cluster file: enforce its users and ACL")
    p.add_argument("--discovery-prefix", default="homeassistant")
    p.add_argument("--retained", help="SQLite file that keeps retained messages across restarts")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("harvester.mesh.broker").setLevel(logging.INFO)
    if args.cluster:
        from harvester.mesh.broker.amqtt_plugins import cluster_policy

        try:  # a bad cluster or secrets file: name it, before listening
            cluster_policy(args.cluster, args.discovery_prefix)
        except Exception as exc:
            print(f"cannot load the cluster's users: {exc}", file=sys.stderr)
            return 2
    return asyncio.run(serve(args))


if __name__ == "__main__":
    sys.exit(main())
