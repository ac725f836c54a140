"""The open-socket plugin's hand-written wasi:sockets subset matches the host's wasi:sockets.

The plugin declares only what it calls (hostile/open-socket/wit/deps/sockets/sockets.wit).
Its @0.2.0 imports are merged into the guest libc's newer wasi:sockets@0.2.x when the
component is made, so the built component cannot show the subset: each declaration is
read from the WIT text here and checked, by reflection, against the interfaces that
bme680.wasm imports and the host satisfies. Same enum cases in the same order, the same
function parameters and results, resources where the host has resources.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wasmtime.component import (
    BorrowType,
    EnumType,
    FuncType,
    OwnType,
    ResourceType,
    ResultType,
)

from harvester.runtime.artifacts import ArtifactCache
from tests.conftest import ARTIFACTS, HOSTILE

WIT = HOSTILE / "open-socket" / "wit"
SUBSET = WIT / "deps" / "sockets" / "sockets.wit"
PRIMITIVES = {"bool", "char", "string", "f32", "f64"} | {
    f"{sign}{bits}" for sign in "us" for bits in (8, 16, 32, 64)
}

# --- the subset, read from its WIT text (only the forms it uses; anything else fails) ------

Type = tuple[str, tuple["Type", ...]]  # name and type arguments: ("result", (ok, err))


@dataclass
class Interface:
    resources: set[str] = field(default_factory=set)
    enums: dict[str, list[str]] = field(default_factory=dict)
    uses: dict[str, str] = field(default_factory=dict)  # name -> interface it comes from
    funcs: dict[str, tuple[list[tuple[str, Type]], Type | None]] = field(default_factory=dict)


class Reader:
    def __init__(self, text: str) -> None:
        text = re.sub(r"//[^\n]*", "", text)
        self.tokens = re.findall(r"[a-z_][a-z0-9-]*|\d+(?:\.\d+)*|->|\S", text)
        self.at = 0

    def peek(self) -> str:
        return self.tokens[self.at]

    def take(self, expected: str | None = None) -> str:
        token = self.tokens[self.at]
        assert expected is None or token == expected, f"expected {expected!r}, read {token!r}"
        self.at += 1
        return token

    def names(self, close: str) -> list[str]:
        out = []
        while self.peek() != close:
            out.append(self.take())
            if self.peek() == ",":
                self.take(",")
        self.take(close)
        return out

    def type(self) -> Type:
        name = self.take()
        args: list[Type] = []
        if self.peek() == "<":
            self.take("<")
            while True:
                args.append(self.type())
                if self.take() == ">":
                    break
        return name, tuple(args)

    def package(self) -> tuple[str, dict[str, Interface]]:
        self.take("package")
        package = "".join(self.take() for _ in range(5))  # wasi : sockets @ 0.2.0
        self.take(";")
        interfaces = {}
        while self.at < len(self.tokens):
            self.take("interface")
            name, iface = self.take(), Interface()
            self.take("{")
            while self.peek() != "}":
                self.item(iface)
            self.take("}")
            interfaces[name] = iface
        return package, interfaces

    def item(self, iface: Interface) -> None:
        word = self.take()
        if word == "resource":
            iface.resources.add(self.take())
            self.take(";")
        elif word == "enum":
            name = self.take()
            self.take("{")
            iface.enums[name] = self.names("}")
        elif word == "use":
            source = self.take()
            self.take(".")
            self.take("{")
            iface.uses.update(dict.fromkeys(self.names("}"), source))
            self.take(";")
        else:  # name: func(params) -> result;
            self.take(":")
            self.take("func")
            self.take("(")
            params = []
            while self.peek() != ")":
                param = self.take()
                self.take(":")
                params.append((param, self.type()))
                if self.peek() == ",":
                    self.take(",")
            self.take(")")
            result = None
            if self.peek() == "->":
                self.take("->")
                result = self.type()
            self.take(";")
            iface.funcs[word] = (params, result)


def declared(name: str, iface: str, interfaces: dict[str, Interface]) -> tuple[str, Any]:
    """What `name`, seen from `iface`, is: ("resource", name) or ("enum", cases)."""
    here = interfaces[iface]
    if name in here.uses:
        return declared(name, here.uses[name], interfaces)
    if name in here.resources:
        return "resource", name
    assert name in here.enums, f"{iface}: {name} is not declared"
    return "enum", here.enums[name]


def wit_type(ty: Type | None, iface: str, interfaces: dict[str, Interface]) -> str:
    """A canonical spelling that `host_type` also produces: `own<tcp-socket>`,
    `enum(ipv4,ipv6)`, `result<own<network>,enum(...)>`, `string`."""
    if ty is None:
        return "_"
    name, args = ty
    if name in {"borrow", "own"}:
        [(resource, _)] = args
        kind, what = declared(resource, iface, interfaces)
        assert kind == "resource", f"{iface}: {name}<{resource}> of a non-resource"
        return f"{name}<{what}>"
    if name == "result":
        ok, err = (*args, None, None)[:2]
        return f"result<{wit_type(ok, iface, interfaces)},{wit_type(err, iface, interfaces)}>"
    if name == "_" or name in PRIMITIVES:
        return name
    kind, what = declared(name, iface, interfaces)
    return f"own<{what}>" if kind == "resource" else f"enum({','.join(what)})"


# --- the host's side, by reflection ------------------------------------------------------


def host_type(ty: Any, resources: dict[str, ResourceType]) -> str:
    if ty is None:
        return "_"
    if isinstance(ty, EnumType):
        return f"enum({','.join(ty.names)})"
    if isinstance(ty, ResultType):
        return f"result<{host_type(ty.ok, resources)},{host_type(ty.err, resources)}>"
    if isinstance(ty, OwnType | BorrowType):
        named = [name for name, resource in resources.items() if resource == ty.ty]
        kind = "own" if isinstance(ty, OwnType) else "borrow"
        return f"{kind}<{'|'.join(named) or '?'}>"
    return type(ty).__name__.lower()  # String -> "string", U8 -> "u8", ...


def host_sockets(engine, component_path: Path) -> dict[str, dict[str, Any]]:
    """{interface name without version: {export name: type}} of the host's wasi:sockets."""
    component = ArtifactCache(ARTIFACTS).load(engine, component_path, plugin="bme680")
    out = {}
    for name, extern in component.type.imports(engine).items():
        if match := re.fullmatch(r"wasi:sockets/([a-z-]+)@0\.2\.\d+", name):
            out[match[1]] = {n: e.ty for n, e in extern.ty.exports(engine).items()}
    return out


