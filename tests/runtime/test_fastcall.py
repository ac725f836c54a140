"""fastcall/fastconvert: wasmtime-py's values, its fallback, and traps instead of a global slot.

Everything except the few tests that use the real plugin builds runs in every loop: the
WIT types come from tests/runtime/data/plugin_types.wat, a component written in the text
format whose types equal wit/'s (checked against the real bme680 and dht22 builds by
test_wat_types_match_the_plugin_builds), and whose harvester-test:guest/echo#call-transfer
export calls the imported i2c transfer, so host functions run under a real guest call.
"""

from __future__ import annotations

import ast
import ctypes
import json
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import wasmtime
import wasmtime.component._enter as wasmtime_enter
from wasmtime import _ffi as ffi
from wasmtime.component import (
    Component,
    ComponentInstanceType,
    EnumType,
    FlagsType,
    Func,
    FuncType,
    Linker,
    LinkerInstance,
    ListType,
    OptionType,
    Record,
    RecordType,
    ResultType,
    TupleType,
    ValType,
    Variant,
    VariantType,
)

from harvester.constants import (
    IFACE_CLOCK,
    IFACE_GPIO,
    IFACE_I2C,
    IFACE_LOG,
    IFACE_SENSOR,
    WIT_PACKAGE,
)
from harvester.runtime import fastcall, fastconvert
from harvester.runtime.artifacts import ArtifactCache
from harvester.runtime.fastcall import FastFunc, add_func, compile_type, use_fast_path
from harvester.runtime.fastconvert import ConversionError, drop_husk
from harvester.runtime.plugin import PluginInstance
from tests.conftest import ARTIFACTS, ROOT

WAT = Path(__file__).with_name("data") / "plugin_types.wat"
ECHO = "harvester-test:guest/echo"
TRANSFER = f"{IFACE_I2C}#transfer"


def rec(**fields: Any) -> Record:
    r = Record()
    for name, value in fields.items():
        setattr(r, name.replace("_", "-"), value)
    return r


def plain(value: Any) -> Any:
    """A comparable picture of a lifted value, types included (Record/Variant/bytes/...)."""
    if isinstance(value, Record):
        return ("Record", {k: plain(v) for k, v in vars(value).items()})
    if isinstance(value, Variant):
        return ("Variant", value.tag, plain(value.payload))
    if isinstance(value, list | tuple):
        return (type(value).__name__, [plain(v) for v in value])
    return (type(value).__name__, value)


def short(iface: str) -> str:
    return iface.split("@")[0]


def interfaces(component: Component, engine: wasmtime.Engine) -> dict[str, dict[str, Any]]:
    """Every instance the component imports or exports: name -> {item name: its type}."""
    found: dict[str, dict[str, Any]] = {}
    for items in (component.type.imports(engine), component.type.exports(engine)):
        for iface, ext in items.items():
            if isinstance(ext.ty, ComponentInstanceType):
                found[iface] = {name: item.ty for name, item in ext.ty.exports(engine).items()}
    return found


@pytest.fixture(scope="module")
def wat_component(engine: wasmtime.Engine) -> Component:
    return Component(engine, WAT.read_text())


@pytest.fixture(scope="module")
def functions(wat_component: Component, engine: wasmtime.Engine) -> dict[str, FuncType]:
    """Every function type in the WAT component, by `iface-without-version#name`."""
    return {
        f"{short(iface)}#{name}": ty
        for iface, items in interfaces(wat_component, engine).items()
        for name, ty in items.items()
        if isinstance(ty, FuncType)
    }


