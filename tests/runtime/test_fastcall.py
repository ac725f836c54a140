"""fastcall/fastconvert give exactly wasmtime-py's values, with our plugins' real WIT types."""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any

import pytest
import wasmtime
from wasmtime import _ffi as ffi
from wasmtime.component import (
    ComponentInstanceType,
    FuncType,
    Linker,
    Record,
    ValType,
    Variant,
)

from harvester.constants import IFACE_CLOCK, IFACE_GPIO, IFACE_I2C, IFACE_LOG, IFACE_SENSOR
from harvester.runtime.artifacts import ArtifactCache
from harvester.runtime.fastcall import FastFunc, add_func, compile_type
from harvester.runtime.fastconvert import drop_husk
from harvester.runtime.plugin import PluginInstance
from tests.conftest import ARTIFACTS

pytestmark = pytest.mark.wasm


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


@pytest.fixture(scope="module")
def functions(plugin_dir: Path, engine: wasmtime.Engine) -> dict[str, FuncType]:
    """Every function type the bme680 and dht22 components import or export, by iface#name."""
    cache = ArtifactCache(ARTIFACTS)
    found: dict[str, FuncType] = {}
    for plugin in ("bme680", "dht22"):
        component = cache.load(engine, plugin_dir / f"{plugin}.wasm", plugin=plugin)
        for items in (component.type.imports(engine), component.type.exports(engine)):
            for iface, ext in items.items():
                ty = ext.ty
                if isinstance(ty, ComponentInstanceType):
                    for name, f in ty.exports(engine).items():
                        if isinstance(f.ty, FuncType):
                            found[f"{iface.split('@')[0]}#{name}"] = f.ty
    return found


def ty_of(functions: dict[str, FuncType], where: str) -> ValType:
    """`iface#func` -> result type, `iface#func(param)` -> that parameter's type."""
    fn, _, param = where.partition("(")
    fty = functions[fn]
    if not param:
        assert fty.result is not None
        return fty.result
    return dict(fty.params)[param.rstrip(")")]


def short(iface: str) -> str:
    return iface.split("@")[0]


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
    # WASI's own types: an option of a record inside a result, and a list of (fallback) tuples.
    (
        "wasi:filesystem/types#[method]directory-entry-stream.read-directory-entry",
        [None, rec(type="directory", name="plugins"), rec(type="regular-file", name="x.wasm")],
    ),
    ("wasi:cli/environment#get-environment", [[], [("HOME", "/"), ("LANG", "C.UTF-8")]]),
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
    "where,value",
    [
        (f"{short(IFACE_I2C)}#transfer", bytearray(b"x")),  # list<u8> wants bytes exactly
        (f"{short(IFACE_I2C)}#transfer", Variant("no-such-case")),
        (f"{short(IFACE_I2C)}#transfer(read-len)", 1.0),
        (f"{short(IFACE_SENSOR)}#poll", [rec(metric="t", value=1)]),  # f64 wants a float
        (f"{short(IFACE_SENSOR)}#poll", [rec(metric="t")]),  # missing field
        (f"{short(IFACE_SENSOR)}#init(settings)", [rec(key="a", value="b"), "not a record"]),
        (f"{short(IFACE_LOG)}#log(level)", 3),
    ],
)
def test_bad_values_fail_like_wasmtime_py(functions, engine, where, value) -> None:
    store = wasmtime.Store(engine)
    ty = ty_of(functions, where)
    with pytest.raises(Exception) as generic:
        generic_roundtrip(store, ty, value)
    raw = ffi.wasmtime_component_val_t()
    with pytest.raises(generic.type):
        compile_type(ty).lower(store, value, ctypes.pointer(raw))


def test_fastfunc_polls_like_func(instantiate) -> None:
    from harvester.hal.sim.backend import SimBackend
    from harvester.hal.sim.bme680 import Bme680Sim
    from tests.plugins.test_bme680_plugin import attach, sim_backend

    backend: SimBackend = sim_backend()
    sim: Bme680Sim = attach(backend)
    sim.set_conditions(temperature_c=18.0, pressure_hpa=990.0, humidity_rh=40.0)
    plugin: PluginInstance = instantiate("bme680", backend)
    plugin.init({})
    store, instance = plugin._store, plugin._instance
    iface = instance.get_export_index(store, IFACE_SENSOR)
    func = instance.get_func(store, instance.get_export_index(store, "poll", iface))
    assert func is not None
    fast = FastFunc(func, store)
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
            add_func(inst, "transfer", transfer)
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


def test_host_function_exceptions_reach_the_caller_as_with_wasmtime_py(plugin_dir, engine) -> None:
    """A Python exception in a host function traps the guest and is re-raised to the caller
    (wasmtime-py's LAST_EXCEPTION protocol); a WasmtimeError passes through as a trap."""

    class Boom(Exception):
        pass

    def boom(store, bus, address, data, read_len):
        raise Boom("bus on fire")

    store, init = _init_func(plugin_dir, engine, _linker(engine, boom))
    with pytest.raises(Boom, match="bus on fire"):
        init(store, [])

    def refuse(store, bus, address, data, read_len):
        raise wasmtime.WasmtimeError("refused by host")

    store, init = _init_func(plugin_dir, engine, _linker(engine, refuse))
    with pytest.raises(wasmtime.WasmtimeError, match="refused by host"):
        init(store, [])


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
