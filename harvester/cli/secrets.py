"""`harvester secrets init`: every node's MQTT credentials, the hub API's token and the
cluster's deploy signing key, as private files in the cluster's secrets folder (never
printed, never in the repo); the deploy key's public half goes into the cluster's
trusted-keys folder, which every member trusts (docs/lifecycle-deploy.md)."""

from __future__ import annotations

import argparse
import secrets
from pathlib import Path

from rich.markup import escape

from harvester.cli.ui import console, out
from harvester.config.cluster import ClusterConfig, load_cluster_config
from harvester.config.secrets import write_private
from harvester.node.deploy import generate, key_id, write_key_pair

PASSWORD_BYTES = 24  # 192 bits: a password nobody types, so length costs nothing


def _toml_str(value: str) -> str:
    # token_urlsafe and node names hold only [A-Za-z0-9_-]: nothing to escape.
    return f'"{value}"'


def ensure_secrets(cluster: ClusterConfig, *, force: bool = False, quiet: bool = False) -> None:
    """Write every node's credentials and the API token that are missing (all, with
    `force`), readable by their owner only. Prints the files, never their contents."""
    files: dict[Path, str] = {
        cluster.credentials_file(n.name): (
            f"username = {_toml_str(n.name)}\n"
            f"password = {_toml_str(secrets.token_urlsafe(PASSWORD_BYTES))}\n"
        )
        for n in cluster.nodes
    }
    files[cluster.token_file] = f"token = {_toml_str(secrets.token_urlsafe(PASSWORD_BYTES))}\n"
    if not quiet:
        console.print(
            f"cluster [bold]{cluster.name}[/]: secrets in {escape(str(cluster.secrets_dir))}"
        )
    for path, text in files.items():
        if path.exists() and not force:
            if not quiet:
                out.print(f"  kept    {escape(str(path))} (exists; --force replaces it)")
            continue
        write_private(path, text)
        if not quiet:
            out.print(f"  wrote   {escape(str(path))} (0600)")
    ensure_deploy_key(cluster, force=force, quiet=quiet)


def deploy_key_public(cluster: ClusterConfig) -> Path:
    """Where the cluster deploy key's public half is trusted."""
    return cluster.trusted_keys_dir / f"{cluster.name}-deploy.pub"


def ensure_deploy_key(cluster: ClusterConfig, *, force: bool = False, quiet: bool = False) -> None:
    """The cluster's deploy key (private, 0600) and its .pub in trusted-keys, if missing.
    With `force` a new key replaces both: bundles the old one signed are refused then."""
    private, public = cluster.deploy_key, deploy_key_public(cluster)
    if private.exists() and not force:
        if not quiet:
            out.print(f"  kept    {escape(str(private))} (exists; --force replaces it)")
        return
    private.unlink(missing_ok=True)
    public.unlink(missing_ok=True)
    key = generate()
    write_key_pair(key, private, public)
    if not quiet:
        out.print(f"  wrote   {escape(str(private))} (0600, deploy key {key_id(key.public_key())})")
        out.print(f"  wrote   {escape(str(public))} (trusted by every member)")


def cmd_init(args: argparse.Namespace) -> int:
    ensure_secrets(load_cluster_config(args.cluster), force=args.force)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("secrets", help="make the cluster's credentials and API token")
    actions = group.add_subparsers(dest="action", required=True)
    init = actions.add_parser(
        "init",
        help="write <secrets_dir>/<node>.toml for every node, api-token.toml, deploy-key.pem"
        " and its trusted-keys/<cluster>-deploy.pub",
    )
    init.add_argument("--cluster", type=Path, required=True, help="the cluster's TOML file")
    init.add_argument("--force", action="store_true", help="replace existing files")
    init.set_defaults(func=cmd_init)