@pytest.fixture(params=["fast", "fallback"])
def path(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run a test on the fast path and on wasmtime-py's own conversion (forced)."""
    previous = use_fast_path(request.param == "fast")
    try:
        yield request.param
    finally:
        use_fast_path(previous)
        wasmtime_enter.LAST_EXCEPTION = None  # a failed test must not poison the next


def ty_of(functions: dict[str, FuncType], where: str) -> ValType:
    """`iface#func` -> result type, `iface#func(param)` -> that parameter's type."""
    fn, _, param = where.partition("(")
    fty = functions[fn]
    if not param:
        assert fty.result is not None
        return fty.result
    return dict(fty.params)[param.rstrip(")")]


# --- the guard: which wasmtime the fast path trusts --------------------------------------


def test_this_wasmtime_is_the_one_the_fast_path_was_written_for() -> None:
    assert fastconvert.PROBLEM is None
    assert fastcall.SUPPORTED
    assert fastconvert.check_wasmtime() is None


@pytest.mark.parametrize(
    "kwargs,problem",
    [
        ({"installed": "50.0.2"}, "wasmtime 50.0.2 is installed"),
        ({"installed": "49.0.0"}, "written for 50.0.1"),
        ({"names": ["wasmtime._ffi.no_such_binding"]}, "wasmtime._ffi.no_such_binding"),
        ({"names": ["wasmtime.component.Func._no_such_method"]}, "Func._no_such_method"),
        ({"names": ["no_such_package.thing"]}, "no_such_package.thing"),
    ],
)
def test_check_wasmtime_names_what_it_does_not_trust(kwargs, problem) -> None:
    found = fastconvert.check_wasmtime(**kwargs)
    assert found is not None and problem in found


def test_every_private_name_the_modules_use_is_checked() -> None:
    """Every `ffi.NAME` the two modules touch is in a PRIVATE_API list (so it is checked)."""
    checked = set(fastconvert.PRIVATE_API) | set(fastcall.PRIVATE_API)
    for module in (fastconvert, fastcall):
        tree = ast.parse(Path(module.__file__ or "").read_text())
        used = {
            f"wasmtime._ffi.{node.attr}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "ffi"
            and node.attr != "dll"  # read by check_wasmtime itself, defensively
        }
        assert used and used <= checked, (module.__name__, used - checked)


def test_no_assert_statements_to_vanish_under_python_O() -> None:
    for module in (fastconvert, fastcall):
        tree = ast.parse(Path(module.__file__ or "").read_text())
        asserts = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Assert)]
        assert asserts == [], (module.__name__, asserts)


# A child that sees another wasmtime version: the import-time decision, the one warning, and
# a guest call through the fallback with fastconvert's placeholders in place.
CHILD = """
import importlib.metadata, json, logging, sys
real = importlib.metadata.version
importlib.metadata.version = lambda name: "50.0.2" if name == "wasmtime" else real(name)
warnings = []
class Keep(logging.Handler):
    def emit(self, record):
        warnings.append((record.name, record.levelname, record.getMessage()))
logging.getLogger("harvester.runtime").addHandler(Keep())
import wasmtime
from wasmtime.component import Component, Linker
from harvester.runtime import fastcall, fastconvert
from harvester.runtime.fastcall import FastFunc, add_func
try:
    fastcall.use_fast_path(True)
    forced = "allowed"
except RuntimeError as exc:
    forced = str(exc)
try:
    fastconvert.compile_type(None)
    compiled = "allowed"
except fastconvert.ConversionError as exc:
    compiled = str(exc)
engine = wasmtime.Engine()
component = Component(engine, open(sys.argv[1]).read())
linker = Linker(engine)
with linker.root() as root:
    with root.add_instance("harvester:plugin/i2c@1.2.0") as inst:
        add_func(inst, "transfer", lambda store, bus, address, data, n: bytearray(data[::-1]))
linker.define_unknown_imports_as_traps(component)
store = wasmtime.Store(engine)
instance = linker.instantiate(store, component)
iface = instance.get_export_index(store, "harvester-test:guest/echo")
index = instance.get_export_index(store, "call-transfer", iface)
func = FastFunc(instance.get_func(store, index), store)
answer = func(store, 1, 0x77, b"abc", 0)
func.post_return(store)
print(json.dumps({
    "active": fastcall.ACTIVE, "supported": fastcall.SUPPORTED, "reason": fastcall.REASON,
    "fast": func.fast, "answer": answer.hex(), "warnings": warnings,
    "forced": forced, "compiled": compiled,
}))
"""


def test_another_wasmtime_version_falls_back_with_one_warning() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(WAT)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert not seen["active"] and not seen["supported"] and not seen["fast"]
    assert "50.0.2" in seen["reason"]
    assert seen["answer"] == b"cba".hex()  # served by wasmtime-py's conversion
    assert len(seen["warnings"]) == 1
    name, level, message = seen["warnings"][0]
    assert (name, level) == ("harvester.runtime", "WARNING") and "50.0.2" in message
    assert "cannot be used here" in seen["forced"]
    assert "disabled" in seen["compiled"]


# --- the WAT's types are the plugins' types ------------------------------------------------


