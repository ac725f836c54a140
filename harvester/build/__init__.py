"""Building plugins into components."""

from harvester.build.builder import BuildResult, build_plugin, content_hash
from harvester.build.componentize import componentize_py_version
from harvester.build.contract import sdk_dir, wit_dir
from harvester.build.errors import BuildError, ComponentizeError, ManifestError, ToolMissing
from harvester.build.manifest import PluginManifest, find_plugins, load_manifest, plugin_folders
from harvester.build.npm import NpmError
from harvester.build.requirements import RequirementsError

__all__ = [
    "BuildError",
    "BuildResult",
    "ComponentizeError",
    "ManifestError",
    "NpmError",
    "PluginManifest",
    "RequirementsError",
    "ToolMissing",
    "build_plugin",
    "componentize_py_version",
    "content_hash",
    "find_plugins",
    "load_manifest",
    "plugin_folders",
    "sdk_dir",
    "wit_dir",
]
