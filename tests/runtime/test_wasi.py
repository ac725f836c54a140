"""Which WASI interfaces a component may import (the rest is refused before linking)."""

from __future__ import annotations

from harvester.runtime.wasi import WASI_ALLOWED, family, unknown_wasi_imports


def test_family_drops_the_version() -> None:
    assert family("wasi:io/poll@0.2.9") == "wasi:io/poll"
    assert family("wasi:io/poll") == "wasi:io/poll"


def test_only_wasi_interfaces_outside_the_allowed_set_are_unknown() -> None:
    imports = [
        "wasi:io/poll@0.2.9",
        "wasi:sockets/tcp@0.2.0",
        "wasi:http/outgoing-handler@0.2.9",
        "wasi:keyvalue/store@0.2.0-draft",
        "harvester:plugin/i2c@1.2.0",
    ]
    assert unknown_wasi_imports(imports) == [
        "wasi:http/outgoing-handler@0.2.9",
        "wasi:keyvalue/store@0.2.0-draft",
    ]


def test_the_allowed_set_is_what_componentize_py_imports() -> None:
    # Read from a componentize-py 0.25.1 build's imports (tests/runtime/test_containment.py
    # links real builds against it); a new runtime import must be reviewed, not waved in.
    assert len(WASI_ALLOWED) == 25
    assert all(name.startswith("wasi:") and "@" not in name for name in WASI_ALLOWED)