def shape(ty: Any) -> Any:
    """A structural picture of a WIT type, names included, for readable comparisons."""
    if isinstance(ty, FuncType):
        return ("func", [(n, shape(t)) for n, t in ty.params], shape(ty.result))
    if isinstance(ty, RecordType):
        return ("record", [(n, shape(t)) for n, t in ty.fields])
    if isinstance(ty, VariantType):
        return ("variant", [(n, shape(t)) for n, t in ty.cases])
    if isinstance(ty, EnumType):
        return ("enum", list(ty.names))
    if isinstance(ty, FlagsType):
        return ("flags", list(ty.names))
    if isinstance(ty, ListType):
        return ("list", shape(ty.element))
    if isinstance(ty, OptionType):
        return ("option", shape(ty.payload))
    if isinstance(ty, ResultType):
        return ("result", shape(ty.ok), shape(ty.err))
    if isinstance(ty, TupleType):
        return ("tuple", [shape(t) for t in ty.elements])
    return None if ty is None else type(ty).__name__


def test_wat_types_shapes_are_told_apart(wat_component, engine) -> None:
    """shape() sees differences (else the drift test below could not fail)."""
    ours = interfaces(wat_component, engine)
    sensor, i2c = ours[IFACE_SENSOR], ours[IFACE_I2C]
    assert shape(sensor["poll"]) != shape(sensor["describe"])
    assert shape(sensor["metric"]) != shape(sensor["reading"])
    assert shape(i2c["hal-error"]) == shape(sensor["hal-error"])  # one type, aliased in
    assert shape(i2c["transfer"].result) == (
        "result",
        ("list", "U8"),
        ("variant", [
            ("bus", None), ("arbitration-loss", None),
            ("no-acknowledge", ("enum", ["address", "data", "unknown"])),
            ("overrun", None), ("timeout", None), ("not-granted", "String"), ("other", "String"),
        ]),
    )  # fmt: skip


def test_wat_types_match_the_plugin_builds(wat_component, engine, plugin_dir: Path) -> None:
    """Every harvester:plugin interface in the WAT equals the real builds' (types, funcs).

    This is what keeps tests/runtime/data/plugin_types.wat in step with wit/.
    """
    ours = {
        iface: items
        for iface, items in interfaces(wat_component, engine).items()
        if iface.startswith(WIT_PACKAGE + "/")
    }
    cache = ArtifactCache(ARTIFACTS)
    theirs: dict[str, dict[str, Any]] = {}
    for plugin in ("bme680", "dht22"):
        component = cache.load(engine, plugin_dir / f"{plugin}.wasm", plugin=plugin)
        for iface, items in interfaces(component, engine).items():
            if iface.startswith(WIT_PACKAGE + "/"):
                theirs[iface] = items
    assert set(ours) == set(theirs)
    for iface, items in theirs.items():
        assert {n: shape(t) for n, t in ours[iface].items()} == {
            n: shape(t) for n, t in items.items()
        }, iface
        for name, ty in items.items():  # and wasmtime's own equality agrees
            if isinstance(ty, FuncType):
                assert dict(ours[iface][name].params) == dict(ty.params), (iface, name)
                assert ours[iface][name].result == ty.result, (iface, name)


# --- converters: exactly wasmtime-py's values ----------------------------------------------

HAL_ERRORS = [
    Variant("bus"),
    Variant("arbitration-loss"),
    Variant("overrun"),
    Variant("timeout"),
    *(Variant("no-acknowledge", s) for s in ("address", "data", "unknown")),
    Variant("not-granted", "i2c bus 3 address 0x10"),
    Variant("other", "host error: OSError — µ°Ω"),
]
SENSOR_ERRORS = [
    Variant("hal", Variant("no-acknowledge", "address")),
    Variant("hal", Variant("bus")),
    Variant("no-device", "chip id 0x00"),
    Variant("invalid-data", ""),
    Variant("bad-setting", "bus"),
    Variant("out-of-memory"),
    Variant("internal", "ZeroDivisionError"),
]
READINGS = [rec(metric="temperature", value=21.53), rec(metric="gas_resistance", value=1.2e5)]
METRICS = [
    rec(name="temperature", unit="°C", device_class="temperature", state_class="measurement"),
    rec(name="gas_resistance", unit="Ω", device_class="gas-resistance", state_class="total"),
    rec(name="count", unit="", device_class="none", state_class="total-increasing"),
]
WASI_LIKE = "harvester-test:shapes/wasi-like"

