"""The cluster description: which nodes there are, their roles, where the broker is.

One TOML file (examples/cluster/cluster.toml is the reference cluster). The broker's
config (users, ACL, bridge) is generated from it, `harvester secrets init` makes every
node's credentials from it, and `harvester demo` starts its nodes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, ValidationError, field_validator, model_validator

from harvester.config.base import Frozen, refuse_repeats
from harvester.config.load import ConfigError, read_toml, validation_problems
from harvester.config.mesh import BrokerAddress, MeshConfig, WebConfig
from harvester.config.model import NodeConfig

NODE_NAME = r"^[a-z][a-z0-9-]{0,31}$"


class ClusterNode(Frozen):
    name: str = Field(pattern=NODE_NAME)
    role: Literal["hub", "spoke"]
    # The node's own config file (relative to the cluster file).
    config: Path
    # Deployment data: where the node lives on the LAN. Nothing here connects to it.
    address: str | None = Field(default=None, max_length=253)


class ServerTls(Frozen):
    """TLS on the broker's listener (Mosquitto `certfile`/`keyfile`/`cafile`)."""

    port: int = Field(default=8883, ge=1, le=65535)
    cert_file: Path
    key_file: Path
    ca_file: Path | None = None


class Bridge(Frozen):
    """Forward the fleet's topics to an upstream broker (fleets that outgrow one hub)."""

    name: str = Field(default="upstream", pattern=r"^[a-z][a-z0-9-]{0,31}$")
    host: str = Field(min_length=1, max_length=253)
    port: int = Field(default=8883, ge=1, le=65535)
    # Secrets file with `username`/`password` on the upstream broker.
    credentials: Path | None = None
    ca_file: Path | None = None
    # Topics go out under this prefix upstream (`<prefix>harvester/...`).
    remote_prefix: str = Field(default="", pattern=r"^([A-Za-z0-9_-]+/)*$")


class BrokerSettings(Frozen):
    # Where the hub's broker listens. Nodes connect to the hub's `address` at this port
    # (127.0.0.1 when the hub has no address: everything on one machine).
    listen: BrokerAddress = BrokerAddress(host="0.0.0.0")
    # "embedded": the hub starts amqtt itself; "mosquitto": a Mosquitto configured by
    # `harvester broker config` (or the NixOS hub module) runs beside it.
    kind: Literal["embedded", "mosquitto"] = "embedded"
    persistence: bool = True
    tls: ServerTls | None = None
    bridge: Bridge | None = None


class ClusterConfig(Frozen):
    name: str = Field(default="harvester", pattern=NODE_NAME)
    # Where each node's credentials are written and read (`<node>.toml`), relative to the
    # cluster file. Outside the repo in production.
    secrets_dir: Path = Path("secrets")
    broker: BrokerSettings = BrokerSettings()
    nodes: tuple[ClusterNode, ...] = Field(min_length=1)
    path: Path | None = Field(default=None, exclude=True)  # the file it came from

    @field_validator("nodes")
    @classmethod
    def _names(cls, nodes: tuple[ClusterNode, ...]) -> tuple[ClusterNode, ...]:
        refuse_repeats((n.name for n in nodes), "node names must be unique; repeated: {}")
        return nodes

    @model_validator(mode="after")
    def _one_hub(self) -> Self:
        hubs = [n.name for n in self.nodes if n.role == "hub"]
        if len(hubs) != 1:
            raise ValueError(f"a cluster has exactly one hub (role = 'hub'); found {hubs or 0}")
        return self

    @property
    def hub(self) -> ClusterNode:
        return next(n for n in self.nodes if n.role == "hub")

    def node(self, name: str) -> ClusterNode:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def credentials_file(self, node: str) -> Path:
        return self.secrets_dir / f"{node}.toml"

    @property
    def token_file(self) -> Path:
        """The hub API's write token."""
        return self.secrets_dir / "api-token.toml"

    @property
    def trusted_keys_dir(self) -> Path:
        """Public keys every member trusts to sign deploys (docs/lifecycle.md)."""
        return self.secrets_dir / "trusted-keys"

    @property
    def deploy_key(self) -> Path:
        """The cluster's own deploy signing key (private; made by `harvester secrets init`)."""
        return self.secrets_dir / "deploy-key.pem"


def join(config: NodeConfig, cluster: ClusterConfig) -> NodeConfig:
    """`config` as a member of `cluster`: the broker's address, the node's credentials
    file and (on the hub) the broker it runs and the API token come from the cluster.
    What the node's own file says under [mesh] and [hub] stays, except those.

    Raises ValueError if the cluster does not list the node, or lists it with another role.
    """
    try:
        member = cluster.node(config.name)
    except KeyError:
        names = ", ".join(n.name for n in cluster.nodes)
        raise ValueError(f"node {config.name!r} is not in the cluster (it has {names})") from None
    if member.role != config.role:
        raise ValueError(
            f"node {config.name!r} is a {config.role} in its config but a {member.role}"
            f" in the cluster"
        )
    port = cluster.broker.listen.port
    connect = BrokerAddress(host=cluster.hub.address or "127.0.0.1", port=port)
    mesh = (config.mesh or MeshConfig()).model_copy(
        update={"broker": connect, "credentials": cluster.credentials_file(config.name)}
    )
    update: dict[str, object] = {"mesh": mesh}
    if config.deploy.trusted_keys_dir is None:
        update["deploy"] = config.deploy.model_copy(
            update={"trusted_keys_dir": cluster.trusted_keys_dir}
        )
    if config.role == "hub":
        hub = config.hub_settings
        embedded = hub.embedded.model_copy(
            update={
                "host": cluster.broker.listen.host,
                "port": port,
                "cluster": cluster.path,
            }
        )
        web: WebConfig = hub.web.model_copy(update={"token_file": cluster.token_file})
        broker = "embedded" if cluster.broker.kind == "embedded" else "external"
        hub = hub.model_copy(update={"broker": broker, "embedded": embedded, "web": web})
        update["hub"] = hub
        if broker == "embedded":  # the hub's own client goes to its own broker
            mesh = mesh.model_copy(update={"broker": BrokerAddress(host="127.0.0.1", port=port)})
            update["mesh"] = mesh
    return config.model_copy(update=update)


def load_cluster_config(path: Path | str) -> ClusterConfig:
    """Load and validate a cluster file; paths in it become relative to its folder.

    Raises ConfigError naming the file and every bad key with its value."""
    path = Path(path)
    raw = read_toml(path)
    top = raw.pop("cluster", {})
    if not isinstance(top, dict):
        raise ConfigError(path, ["[cluster] must be a table"])
    raw = {**top, **raw}
    try:
        cluster = ClusterConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(path, validation_problems(exc, raw)) from exc
    # `path` is still None here, so with_base leaves it be; it is set after.
    rebased = cluster.with_base(path.parent.resolve())
    return rebased.model_copy(update={"path": path.resolve()})
