"""The JSON payloads of the topic tree (harvester/mesh/topics.py), version 1.

Every payload is a JSON object with `"v": 1`. A receiver checks the size first, then the
JSON, then the schema (these models); anything that fails is dropped with a log line
naming topic, sender and reason (`decode` raises PayloadError carrying that reason), and
the receiver goes on. docs/mesh.md documents every field; docs/mesh-schema.json is the
JSON Schema made from these models (`python -m harvester.mesh.payloads > docs/mesh-schema.json`,
checked current by tests/mesh/test_payloads.py).
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, Final, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from harvester.constants import (
    COMMAND_NAME_PATTERN,
    METRIC_NAME_PATTERN,
    DeviceClass,
    LogLevel,
    StateClass,
)

VERSION: Final = 1
# Larger payloads are dropped unread. A batch is cut well below this by the sender.
MAX_PAYLOAD_BYTES: Final = 1024 * 1024
BATCH_TARGET_BYTES: Final = 256 * 1024
MAX_BATCH: Final = 5000
MAX_MESSAGE: Final = 4096  # characters of one log line or command error

NAME = r"^[a-z][a-z0-9-]{0,31}$"  # node and plugin names (config.model.PLUGIN_NAME)
Name = Annotated[str, Field(pattern=NAME)]
MetricName = Annotated[str, Field(pattern=METRIC_NAME_PATTERN)]
Seq = Annotated[int, Field(ge=1, le=2**63 - 1)]
# Seconds since the epoch, as the sender's clock says. 2001..2286: a clock at 0 is a bug.
Timestamp = Annotated[float, Field(ge=1e9, le=1e10)]
Text = Annotated[str, Field(max_length=MAX_MESSAGE)]
CommandName = Annotated[str, Field(pattern=COMMAND_NAME_PATTERN)]
# A command id: 32 hex digits (a uuid4's hex), chosen by the sender.
CommandId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
ArgValue = bool | int | float | Annotated[str, Field(max_length=MAX_MESSAGE)]


class Payload(BaseModel):
    """Strict: unknown keys are errors, so a typo or a newer sender is noticed, not guessed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: Literal[1] = VERSION


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


# -- status, health ---------------------------------------------------------------------


class Status(Payload):
    """harvester/<node>/status (retained). The broker publishes the `offline` one as the
    node's last will when the node goes silent."""

    node: Name
    state: Literal["online", "offline"]
    role: Literal["hub", "spoke"]
    at: Timestamp
    # Set when online: the host's version and the next sequence number it will use.
    version: Annotated[str, Field(max_length=64)] = ""
    # "will": the broker said it (the node vanished); "stop": the node said goodbye.
    reason: Literal["", "will", "stop"] = ""


class Health(Payload):
    """harvester/<node>/health, every `mesh.health_interval_s`. Metrics are floats keyed
    by name: the board's `cpu_usage`, `memory_used_percent`, `memory_used`,
    `soc_temperature`, `uptime`, `disk_used_percent`, `disk_used` (as the monitors name
    them), and the host's `host_rss_bytes`, `outbox_rows`, `outbox_dropped`,
    `plugins_running`, `plugins_total`. A metric the node cannot read is left out."""

    node: Name
    at: Timestamp
    metrics: dict[MetricName, float] = Field(max_length=64)

    @field_validator("metrics")
    @classmethod
    def _finite_values(cls, metrics: dict[str, float]) -> dict[str, float]:
        for value in metrics.values():
            _finite(value)
        return metrics


# -- telemetry (through the outbox, numbered) --------------------------------------------


class ReadingItem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: MetricName
    value: float
    unit: Annotated[str, Field(max_length=16)]
    device_class: DeviceClass = DeviceClass.NONE
    state_class: StateClass = StateClass.MEASUREMENT

    _value_is_finite = field_validator("value")(_finite)


