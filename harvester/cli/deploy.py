"""`harvester deploy`: build a plugin, sign it, and send it to nodes through the hub.

    harvester deploy --cluster examples/cluster.toml --node pi4 plugins/bme680
    harvester deploy --cluster examples/cluster.toml --all plugins/bme680

The plugin folder is built (cached by content hash), its component compressed once and
signed per node and plugin with the cluster's deploy key (or --key), uploaded to the
hub's API (POST /api/deploys), which holds it for the node. Then, per node: applied
(the new version runs), refused (the node's reason: nothing on it changed), or pending
(the node is offline: the hub holds the deploy and it is applied when the node is back).
Exit status 0 when every node applied or is pending, 1 when one refused, 2 for a setup
error (no such node, no key, the hub unreachable).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from rich.markup import escape

from harvester.cli.ui import console, out
from harvester.config.cluster import ClusterConfig, load_cluster_config
from harvester.config.load import load_node_config
from harvester.config.secrets import load_token

CHUNK: Final = 256 * 1024
POLL_S: Final = 0.5  # between looks at the hub's deploy list (another process's state)


@dataclass(frozen=True)
class Target:
    node: str
    plugin: str  # as the node's config names it (it runs the built component)


def hub_url(cluster: ClusterConfig) -> str:
    """The hub's API as reachable from here: its address in the cluster (else loopback)
    and its web port."""
    hub = load_node_config(cluster.hub.config)
    web = hub.hub_settings.web
    host = cluster.hub.address or ("127.0.0.1" if web.host in ("0.0.0.0", "::") else web.host)
    return f"http://{host}:{web.port}"


def targets(cluster: ClusterConfig, component: str, nodes: list[str], every: bool) -> list[Target]:
    """The (node, plugin) pairs that run `component`. Raises SystemExit(2) naming a node
    that does not run it, or is not in the cluster."""
    found: list[Target] = []
    names = [n.name for n in cluster.nodes] if every else nodes
    for name in names:
        try:
            member = cluster.node(name)
        except KeyError:
            known = ", ".join(n.name for n in cluster.nodes)
            console.print(f"[red]no node {escape(name)}[/] in the cluster (it has {known})")
            raise SystemExit(2) from None
        config = load_node_config(member.config)
        running = [p.name for p in config.plugins if p.component_name == component]
        if not running and not every:
            console.print(
                f"[red]node {escape(name)} runs no plugin from {escape(component)}.wasm[/]"
                f" (it runs: {', '.join(p.name for p in config.plugins) or 'none'})"
            )
            raise SystemExit(2)
        found += [Target(name, plugin) for plugin in running]
    if not found:
        console.print(f"[red]no node of the cluster runs {escape(component)}.wasm[/]")
        raise SystemExit(2)
    return found


async def _send(
    args: argparse.Namespace, cluster: ClusterConfig, bundles: dict[Target, bytes]
) -> int:
    import aiohttp
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    base = args.hub or hub_url(cluster)
    token = load_token(cluster.token_file)
    auth = {"Authorization": f"Bearer {token}"}
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=120)
    answers: dict[Target, dict[str, Any]] = {}
    async with aiohttp.ClientSession(timeout=timeout, headers=auth) as http:
        columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn())
        with Progress(*columns, console=console) as bars:

            async def upload(target: Target, raw: bytes) -> None:
                task = bars.add_task(f"{target.node}/{target.plugin} uploading", total=len(raw))

                async def body() -> AsyncIterator[bytes]:
                    for at in range(0, len(raw), CHUNK):
                        yield raw[at : at + CHUNK]
                        bars.advance(task, len(raw[at : at + CHUNK]))

                async with http.post(
                    f"{base}/api/deploys",
                    params={"node": target.node},
                    data=body(),
                    headers={"Content-Type": "application/octet-stream",
                             "Content-Length": str(len(raw))},
                ) as reply:  # fmt: skip
                    answer = await reply.json(content_type=None)
                    if reply.status != 200:
                        message = answer.get("error") if isinstance(answer, dict) else answer
                        answers[target] = {"state": "upload-failed", "detail": str(message)}
                    else:
                        answers[target] = answer
                bars.update(task, description=f"{target.node}/{target.plugin} uploaded")

            await asyncio.gather(*(upload(t, raw) for t, raw in bundles.items()))
        for target, answer in answers.items():
            if answer.get("state") == "pending":
                out.print(f"{target.node:<10} {target.plugin:<14} uploaded: pending at the hub")
        return await _follow(http, base, answers, args.wait)


async def _follow(
    http: Any, base: str, answers: dict[Target, dict[str, Any]], wait_s: float
) -> int:
    """Until every node answered, is offline (the hub holds its deploy), or `wait_s` passed."""
    until = time.monotonic() + wait_s
    waiting = {t: a for t, a in answers.items() if a.get("state") == "pending"}
    final = {t: a for t, a in answers.items() if a.get("state") != "pending"}
    while waiting:
        async with http.get(f"{base}/api/deploys") as reply:
            listed = (await reply.json())["deploys"]
        for target, sent in list(waiting.items()):
            now = next((d for d in listed if d["node"] == target.node
                        and d["plugin"] == target.plugin
                        and d["sequence"] == sent["sequence"]), sent)  # fmt: skip
            if now["state"] != "pending":
                final[target] = waiting.pop(target) | now
                continue
            async with http.get(f"{base}/api/nodes/{target.node}") as reply:
                detail = await reply.json() if reply.status == 200 else {}
                state = (detail.get("node") or {}).get("state")
            if state != "online" or time.monotonic() > until:
                why = "node offline" if state != "online" else f"no answer in {wait_s:g} s"
                final[target] = waiting.pop(target) | {"detail": f"{why}: held by the hub"}
        if waiting:
            await asyncio.sleep(POLL_S)  # polling the hub's list: no event crosses processes
    refused = False
    for target, answer in sorted(final.items(), key=lambda kv: (kv[0].node, kv[0].plugin)):
        state, detail = answer.get("state", "?"), escape(str(answer.get("detail", "")))
        head = f"{target.node:<10} {target.plugin:<14}"
        if state == "applied":
            out.print(f"{head} [green]applied[/] version {answer['version']}"
                      f" (sequence {answer['sequence']}, key {answer['key_id']})")  # fmt: skip
        elif state == "pending":
            out.print(f"{head} [yellow]pending[/] ({detail})")
        else:
            refused = True
            out.print(f"{head} [red]{state}[/]: {detail}")
    return 1 if refused else 0


def cmd_deploy(args: argparse.Namespace) -> int:
    from harvester.build import BuildError, build_plugin
    from harvester.build.user_cache import default_build_cache, default_out_dir
    from harvester.cli.ui import progress
    from harvester.node.deploy import KeyFileError, compress, load_private, sign

    if not args.node and not args.all:
        console.print("[red]name a node (--node, repeatable) or --all[/]")
        return 2
    cluster = load_cluster_config(args.cluster)
    try:
        key = load_private(args.key or cluster.deploy_key)
    except KeyFileError as exc:
        console.print(f"[red]signing key:[/] {escape(str(exc))}")
        console.print("make one with `harvester secrets init` or `harvester keys create`")
        return 2
    with progress() as spin:
        spin.add_task(f"building {escape(str(args.plugin))}")
        try:
            built = build_plugin(
                args.plugin.absolute(),
                out_dir=(args.out or default_out_dir()).absolute(),
                cache_dir=(args.cache or default_build_cache()).absolute(),
            )
        except BuildError as exc:
            console.print(f"[red]build failed:[/] {escape(str(exc))}")
            return 2
    how = "cached" if built.cached else f"built in {built.seconds:.1f} s"
    out.print(f"{built.manifest.name}: {built.output.name} ({how}), world {built.manifest.world}")
    # --as: the component replaces another one of the same world (a driver variant).
    name = args.as_component or built.manifest.name
    chosen = targets(cluster, name, args.node or [], args.all)
    component = built.output.read_bytes()
    packed = compress(component)
    bundles = {
        t: sign(component, key, plugin=t.plugin, component_name=name,
                world=built.manifest.world, packed=packed)
        for t in chosen
    }  # fmt: skip
    out.print(f"signed {len(bundles)} bundle(s), {len(packed)} bytes each")
    try:
        return asyncio.run(_send(args, cluster, bundles))
    except OSError as exc:  # aiohttp's connection errors are OSErrors
        console.print(f"[red]the hub is not reachable:[/] {escape(str(exc))}")
        return 2


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "deploy", help="build, sign and send a plugin to nodes through the hub",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("plugin", type=Path, help="the plugin's folder (with plugin.toml)")
    p.add_argument("--cluster", type=Path, required=True, help="the cluster's TOML file")
    p.add_argument("--node", action="append", help="a node to deploy to (repeatable)")
    p.add_argument("--all", action="store_true", help="every node whose config runs it")
    p.add_argument("--key", type=Path, help="signing key (default: the cluster's deploy key)")
    p.add_argument("--hub", help="the hub's URL (default: from the cluster)")
    p.add_argument(
        "--as", dest="as_component", metavar="COMPONENT",
        help="install it as COMPONENT.wasm (a variant of the same world, e.g. another driver)",
    )  # fmt: skip
    p.add_argument("--out", type=Path, help="where the build goes (default: <user cache>/plugins)")
    p.add_argument("--cache", type=Path, help="build cache folder (default: <user cache>/builds)")
    p.add_argument(
        "--wait", type=float, default=60.0,
        help="seconds to wait for online nodes to answer (default 60)",
    )  # fmt: skip
    p.set_defaults(func=cmd_deploy)
