"""Building plugins into components."""

from harvester.build.builder import BuildError, BuildResult, build_plugin, find_plugins
from harvester.build.manifest import ManifestError, PluginManifest, load_manifest

__all__ = [
    "BuildError",
    "BuildResult",
    "ManifestError",
    "PluginManifest",
    "build_plugin",
    "find_plugins",
    "load_manifest",
]
