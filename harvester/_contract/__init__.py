"""The plugin contract that ships with the host: data only, never imported for code.

An installed harvester (wheel, Nix store path) holds two data folders here, mapped from
the repository's top level by setup.py: `wit/` (the WIT contract, from `wit/`) and `sdk/`
(the guest SDK bundled into every plugin, from `plugins/sdk/`). In a source checkout or
an editable install this folder holds neither; `harvester.build.contract` then uses the
repository's own folders. Look them up through `harvester.build.contract`, not here.
"""
