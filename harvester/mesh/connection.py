"""Making a node's MQTT client: broker address, credentials, TLS, keep-alive, last will.

Every part of the mesh that talks MQTT gets its client here, so they all connect the same
way. aiomqtt clients are not reusable after a disconnect: `reconnecting` makes a fresh one
per attempt and backs off between attempts.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Self

import aiomqtt

from harvester.config import NodeConfig
from harvester.config.secrets import Credentials, load_credentials

log = logging.getLogger("harvester.mesh")

RETRY_INITIAL_S = 0.5
RETRY_MAX_S = 10.0


def node_credentials(config: NodeConfig) -> Credentials | None:
    """The node's MQTT credentials from its secrets file (None: anonymous). Raises
    SecretsError naming the file."""
    assert config.mesh is not None
    path = config.mesh.credentials
    return None if path is None else load_credentials(path)


def make_client(
    config: NodeConfig,
    *,
    client_id: str,
    credentials: Credentials | None,
    will: aiomqtt.Will | None = None,
    clean_session: bool = True,
) -> aiomqtt.Client:
    """A client for `config`'s broker (not yet connected: `async with` connects)."""
    mesh = config.mesh
    assert mesh is not None, "make_client needs a [mesh] table"
    broker = config.broker
    tls: aiomqtt.TLSParameters | None = None
    if mesh.tls is not None:
        tls = aiomqtt.TLSParameters(
            ca_certs=str(mesh.tls.ca_file),
            certfile=str(mesh.tls.cert_file) if mesh.tls.cert_file else None,
            keyfile=str(mesh.tls.key_file) if mesh.tls.key_file else None,
            cert_reqs=ssl.CERT_REQUIRED,
        )
    return aiomqtt.Client(
        broker.host,
        broker.port,
        username=credentials.username if credentials else None,
        password=credentials.password if credentials else None,
        identifier=client_id,
        will=will,
        keepalive=mesh.keepalive_s,
        clean_session=clean_session,
        tls_params=tls,
        timeout=10.0,
        logger=logging.getLogger(f"harvester.mesh.mqtt.{client_id}"),
    )


@asynccontextmanager
async def reconnecting(
    factory: Callable[[], aiomqtt.Client], *, what: str
) -> AsyncIterator[Callable[[], AsyncIterator[aiomqtt.Client]]]:
    """Yields `sessions()`: an async iterator of connected clients, one per successful
    connection, reconnecting with back-off after each loss. A session ends when the body
    of `async for` raises aiomqtt.MqttError (the connection was lost).

        async with reconnecting(factory, what="uplink") as sessions:
            async for client in sessions():
                try:
                    ...use client...
                except aiomqtt.MqttError:
                    continue   # the next iteration reconnects
    """

    async def sessions() -> AsyncIterator[aiomqtt.Client]:
        delay = RETRY_INITIAL_S
        while True:
            client = factory()
            try:
                async with client:
                    delay = RETRY_INITIAL_S
                    log.info("%s: connected", what)
                    yield client
            except aiomqtt.MqttError as exc:
                log.warning("%s: broker connection lost or refused: %s; retrying", what, exc)
            await asyncio.sleep(delay)  # back-off between attempts, not a synchronisation
            delay = min(delay * 2, RETRY_MAX_S)

    yield sessions


async def listen(
    factory: Callable[[], aiomqtt.Client],
    *,
    what: str,
    filters: Sequence[str],
    on_message: Callable[[str, object], None],
    ready: asyncio.Event,
    hold: Callable[[aiomqtt.Client | None], None],
) -> None:
    """Forever: connect, subscribe `filters` at QoS 1, hand each message's topic and
    payload to `on_message`; reconnect after a loss. `hold` is given the connected client
    (None while there is none), for publishing; `ready` is set while subscribed."""
    async with reconnecting(factory, what=what) as sessions:
        async for client in sessions():
            try:
                for topic_filter in filters:
                    await client.subscribe(topic_filter, qos=1)
                hold(client)
                ready.set()
                async for message in client.messages:
                    on_message(message.topic.value, message.payload)
            except aiomqtt.MqttError:
                continue
            finally:
                hold(None)
                ready.clear()


class Background:
    """An async context manager running `_serve()` as a task while inside; leaving
    cancels it (the mesh's MQTT services)."""

    _task: asyncio.Task[None] | None = None

    def _task_name(self) -> str:
        return type(self).__name__

    async def _serve(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._serve(), name=self._task_name())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