class ReadingsItem(BaseModel):
    """One poll's readings from one plugin: one sequence number."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: Seq
    plugin: Name
    at: Timestamp
    readings: tuple[ReadingItem, ...] = Field(min_length=1, max_length=64)


class ReadingsBatch(Payload):
    """harvester/<node>/readings (QoS 1). Items in sequence order."""

    node: Name
    items: tuple[ReadingsItem, ...] = Field(min_length=1, max_length=MAX_BATCH)


class LogItem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: Seq
    at: Timestamp
    plugin: Annotated[str, Field(max_length=32)]  # "" for the host itself
    level: LogLevel
    origin: Literal["plugin", "host"]
    message: Text


class LogBatch(Payload):
    """harvester/<node>/log (QoS 1)."""

    node: Name
    items: tuple[LogItem, ...] = Field(min_length=1, max_length=MAX_BATCH)


class EventItem(BaseModel):
    """A plugin's state change (starting, running, backoff, quarantined, stopped)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: Seq
    at: Timestamp
    plugin: Name
    state: Literal["starting", "running", "backoff", "quarantined", "stopped"]
    reason: Text = ""


class EventsBatch(Payload):
    """harvester/<node>/events (QoS 1)."""

    node: Name
    items: tuple[EventItem, ...] = Field(min_length=1, max_length=MAX_BATCH)


# -- plugins, state ----------------------------------------------------------------------


class MetricInfo(BaseModel):
    """What a plugin said about one of its metrics (sensor.describe)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: MetricName
    unit: Annotated[str, Field(max_length=16)]
    device_class: DeviceClass = DeviceClass.NONE
    state_class: StateClass = StateClass.MEASUREMENT


class PluginInfo(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Name
    # sha256 of the running component (first 16 hex digits); "" if none loaded, "native"
    # for the host's own monitor.
    version: Annotated[str, Field(max_length=64)]
    state: Literal["starting", "running", "backoff", "quarantined", "stopped"]
    restarts: int = Field(ge=0)
    # The plugin's grants as in its node config (config.Grants, dumped to JSON).
    grants: dict[str, Any]
    commands: tuple[CommandName, ...] = ()
    # A sensor's metrics as it described them (empty until its first start).
    metrics: tuple[MetricInfo, ...] = Field(default=(), max_length=64)
    poll_interval_s: float | None = None
    # When a signed deploy put the running version in place (docs/lifecycle-deploy.md):
    # its sequence and the id of the key whose signature the node checked.
    deploy_sequence: int | None = Field(default=None, ge=1, le=2**63 - 1)
    deploy_key: Annotated[str, Field(pattern=r"^([0-9a-f]{16})?$")] = ""


class Plugins(Payload):
    """harvester/<node>/plugins (retained): every plugin of the node, republished on change."""

    node: Name
    at: Timestamp
    plugins: tuple[PluginInfo, ...] = Field(max_length=256)


class PluginState(Payload):
    """harvester/<node>/state/<plugin> (retained): the latest value of each metric, for
    Home Assistant and other consumers of "now" (history goes through the outbox)."""

    node: Name
    plugin: Name
    at: Timestamp
    values: dict[MetricName, float] = Field(max_length=64)


# -- commands ----------------------------------------------------------------------------


class CommandRequest(Payload):
    """harvester/<node>/cmd/<command> (QoS 1, from the hub only). `plugin.restart` with
    `{"plugin": name}` is the host's own; every other command goes to the plugin that
    offers it (or to `plugin`, when several do)."""

    id: CommandId
    command: CommandName
    args: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")], ArgValue] = Field(
        default_factory=dict, max_length=32
    )
    plugin: Name | None = None
    sent_at: Timestamp
    # The node does not execute a request it receives after this (answers `expired`).
    expires_at: Timestamp


ErrorCode = Literal[
    "expired",  # it arrived after expires_at: not executed
    "unknown-command",  # no plugin on the node offers it
    "rejected",  # the host refused the arguments (names the argument)
    "unavailable",  # the plugin is not running now
    "failed",  # the plugin refused or failed it (its own message)
    "fault",  # it killed the plugin's instance (which restarts)
    "offline",  # (hub side) the node is offline: never sent
    "timeout",  # (hub side) no answer in time
]


class CommandError(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: ErrorCode
    message: Text


class CommandResult(Payload):
    """harvester/<node>/cmd-result (QoS 1): the answer to the request with the same id. A
    redelivered request is answered again from the node's record, not executed again."""

    id: CommandId
    node: Name
    command: CommandName
    plugin: Annotated[str, Field(max_length=32)] = ""
    ok: bool
    result: dict[str, ArgValue] = Field(default_factory=dict, max_length=32)
    error: CommandError | None = None
    at: Timestamp
    # True when this answer repeats the recorded one of an earlier delivery.
    repeated: bool = False


