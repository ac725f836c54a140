"""`harvester broker config`: Mosquitto's config (conf, password file, ACL) generated from
the cluster description and its secrets (docs/brokers.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.markup import escape

from harvester.cli.ui import console, out
from harvester.config import load_node_config
from harvester.config.cluster import ClusterConfig, load_cluster_config
from harvester.config.secrets import SecretsError
from harvester.mesh.broker import load_cluster_credentials, render
from harvester.mesh.broker.rules import DEFAULT_DISCOVERY_PREFIX


def discovery_prefix(cluster: ClusterConfig) -> str:
    """The hub's Home Assistant discovery prefix (its config's [hub]), or the default when
    its config file is not there (generating on a machine that holds only the cluster)."""
    if not cluster.hub.config.exists():
        return DEFAULT_DISCOVERY_PREFIX
    return load_node_config(cluster.hub.config).hub_settings.discovery_prefix


def cmd_config(args: argparse.Namespace) -> int:
    cluster = load_cluster_config(args.cluster)
    try:
        credentials = load_cluster_credentials(cluster)
    except SecretsError as exc:
        console.print(
            f"[red]cannot read the nodes' credentials:[/] {escape(str(exc))}\n"
            f"make them with: harvester secrets init --cluster {escape(str(args.cluster))}",
            soft_wrap=True,
        )
        return 2
    prefix = discovery_prefix(cluster)  # a bad hub config: ConfigError names its file
    try:  # the bridge's credentials file is read here
        files = render(
            cluster,
            credentials,
            directory=args.out,
            persistence_dir=args.persistence_dir,
            discovery_prefix=prefix,
            run_as=args.user,
        )
    except SecretsError as exc:
        console.print(f"[red]cannot read a secrets file:[/] {escape(str(exc))}", soft_wrap=True)
        return 2
    for path, mode in files.write().items():
        out.print(f"wrote {escape(str(path))} ({mode})")
    conf = files.directory / "mosquitto.conf"
    listen = cluster.broker.listen
    out.print(
        f"\nusers: {', '.join(n.name for n in cluster.nodes)} (hub: {cluster.hub.name});"
        f" Home Assistant discovery under {prefix}/\n"
        f"run:   mosquitto -c {escape(str(conf))}\n"
        f"       (it listens on {listen.host}:{listen.port}; started as root it switches to"
        f" user {escape(args.user or 'mosquitto')}, who must own {escape(str(files.directory))})\n"
        "nodes: set \\[mesh] broker to this host and \\[mesh] credentials to the node's file"
        f" in {escape(str(cluster.secrets_dir))}\n"
        "NixOS: services.harvester's broker option builds the same users and ACL itself."
    )
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("broker", help="the fleet's MQTT broker")
    actions = group.add_subparsers(dest="action", required=True)
    config = actions.add_parser(
        "config", help="write mosquitto.conf, its password file and ACL from a cluster file"
    )
    config.add_argument("--cluster", type=Path, required=True, help="the cluster's TOML file")
    config.add_argument("--out", type=Path, required=True, help="folder for the three files")
    config.add_argument(
        "--persistence-dir", type=Path, help="where mosquitto keeps its store (default: --out)"
    )
    config.add_argument(
        "--user", help="the user mosquitto switches to when started as root (default: mosquitto)"
    )
    config.set_defaults(func=cmd_config)