CASES: list[tuple[str, list[Any]]] = [
    (f"{short(IFACE_I2C)}#transfer", [b"\x01\xff", b"", bytes(range(256)) * 16, *HAL_ERRORS]),
    (f"{short(IFACE_I2C)}#transfer(data)", [b"", b"\xd0", bytes(range(256)) * 16]),
    (f"{short(IFACE_I2C)}#transfer(address)", [0, 0x77, 0xFFFF]),
    (f"{short(IFACE_I2C)}#transfer(read-len)", [0, 4096, 2**32 - 1]),
    (f"{short(IFACE_SENSOR)}#poll", [READINGS, [], *SENSOR_ERRORS]),
    (f"{short(IFACE_SENSOR)}#init", [None, *SENSOR_ERRORS]),
    (f"{short(IFACE_SENSOR)}#init(settings)", [[], [rec(key="bus", value="1")] * 3]),
    (f"{short(IFACE_SENSOR)}#describe", [METRICS, []]),
    (f"{short(IFACE_LOG)}#log(level)", ["trace", "debug", "info", "warn", "error"]),
    (f"{short(IFACE_LOG)}#log(message)", ["", "plain", "°C Ω µ ✓ \U0001f600"]),
    (f"{short(IFACE_CLOCK)}#now-ms", [0, 123, 2**64 - 1]),
    (f"{short(IFACE_CLOCK)}#sleep-ms(ms)", [0, 1000]),
    (f"{short(IFACE_GPIO)}#read-dht22", [rec(temperature_c=21.5, humidity_rh=45.25), *HAL_ERRORS]),
    (f"{short(IFACE_GPIO)}#read-pin", [True, False, Variant("not-granted", "gpio 4")]),
    (f"{short(IFACE_GPIO)}#write-pin", [None, Variant("timeout")]),
    (f"{short(IFACE_GPIO)}#write-pin(high)", [True, False]),
    (f"{short(IFACE_GPIO)}#write-pin(pin)", [0, 255]),
    # WASI's shapes: an option of a record inside a result, and a list of (fallback) tuples.
    (
        f"{WASI_LIKE}#read-directory-entry",
        [None, rec(type="directory", name="plugins"), rec(type="regular-file", name="x.wasm")],
    ),
    (f"{WASI_LIKE}#get-environment", [[], [("HOME", "/"), ("LANG", "C.UTF-8")]]),
]


def generic_roundtrip(store: wasmtime.Store, ty: ValType, value: Any) -> Any:
    raw = ffi.wasmtime_component_val_t()
    ty.convert_to_c(store, value, ctypes.pointer(raw))
    return ty.convert_from_c(raw)


@pytest.mark.parametrize("where,values", CASES, ids=[c[0] for c in CASES])
def test_fast_converters_give_wasmtime_pys_values(functions, engine, where, values) -> None:
    store = wasmtime.Store(engine)
    ty = ty_of(functions, where)
    conv = compile_type(ty)
    for value in values:
        want = plain(generic_roundtrip(store, ty, value))
        # fast both ways
        raw = ffi.wasmtime_component_val_t()
        conv.lower(store, value, ctypes.pointer(raw))
        assert plain(conv.lift(raw)) == want, (where, value)
        # fast lowering read by wasmtime-py, and wasmtime-py's lowering read by us: same C shape
        raw = ffi.wasmtime_component_val_t()
        conv.lower(store, value, ctypes.pointer(raw))
        assert plain(ty.convert_from_c(raw)) == want, (where, value)
        raw = ffi.wasmtime_component_val_t()
        ty.convert_to_c(store, value, ctypes.pointer(raw))
        assert plain(conv.lift(raw)) == want, (where, value)


@pytest.mark.parametrize(
    "where,value,message",
    [
        (f"{short(IFACE_I2C)}#transfer", "text", "fits none of"),
        (f"{short(IFACE_I2C)}#transfer(data)", "text", "expected bytes value, got str"),
        (f"{short(IFACE_I2C)}#transfer", Variant("no-such-case"), "no case 'no-such-case'"),
        (f"{short(IFACE_I2C)}#transfer(read-len)", 1.0, "expected int"),
        (f"{short(IFACE_SENSOR)}#poll", [rec(metric="t", value=1)], "expected float"),
        (f"{short(IFACE_SENSOR)}#poll", [rec(metric="t")], "fields ['metric', 'value']"),
        (f"{short(IFACE_SENSOR)}#poll", 2.5, "fits none of"),
        (f"{short(IFACE_SENSOR)}#poll", [2.5], "got float"),  # a float where a record is due
        (f"{short(IFACE_SENSOR)}#init(settings)", [rec(key="a", value="b"), "not a record"], "str"),
        (f"{short(IFACE_SENSOR)}#init", Variant("no-such-case"), "no case 'no-such-case'"),
        (f"{short(IFACE_LOG)}#log(level)", 3, "expected str"),
        (f"{short(IFACE_LOG)}#log(message)", "\ud800", "not valid UTF-8"),
        (f"{WASI_LIKE}#get-environment", [("a", 1)], "TypeError"),
    ],
)
def test_bad_values_raise_conversion_error(functions, engine, where, value, message) -> None:
    """What wasmtime-py rejects, we reject with a ConversionError (a TypeError and a
    ValueError, so callers of either kind still catch it) that says what was found."""
    store = wasmtime.Store(engine)
    ty = ty_of(functions, where)
    with pytest.raises(Exception):  # noqa: B017 - wasmtime-py's own type varies
        generic_roundtrip(store, ty, value)
    raw = ffi.wasmtime_component_val_t()
    with pytest.raises(ConversionError, match=re.escape(message)):
        compile_type(ty).lower(store, value, ctypes.pointer(raw))
    assert issubclass(ConversionError, TypeError) and issubclass(ConversionError, ValueError)


