"""Commands over the mesh: the node's executor and the hub's client, named in one place.

harvester/<node>/cmd/<command>   hub → node   CommandRequest (QoS 1)
harvester/<node>/cmd-result      node → hub   CommandResult (QoS 1), by the request's id
"""

from harvester.mesh.command_client import CommandClient
from harvester.mesh.command_executor import RESTART, CommandExecutor
from harvester.mesh.command_record import CommandRecord

__all__ = ["RESTART", "CommandClient", "CommandExecutor", "CommandRecord"]
