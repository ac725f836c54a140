"""`harvester keys`: make and list ed25519 deploy signing keys.

    harvester keys create [NAME] [--dir DIR]   NAME.pem (private, 0600) and NAME.pub
    harvester keys list [--dir DIR] [--cluster FILE]

Keys live in the per-user config folder ($XDG_CONFIG_HOME/harvester/keys, else
~/.config/harvester/keys) unless --dir says otherwise. A node trusts a key when its
`ed25519:...` line is in the node's `deploy.trusted_keys` or a `.pub` file of its
`deploy.trusted_keys_dir` (in a cluster: `<secrets_dir>/trusted-keys/`).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from harvester.cli.ui import console, out
from harvester.config.cluster import load_cluster_config
from harvester.node.deploy import (
    KeyFileError,
    generate,
    key_id,
    load_private,
    parse_public,
    public_line,
    write_key_pair,
)

DEFAULT_NAME = "deploy"


def user_keys_dir() -> Path:
    """`$XDG_CONFIG_HOME/harvester/keys`, or `~/.config/harvester/keys` (a relative
    XDG_CONFIG_HOME is ignored, as the spec says)."""
    xdg = os.environ.get("XDG_CONFIG_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".config"
    return base / "harvester" / "keys"


def cmd_create(args: argparse.Namespace) -> int:
    folder: Path = args.dir or user_keys_dir()
    private, public = folder / f"{args.name}.pem", folder / f"{args.name}.pub"
    if private.exists() or public.exists():
        console.print(f"[red]exists:[/] {escape(str(private))}: keys are never replaced here")
        return 1
    key = generate()
    write_key_pair(key, private, public)
    out.print(f"wrote   {escape(str(private))} (private, 0600)")
    out.print(f"wrote   {escape(str(public))}")
    out.print(f"key id  {key_id(key.public_key())}")
    out.print(f"public  {public_line(key.public_key())}")
    out.print("Trust it on a node: copy the .pub into the cluster's trusted-keys folder, or add")
    out.print("the public line to the node's \\[deploy] trusted_keys.")
    return 0


def _public_rows(folder: Path) -> list[tuple[str, str, str, str]]:
    """(name, key id, public line, what) for every key in `folder`."""
    rows = []
    for path in sorted(folder.glob("*.pem")):
        try:
            pub = load_private(path).public_key()
        except KeyFileError as exc:
            rows.append((path.stem, "?", str(exc), "private: unreadable"))
            continue
        rows.append((path.stem, key_id(pub), public_line(pub), "private + public"))
    for path in sorted(folder.glob("*.pub")):
        if (path.with_suffix(".pem")).exists():
            continue
        try:
            pub = parse_public(path.read_text(encoding="utf-8"), where=str(path))
        except (KeyFileError, OSError) as exc:
            rows.append((path.stem, "?", str(exc), "public: unreadable"))
            continue
        rows.append((path.stem, key_id(pub), public_line(pub), "public"))
    return rows


def _table(title: str, rows: list[tuple[str, str, str, str]]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("name", "key id", "public key", "held"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    return table


def cmd_list(args: argparse.Namespace) -> int:
    folder: Path = args.dir or user_keys_dir()
    out.print(_table(f"keys in {folder}", _public_rows(folder) if folder.is_dir() else []))
    if args.cluster is not None:
        cluster = load_cluster_config(args.cluster)
        trusted = cluster.trusted_keys_dir
        rows = _public_rows(trusted) if trusted.is_dir() else []
        out.print(_table(f"cluster {cluster.name}: trusted keys in {trusted}", rows))
        if cluster.deploy_key.exists():
            try:
                pub = load_private(cluster.deploy_key).public_key()
                out.print(f"cluster deploy key {cluster.deploy_key}: {key_id(pub)}")
            except KeyFileError as exc:
                console.print(f"[red]cluster deploy key:[/] {escape(str(exc))}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("keys", help="make and list ed25519 keys that sign deploys")
    actions = group.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="a new key pair: NAME.pem (0600) and NAME.pub")
    create.add_argument("name", nargs="?", default=DEFAULT_NAME, help="the key's file name")
    create.add_argument("--dir", type=Path, help="where (default: the per-user config folder)")
    create.set_defaults(func=cmd_create)
    listing = actions.add_parser("list", help="names, key ids and public keys")
    listing.add_argument("--dir", type=Path, help="where (default: the per-user config folder)")
    listing.add_argument(
        "--cluster", type=Path, help="also the cluster's trusted keys and its deploy key"
    )
    listing.set_defaults(func=cmd_list)
