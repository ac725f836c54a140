"""The package list, which pyproject.toml cannot express; everything else is there.

The wheel holds every package under harvester/, found as usual, plus the plugin contract
as data packages: the repository's top-level `wit/` as `harvester._contract.wit` and
`plugins/sdk/` as `harvester._contract.sdk` (mapped in pyproject.toml's
[tool.setuptools.package-dir]), with their subfolders. pyproject.toml can either find
packages or list them, not find some and add others; hence this file.
"""

import tomllib
from pathlib import Path

from setuptools import find_namespace_packages, find_packages, setup

HERE = Path(__file__).parent
PYPROJECT = tomllib.loads((HERE / "pyproject.toml").read_text(encoding="utf-8"))
MAPPED: dict[str, str] = PYPROJECT["tool"]["setuptools"]["package-dir"]


def contract_packages() -> list[str]:
    """Each mapped data package and the folders inside it, as package names."""
    packages = []
    for package, folder in MAPPED.items():
        inner = find_namespace_packages(where=str(HERE / folder), exclude=["*__pycache__*"])
        packages += [package, *(f"{package}.{name}" for name in inner)]
    return packages


setup(packages=[*find_packages(include=["harvester", "harvester.*"]), *contract_packages()])