# -- deploys ----------------------------------------------------------------------------

# applied: written and reloaded (or the same deploy again: `repeated`).
# refused: a check failed; nothing on the node changed.
# failed: written, but the new version did not start; the old one keeps running.
DeployState = Literal["applied", "refused", "failed"]
KeyId = Annotated[str, Field(pattern=r"^([0-9a-f]{16})?$")]


class DeployResult(Payload):
    """harvester/<node>/deploy-result (QoS 1): the node's answer to the bundle it got on
    harvester/<node>/deploy/<plugin> (a binary, signed bundle: no JSON model)."""

    node: Name
    plugin: Annotated[str, Field(max_length=32)]  # "" when the bundle did not even say
    sequence: int = Field(ge=0, le=2**63 - 1)  # 0 when the bundle did not even say
    key_id: KeyId = ""
    result: DeployState
    version: Annotated[str, Field(max_length=64)] = ""  # what runs now
    previous: Annotated[str, Field(max_length=64)] = ""  # what ran before
    detail: Text = ""
    repeated: bool = False
    at: Timestamp


# -- encoding and decoding ---------------------------------------------------------------

P = TypeVar("P", bound=Payload)


class PayloadError(ValueError):
    """A received payload was dropped; the message says why (for the log line)."""


def encode(payload: Payload) -> bytes:
    return payload.model_dump_json(exclude_defaults=False).encode()


def decode(model: type[P], raw: bytes | bytearray, *, max_bytes: int = MAX_PAYLOAD_BYTES) -> P:
    """`raw` checked for size, JSON, version and schema; PayloadError says what failed."""
    if len(raw) > max_bytes:
        raise PayloadError(f"oversized: {len(raw)} bytes (limit {max_bytes})")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise PayloadError(f"not a JSON object but {type(data).__name__}")
    if data.get("v") != VERSION:
        raise PayloadError(f"wrong version {data.get('v')!r} (this node reads v={VERSION})")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise PayloadError(f"{model.__name__}: {where}: {first['msg']}{more}") from exc


# Which model each topic kind carries.
MODELS: Final[dict[str, type[Payload]]] = {
    "status": Status,
    "health": Health,
    "readings": ReadingsBatch,
    "log": LogBatch,
    "events": EventsBatch,
    "plugins": Plugins,
    "state": PluginState,
    "cmd": CommandRequest,
    "cmd-result": CommandResult,
    "deploy-result": DeployResult,
}


def json_schema() -> dict[str, Any]:
    """One JSON Schema document with a definition per topic kind."""
    defs: dict[str, Any] = {}
    for model in MODELS.values():
        schema = model.model_json_schema(ref_template="#/$defs/{model}")
        defs.update(schema.pop("$defs", {}))
        defs[model.__name__] = schema
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Harvester mesh payloads, version 1",
        "description": "One definition per topic kind; see docs/mesh.md.",
        "x-topics": {kind: f"#/$defs/{model.__name__}" for kind, model in MODELS.items()},
        "$defs": defs,
    }


if __name__ == "__main__":
    print(json.dumps(json_schema(), indent=2, sort_keys=True))
