"""What a node has accepted by deploy: per plugin, the last manifest it installed (who
signed which version, with which sequence), in `<state_dir>/<node>/deploys.json`.

A deploy is taken only with a sequence greater than the one recorded here, so an old
bundle sent again (a replay, or a downgrade) is refused. The file is replaced whole
(temp + fsync + rename): a crash leaves the old record or the new, never half of one.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Final

from pydantic import ValidationError

from harvester.node.deploy.bundle import Manifest
from harvester.runtime.files import write_atomically

log = logging.getLogger("harvester.node.deploy")

RECORD_NAME: Final = "deploys.json"


class AcceptedDeploys:
    """The record, loaded once and kept in memory; `accept` writes it through."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._by_plugin: dict[str, Manifest] = {}
        # Why the record could not be read ("" when it could): then every deploy is refused.
        self.damaged = ""
        try:
            raw = json.loads(path.read_bytes())
            self._by_plugin = {
                name: Manifest.model_validate(m) for name, m in raw["plugins"].items()
            }
        except FileNotFoundError:
            pass
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            # A damaged record must not let an older version in, nor stop the node: every
            # deploy is refused, saying so, until an operator removes or mends the file.
            self.damaged = f"the deploy record {path} is unreadable ({exc}); mend or remove it"
            log.error("%s", self.damaged)

    @classmethod
    def of(cls, state_dir: Path, node: str) -> AcceptedDeploys:
        return cls(state_dir / node / RECORD_NAME)

    def get(self, plugin: str) -> Manifest | None:
        return self._by_plugin.get(plugin)

    def running(self, plugin: str, version: str) -> Manifest | None:
        """The manifest of the deploy that put `version` in place for `plugin`, if one did."""
        found = self._by_plugin.get(plugin)
        return found if found is not None and found.version == version else None

    def accept(self, manifest: Manifest) -> None:
        updated = {**self._by_plugin, manifest.plugin: manifest}
        body = {"plugins": {k: v.model_dump() for k, v in sorted(updated.items())}}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(self.path, json.dumps(body, indent=1, sort_keys=True).encode())
        self._by_plugin = updated
