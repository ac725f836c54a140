"""What a plugin sees of WASI: wasmtime's WASI p2, with every wait and every way out replaced.

componentize-py's runtime (CPython on wasi-libc) imports a fixed set of WASI p2
interfaces, sockets included. wasmtime links them all (`add_wasip2`); we then replace,
under the exact names the component imports, each interface through which a guest could
wait where no epoch deadline reaches, or reach outside:

- `wasi:clocks/monotonic-clock`: `now` and `resolution` answer; `subscribe-duration` and
  `subscribe-instant` (what `time.sleep`, `select` and friends wait on) trap with a line
  saying to use `clock.sleep-ms`, which the host cuts to the call's deadline.
- `wasi:sockets/{tcp,udp}-create-socket` and `ip-name-lookup`: `access-denied`.
- `wasi:cli/environment`: no variables, no arguments, no working directory.
- `wasi:filesystem/preopens`: no directories (so no path can be opened at all).

The rest stays wasmtime's: wall clock, random, stdout/stderr (captured into the plugin's
log), an empty closed stdin, exit (a trap), terminals (none), filesystem types (no
descriptor can be had), instance-network (a handle every socket call refuses), streams
and poll (only ever ready streams to wait on). A component importing any other WASI
interface is refused before it is linked. docs/sandbox.md has the table.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, Final

from wasmtime import WasmtimeError
from wasmtime.component import Linker, LinkerInstance, ResourceAny, ResourceType

from harvester.runtime import fastcall

# The WASI p2 interfaces (without version) a plugin may import: componentize-py's runtime.
WASI_ALLOWED: Final = frozenset(
    {
        "wasi:cli/environment", "wasi:cli/exit", "wasi:cli/stdin", "wasi:cli/stdout",
        "wasi:cli/stderr", "wasi:cli/terminal-input", "wasi:cli/terminal-output",
        "wasi:cli/terminal-stdin", "wasi:cli/terminal-stdout", "wasi:cli/terminal-stderr",
        "wasi:clocks/monotonic-clock", "wasi:clocks/wall-clock",
        "wasi:filesystem/preopens", "wasi:filesystem/types",
        "wasi:io/error", "wasi:io/poll", "wasi:io/streams",
        "wasi:random/random",
        "wasi:sockets/instance-network", "wasi:sockets/ip-name-lookup",
        "wasi:sockets/network", "wasi:sockets/tcp", "wasi:sockets/tcp-create-socket",
        "wasi:sockets/udp", "wasi:sockets/udp-create-socket",
    }
)  # fmt: skip

ACCESS_DENIED: Final = "access-denied"  # wasi:sockets/network.error-code
_HOST_RESOURCE_ID: Final = 0x4856_5354  # any id: identifies our resolve-address-stream type


def family(import_name: str) -> str:
    """`wasi:io/poll@0.2.9` -> `wasi:io/poll`."""
    return import_name.partition("@")[0]


def unknown_wasi_imports(imports: Iterable[str]) -> list[str]:
    """The component's WASI imports that the sandbox does not provide."""
    return [n for n in imports if n.startswith("wasi:") and family(n) not in WASI_ALLOWED]


Refused = Callable[[str], None]


def _trap(what: str, why: str) -> Callable[..., Any]:
    def deny(*_: Any) -> Any:
        raise WasmtimeError(f"{what} is denied: {why}")

    return deny


def _refuse(refused: Refused, what: str, answer: Any) -> Callable[..., Any]:
    def deny(*_: Any) -> Any:
        refused(what)
        return answer

    return deny


def _define(inst: LinkerInstance, iface: str, name: str, fn: Callable[..., Any]) -> None:
    def serve(store: Any, *args: Any) -> Any:
        # A borrowed handle passed to the host must be released before it returns (wasmtime
        # traps "borrow handles still remain at the end of the call" otherwise).
        for arg in args:
            if isinstance(arg, ResourceAny) and not arg.owned:
                arg.drop(store)
        return fn(*args)

    fastcall.add_func(inst, name, serve, qualified=f"{iface}#{name}")


def _monotonic_clock(inst: LinkerInstance, iface: str, refused: Refused) -> None:
    why = "the sandbox does not wait in WASI (time.sleep, select); use clock.sleep-ms"
    _define(inst, iface, "now", time.monotonic_ns)
    _define(inst, iface, "resolution", lambda: 1)
    _define(inst, iface, "subscribe-duration", _trap(f"{iface}#subscribe-duration", why))
    _define(inst, iface, "subscribe-instant", _trap(f"{iface}#subscribe-instant", why))


def _socket_factory(func: str, resource: str) -> Callable[[LinkerInstance, str, Refused], None]:
    def define(inst: LinkerInstance, iface: str, refused: Refused) -> None:
        _define(inst, iface, func, _refuse(refused, resource, ACCESS_DENIED))

    return define


def _ip_name_lookup(inst: LinkerInstance, iface: str, refused: Refused) -> None:
    # The interface declares its own resource type, so replacing it means declaring one; no
    # value of it can ever exist, as resolve-addresses never makes one.
    inst.add_resource("resolve-address-stream", ResourceType.host(_HOST_RESOURCE_ID), _no_dtor)
    _define(inst, iface, "resolve-addresses", _refuse(refused, "name lookup", ACCESS_DENIED))
    unreachable = _trap(f"{iface}#resolve-address-stream", "no stream can exist")
    _define(inst, iface, "[method]resolve-address-stream.resolve-next-address", unreachable)
    _define(inst, iface, "[method]resolve-address-stream.subscribe", unreachable)


def _no_dtor(_store: Any, _rep: int) -> None:
    pass


def _environment(inst: LinkerInstance, iface: str, refused: Refused) -> None:
    _define(inst, iface, "get-environment", list)
    _define(inst, iface, "get-arguments", list)
    _define(inst, iface, "initial-cwd", lambda: None)


def _preopens(inst: LinkerInstance, iface: str, refused: Refused) -> None:
    _define(inst, iface, "get-directories", list)


_REPLACED: Final[dict[str, Callable[[LinkerInstance, str, Refused], None]]] = {
    "wasi:clocks/monotonic-clock": _monotonic_clock,
    "wasi:sockets/tcp-create-socket": _socket_factory("create-tcp-socket", "network (tcp socket)"),
    "wasi:sockets/udp-create-socket": _socket_factory("create-udp-socket", "network (udp socket)"),
    "wasi:sockets/ip-name-lookup": _ip_name_lookup,
    "wasi:cli/environment": _environment,
    "wasi:filesystem/preopens": _preopens,
}


def add_wasi(linker: Linker, imports: Iterable[str], refused: Refused) -> None:
    """Link wasmtime's WASI p2, then replace the guarded interfaces the component imports.

    `refused(resource)` is told of every refused socket or lookup (the plugin's log).
    Raises WasmtimeError only if wasmtime refuses a definition (a bug, not a plugin fault).
    """
    linker.add_wasip2()
    # Replacing is defining again under a name WASI already holds: shadowing must be on.
    # (An instance defined again starts empty, so each replacement defines the whole
    # interface; our own interfaces are defined once, after this.)
    linker.allow_shadowing = True
    with linker.root() as root:
        for name in imports:
            replace = _REPLACED.get(family(name))
            if replace is not None:
                with root.add_instance(name) as inst:
                    replace(inst, name, refused)
    linker.allow_shadowing = False