def test_list_u8_takes_any_bytes_like_value(functions, engine) -> None:
    """bytearray and memoryview lower as bytes (wasmtime-py takes bytes only) and lift as
    bytes, also where they are one case of an untagged result."""
    store = wasmtime.Store(engine)
    for where in (f"{short(IFACE_I2C)}#transfer(data)", f"{short(IFACE_I2C)}#transfer"):
        conv = compile_type(ty_of(functions, where))
        for value in (bytearray(b"\x01\x02\xff"), memoryview(b"\x01\x02\xff"), bytearray()):
            raw = ffi.wasmtime_component_val_t()
            conv.lower(store, value, ctypes.pointer(raw))
            lifted = conv.lift(raw)
            if conv.boxed:
                drop_husk(raw)
            assert type(lifted) is bytes and lifted == bytes(value), (where, value)
    # A memoryview of wider items gives its bytes, in memory order.
    conv = compile_type(ty_of(functions, f"{short(IFACE_I2C)}#transfer(data)"))
    raw = ffi.wasmtime_component_val_t()
    conv.lower(store, memoryview(b"\x01\x00\x02\x00").cast("H"), ctypes.pointer(raw))
    assert conv.lift(raw) == b"\x01\x00\x02\x00"


def test_lifting_a_val_of_another_kind_raises(functions, engine) -> None:
    """The checks that were asserts: they raise ConversionError (also under python -O, as
    test_no_assert_statements_to_vanish_under_python_O makes sure)."""
    store = wasmtime.Store(engine)
    text = compile_type(ty_of(functions, f"{short(IFACE_LOG)}#log(message)"))
    cases = [
        (f"{short(IFACE_CLOCK)}#now-ms", "kind"),
        (f"{short(IFACE_I2C)}#transfer(data)", "kind"),
        (f"{short(IFACE_SENSOR)}#describe", "kind"),
        (f"{short(IFACE_SENSOR)}#poll", "kind"),
        (f"{short(IFACE_LOG)}#log(level)", "kind"),
    ]
    for where, message in cases:
        raw = ffi.wasmtime_component_val_t()
        text.lower(store, "not this type", ctypes.pointer(raw))
        with pytest.raises(ConversionError, match=message):
            compile_type(ty_of(functions, where)).lift(raw)
        ffi.wasmtime_component_val_delete(ctypes.byref(raw))  # still ours, still intact
    # A list of 2-field records lifted as a list of 4-field ones.
    raw = ffi.wasmtime_component_val_t()
    compile_type(ty_of(functions, f"{short(IFACE_SENSOR)}#init(settings)")).lower(
        store, [rec(key="a", value="b")], ctypes.pointer(raw)
    )
    metrics = compile_type(ty_of(functions, f"{short(IFACE_SENSOR)}#describe"))
    with pytest.raises(ConversionError, match="record of 2 fields, not 4"):
        metrics.lift(raw)


def test_lifted_husks_are_safe_to_drop(functions, engine) -> None:
    """What fastconvert relies on to skip blanking: a consumed string/enum/list/record val
    owns nothing, so dropping it (again, as an enclosing delete will) is harmless. A consumed
    result still owns its payload box: dropped once, by drop_husk."""
    store = wasmtime.Store(engine)
    for where, value in [
        (f"{short(IFACE_LOG)}#log(message)", "some text"),
        (f"{short(IFACE_LOG)}#log(level)", "warn"),
        (f"{short(IFACE_I2C)}#transfer(data)", b"\x01\x02"),
        (f"{short(IFACE_SENSOR)}#describe", METRICS),
    ]:
        conv = compile_type(ty_of(functions, where))
        assert not conv.boxed
        for _ in range(1000):
            raw = ffi.wasmtime_component_val_t()
            conv.lower(store, value, ctypes.pointer(raw))
            conv.lift(raw)
            ffi.wasmtime_component_val_delete(ctypes.byref(raw))
            ffi.wasmtime_component_val_delete(ctypes.byref(raw))  # twice: still nothing owned
    conv = compile_type(ty_of(functions, f"{short(IFACE_SENSOR)}#poll"))
    assert conv.boxed
    for value in (READINGS, *SENSOR_ERRORS):
        for _ in range(200):
            raw = ffi.wasmtime_component_val_t()
            conv.lower(store, value, ctypes.pointer(raw))
            conv.lift(raw)
            drop_husk(raw)