def mismatches(interfaces: dict[str, Interface], host: dict[str, dict[str, Any]]) -> list[str]:
    problems = []
    for iface_name, iface in interfaces.items():
        if iface_name not in host:
            problems.append(f"{iface_name}: the host has no such interface")
            continue
        real = host[iface_name]
        resources = {n: t for n, t in real.items() if isinstance(t, ResourceType)}
        for name in iface.resources | {n for n in iface.uses}:
            kind, what = declared(name, iface_name, interfaces)
            got = real.get(name)
            if kind == "resource" and not isinstance(got, ResourceType):
                problems.append(f"{iface_name}.{name}: a resource here, {got!r} on the host")
            if kind == "enum" and host_type(got, resources) != f"enum({','.join(what)})":
                problems.append(f"{iface_name}.{name}: {what} here, {host_type(got, resources)}")
        for name, cases in iface.enums.items():
            if host_type(real.get(name), resources) != f"enum({','.join(cases)})":
                problems.append(f"{iface_name}.{name}: cases {cases} differ from the host's")
        for name, (params, result) in iface.funcs.items():
            func = real.get(name)
            if not isinstance(func, FuncType):
                problems.append(f"{iface_name}.{name}: the host has no such function")
                continue
            mine = [(p, wit_type(t, iface_name, interfaces)) for p, t in params]
            theirs = [(p, host_type(t, resources)) for p, t in func.params]
            if mine != theirs:
                problems.append(f"{iface_name}.{name}: params {mine} here, {theirs} on the host")
            mine_result = wit_type(result, iface_name, interfaces)
            if mine_result != host_type(func.result, resources):
                problems.append(
                    f"{iface_name}.{name}: returns {mine_result} here,"
                    f" {host_type(func.result, resources)} on the host"
                )
    return problems


def test_the_sockets_subset_matches_the_hosts_types(plugin_dir: Path, engine) -> None:
    package, interfaces = Reader(SUBSET.read_text()).package()
    assert package == "wasi:sockets@0.2.0"
    # What the plugin calls is all there: the check below has something to check.
    calls = {f for iface in interfaces.values() for f in iface.funcs}
    assert calls == {
        "instance-network", "create-tcp-socket", "create-udp-socket", "resolve-addresses"
    }  # fmt: skip
    world = (WIT / "world.wit").read_text()
    imported = set(re.findall(r"import wasi:sockets/([a-z-]+)@0\.2\.0;", world))
    assert imported == {
        "instance-network", "tcp-create-socket", "udp-create-socket", "ip-name-lookup"
    }  # fmt: skip
    assert imported <= set(interfaces)

    host = host_sockets(engine, plugin_dir / "bme680.wasm")
    assert mismatches(interfaces, host) == []


def test_the_check_sees_a_drifted_declaration(plugin_dir: Path, engine) -> None:
    """The comparison is not vacuous: a subset with one enum case swapped fails it."""
    text = SUBSET.read_text().replace("ipv4,\n        ipv6,", "ipv6,\n        ipv4,")
    text = text.replace("borrow<network>", "network")
    assert text != SUBSET.read_text()
    _, interfaces = Reader(text).package()
    problems = mismatches(interfaces, host_sockets(engine, plugin_dir / "bme680.wasm"))
    assert any("network.ip-address-family" in p for p in problems)
    assert any("tcp-create-socket.create-tcp-socket: params" in p for p in problems)
    assert any("ip-name-lookup.resolve-addresses: params" in p for p in problems)
