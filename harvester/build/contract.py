"""Where the plugin contract is: the WIT folder and the guest SDK folder.

Both are package data of `harvester._contract`, found through importlib.resources, so the
build works the same from a wheel, a Nix store path or any other install. A source
checkout (PYTHONPATH) and an editable install import `harvester` from the repository,
where the package folder holds no data; there the repository's own top-level `wit/` and
`plugins/sdk/` are the contract. Never the working directory.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from harvester.build.errors import BuildError

CONTRACT_PACKAGE = "harvester._contract"
# Each data folder's name in the package, and where it lives in a source checkout.
_IN_CHECKOUT = {"wit": Path("wit"), "sdk": Path("plugins/sdk")}
# Only a folder with this file beside `harvester/` is taken for a source checkout.
_CHECKOUT_MARKER = "pyproject.toml"


def _data_dir(name: str) -> Path:
    package = files(CONTRACT_PACKAGE)
    if not isinstance(package, Path):
        raise BuildError(
            f"{CONTRACT_PACKAGE} is not installed as plain files ({package}); "
            "componentize-py needs real folders"
        )
    shipped = package / name
    if shipped.is_dir():
        return shipped
    checkout = package.parents[1]  # <checkout>/harvester/_contract
    in_checkout = checkout / _IN_CHECKOUT[name]
    if (checkout / _CHECKOUT_MARKER).is_file() and in_checkout.is_dir():
        return in_checkout
    raise BuildError(
        f"the plugin contract's {name!r} folder is missing: neither {shipped} (installed)"
        f" nor {in_checkout} (source checkout) exists; reinstall harvester"
    )


def wit_dir() -> Path:
    """The WIT contract every plugin world comes from. Raises BuildError if missing."""
    return _data_dir("wit")


def sdk_dir() -> Path:
    """The guest SDK folder (holding `harvester_sdk`). Raises BuildError if missing."""
    return _data_dir("sdk")