# --- calls through the WAT guest, on both paths --------------------------------------------


def echo_guest(
    engine: wasmtime.Engine, component: Component, transfer: Callable[..., Any]
) -> tuple[wasmtime.Store, FastFunc]:
    """A fresh instance whose i2c transfer is `transfer`, and its call-transfer export."""
    linker = Linker(engine)
    with linker.root() as root:
        with root.add_instance(IFACE_I2C) as inst:
            add_func(inst, "transfer", transfer, qualified=TRANSFER)
    linker.define_unknown_imports_as_traps(component)
    store = wasmtime.Store(engine)
    store.set_epoch_deadline(1_000_000)
    instance = linker.instantiate(store, component)
    iface = instance.get_export_index(store, ECHO)
    func = instance.get_func(store, instance.get_export_index(store, "call-transfer", iface))
    assert func is not None
    return store, FastFunc(func, store)


def call(store: wasmtime.Store, func: FastFunc, *args: Any) -> Any:
    """`func(store, *args)`, checking wasmtime-py's exception slot is left empty."""
    try:
        return func(store, *args)
    finally:
        assert wasmtime_enter.LAST_EXCEPTION is None, wasmtime_enter.LAST_EXCEPTION


def test_the_switch_really_changes_the_code_path(wat_component, engine, path, monkeypatch):
    """Forced off, calls go through wasmtime-py's Func.__call__ and LinkerInstance.add_func;
    on, through neither."""
    used: list[str] = []
    generic_call, generic_add = Func.__call__, LinkerInstance.add_func

    def spy_call(self: Func, *args: Any) -> Any:
        used.append("Func.__call__")
        return generic_call(self, *args)

    def spy_add(self: LinkerInstance, *args: Any) -> None:
        used.append("LinkerInstance.add_func")
        generic_add(self, *args)

    monkeypatch.setattr(Func, "__call__", spy_call)
    monkeypatch.setattr(LinkerInstance, "add_func", spy_add)
    store, func = echo_guest(engine, wat_component, lambda s, b, a, d, n: d + bytes(n))
    assert call(store, func, 1, 0x77, b"\x01", 2) == b"\x01\x00\x00"
    func.post_return(store)
    assert func.fast is (path == "fast") is fastcall.ACTIVE
    if path == "fast":
        assert used == []
        assert fastcall.REASON.startswith("fast path")
    else:
        assert used == ["LinkerInstance.add_func", "Func.__call__"]
        assert "wasmtime-py's own conversion" in fastcall.REASON


def test_values_cross_both_ways(wat_component, engine, path) -> None:
    seen: list[tuple[Any, ...]] = []
    answers: list[Any] = [b"\x10\x20", Variant("no-acknowledge", "address"), bytearray(b"\x07")]

    def transfer(store, bus, address, data, read_len):
        seen.append((bus, address, data, read_len))
        return answers.pop(0)

    store, func = echo_guest(engine, wat_component, transfer)
    results = []
    for data in (b"\xd0", b"", bytes(range(256)) * 4):
        results.append(plain(call(store, func, 1, 0x77, data, 2)))
        func.post_return(store)
    assert seen == [(1, 0x77, b"\xd0", 2), (1, 0x77, b"", 2), (1, 0x77, bytes(range(256)) * 4, 2)]
    assert all(type(d) is bytes for _, _, d, _ in seen)
    assert results == [
        ("bytes", b"\x10\x20"),
        ("Variant", "no-acknowledge", ("str", "address")),
        ("bytes", b"\x07"),  # a bytearray answer arrives as bytes
    ]
    with pytest.raises(TypeError, match="wrong number of parameters"):
        func(store, 1)


def test_a_host_exception_is_a_trap_naming_function_and_cause(wat_component, engine, path):
    """... on one line: plugin.py reports the last line of a trap's message."""

    def transfer(store, bus, address, data, read_len):
        raise ValueError("bus\non fire")

    store, func = echo_guest(engine, wat_component, transfer)
    with pytest.raises(wasmtime.WasmtimeError) as caught:
        call(store, func, 1, 0x77, b"\x01", 0)
    assert f"host function {TRANSFER} failed: ValueError: bus on fire" in str(caught.value)


