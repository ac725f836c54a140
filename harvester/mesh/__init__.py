"""The fleet: nodes talk MQTT under `harvester/<node>/` (docs/mesh.md).

topics and payloads are the wire contract; connection makes clients; a spoke's uplink
sends its telemetry through the on-disk outbox; the hub's collector files everything into
history; commands travel hub → node → hub; broker/ generates Mosquitto's config and runs
the embedded broker.
"""