def test_a_host_trap_passes_through(wat_component, engine, path) -> None:
    def transfer(store, bus, address, data, read_len):
        raise wasmtime.WasmtimeError("refused by host")

    store, func = echo_guest(engine, wat_component, transfer)
    with pytest.raises(wasmtime.WasmtimeError, match="refused by host"):
        call(store, func, 1, 0x77, b"\x01", 0)


@pytest.mark.parametrize(
    "answer,cause",
    [
        ("not bytes", "fits none of"),  # str for result<list<u8>, hal-error>
        (Variant("no-such-case"), "no case 'no-such-case'"),
        (Variant("not-granted", 3), "expected string type, got int"),
        (2.5, "fits none of"),
    ],
)
def test_a_wrong_typed_result_is_a_trap_naming_the_cause(wat_component, engine, answer, cause):
    """Fast path only: wasmtime-py's fallback reports its converters' errors through its
    process-wide slot (see test_fallback_leaves_bad_results_to_wasmtime_py)."""
    store, func = echo_guest(engine, wat_component, lambda s, b, a, d, n: answer)
    assert func.fast
    with pytest.raises(wasmtime.WasmtimeError) as caught:
        call(store, func, 1, 0x77, b"\x01", 0)
    text = str(caught.value)
    assert f"host function {TRANSFER} failed: ConversionError: returned" in text
    assert cause in text


def test_fallback_leaves_bad_results_to_wasmtime_py(wat_component, engine) -> None:
    """The fallback's documented limit: a value wasmtime-py's converters reject goes
    through its slot and surfaces, in this single-threaded case, at the caller."""
    previous = use_fast_path(False)
    try:
        store, func = echo_guest(engine, wat_component, lambda s, b, a, d, n: "not bytes")
        with pytest.raises(ValueError, match="value not valid for this variant"):
            func(store, 1, 0x77, b"\x01", 0)
        assert wasmtime_enter.LAST_EXCEPTION is None  # consumed by that call
    finally:
        use_fast_path(previous)
        wasmtime_enter.LAST_EXCEPTION = None


def test_fastfunc_never_reads_wasmtime_pys_exception_slot(wat_component, engine) -> None:
    """Another thread's parked exception is not ours: a trap raises the trap, and the slot
    is left as it was."""

    def transfer(store, bus, address, data, read_len):
        raise OSError("nack")

    store, func = echo_guest(engine, wat_component, transfer)
    planted = RuntimeError("parked by someone else")
    wasmtime_enter.LAST_EXCEPTION = planted
    try:
        with pytest.raises(wasmtime.WasmtimeError, match="OSError: nack"):
            func(store, 1, 0x77, b"\x01", 0)
        assert wasmtime_enter.LAST_EXCEPTION is planted
    finally:
        wasmtime_enter.LAST_EXCEPTION = None


def test_one_threads_host_exception_never_reaches_another_thread(
    wat_component, engine, path
) -> None:
    """Two instances, each called from its own thread: one's host function raises KeyError,
    the other's traps on purpose (WasmtimeError), so both threads keep taking the error
    path, where wasmtime-py's Func.__call__ re-raises whatever its process-wide slot holds.
    Each thread must only ever see its own failure. (With wasmtime-py's own add_func in
    place of ours, the refusing thread received the other's KeyError in 34 of 3,000 calls
    on the 2-core machine this was written on.)"""
    rounds = 500

    def failing(store, bus, address, data, read_len):
        raise KeyError(f"bus {bus} is gone")

    def refusing(store, bus, address, data, read_len):
        raise wasmtime.WasmtimeError("refused by host")

    transfers = {"failing": failing, "refusing": refusing}
    outcomes: dict[str, list[str]] = {name: [] for name in transfers}
    start = threading.Barrier(2)

    def run(name: str) -> None:
        store, func = echo_guest(engine, wat_component, transfers[name])
        start.wait()
        for _ in range(rounds):
            try:
                func(store, 1, 0x77, b"\x01", 0)
                outcomes[name].append("no error")
            except wasmtime.WasmtimeError as exc:
                text = str(exc)
                mine = "KeyError: 'bus 1 is gone'" if name == "failing" else "refused by host"
                outcomes[name].append("own trap" if mine in text else f"trap {text!r}")
            except Exception as exc:  # what wasmtime-py's slot would deliver
                outcomes[name].append(f"raised {exc!r}")
            # A trapped instance cannot be entered again: each round gets a new one.
            store, func = echo_guest(engine, wat_component, transfers[name])

    threads = [threading.Thread(target=run, args=(name,)) for name in transfers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert outcomes == {name: ["own trap"] * rounds for name in transfers}
    assert wasmtime_enter.LAST_EXCEPTION is None


# --- the real bme680 build -----------------------------------------------------------------


def test_fastfunc_polls_like_func(instantiate) -> None:
    from harvester.hal.sim.backend import SimBackend
    from harvester.hal.sim.bme680 import Bme680Sim
    from tests.plugins.test_bme680_plugin import attach, sim_backend

    backend: SimBackend = sim_backend()
    sim: Bme680Sim = attach(backend)
    sim.set_conditions(temperature_c=18.0, pressure_hpa=990.0, humidity_rh=40.0)
    plugin: PluginInstance = instantiate("bme680", backend)
    plugin.init({})
    store, instance = plugin.instance._store, plugin.instance._instance
    iface = instance.get_export_index(store, IFACE_SENSOR)
    func = instance.get_func(store, instance.get_export_index(store, "poll", iface))
    assert func is not None
    fast = FastFunc(func, store)
    assert fast.fast
    for _ in range(3):
        via_generic = func(store)
        func.post_return(store)
        via_fast = fast(store)
        fast.post_return(store)
        assert plain(via_fast) == plain(via_generic)
        assert [r.metric for r in via_fast] == [
            "temperature", "pressure", "humidity", "gas_resistance",
        ]  # fmt: skip
    with pytest.raises(TypeError, match="wrong number of parameters"):
        fast(store, 1)


def _linker(engine: wasmtime.Engine, transfer: Any) -> Linker:
    linker = Linker(engine)
    linker.add_wasip2()
    with linker.root() as root:
        with root.add_instance(IFACE_LOG) as inst:
            add_func(inst, "log", lambda store, level, message: None)
        with root.add_instance(IFACE_CLOCK) as inst:
            add_func(inst, "now-ms", lambda store: 0)
            add_func(inst, "sleep-ms", lambda store, ms: None)
        with root.add_instance(IFACE_I2C) as inst:
            add_func(inst, "transfer", transfer, qualified=TRANSFER)
    return linker


def _init_func(plugin_dir: Path, engine: wasmtime.Engine, linker: Linker):
    component = ArtifactCache(ARTIFACTS).load(engine, plugin_dir / "bme680.wasm", plugin="bme680")
    store = wasmtime.Store(engine)
    store.set_wasi(wasmtime.WasiConfig())
    store.set_epoch_deadline(1_000_000)
    instance = linker.instantiate(store, component)
    iface = instance.get_export_index(store, IFACE_SENSOR)
    func = instance.get_func(store, instance.get_export_index(store, "init", iface))
    assert func is not None
    return store, FastFunc(func, store)


def test_host_function_exceptions_trap_the_plugin_call(plugin_dir, engine) -> None:
    """A Python exception in a host function traps the guest; the caller gets a
    WasmtimeError naming the function and the exception, and nothing is left in
    wasmtime-py's process-wide slot. A WasmtimeError passes through as a trap."""

    class Boom(Exception):
        pass

    def boom(store, bus, address, data, read_len):
        raise Boom("bus on fire")

    store, init = _init_func(plugin_dir, engine, _linker(engine, boom))
    with pytest.raises(wasmtime.WasmtimeError) as caught:
        init(store, [])
    assert f"host function {TRANSFER} failed: Boom: bus on fire" in str(caught.value)
    assert wasmtime_enter.LAST_EXCEPTION is None

    def refuse(store, bus, address, data, read_len):
        raise wasmtime.WasmtimeError("refused by host")

    store, init = _init_func(plugin_dir, engine, _linker(engine, refuse))
    with pytest.raises(wasmtime.WasmtimeError, match="refused by host"):
        init(store, [])
    assert wasmtime_enter.LAST_EXCEPTION is None


def test_host_function_sees_and_returns_wit_values(plugin_dir, engine) -> None:
    seen: list[tuple[int, int, bytes, int]] = []

    def transfer(store, bus, address, data, read_len):
        seen.append((bus, address, data, read_len))
        return Variant("no-acknowledge", "address")  # nothing at this address

    store, init = _init_func(plugin_dir, engine, _linker(engine, transfer))
    result = init(store, [rec(key="address", value="0x76")])
    init.post_return(store)
    assert isinstance(result, Variant) and result.tag in {"hal", "no-device"}
    assert seen and all(isinstance(d, bytes) for _, _, d, _ in seen)
    assert {a for _, a, _, _ in seen} == {0x76}
