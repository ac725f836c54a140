"""Component calls with converters built once: `FastFunc` for exports, `add_func` for imports.

Drop-in replacements for `Func.__call__`/`post_return` and `LinkerInstance.add_func` that
use `fastconvert`'s precomputed converters instead of wasmtime-py's per-call type walk. The
call protocol is wasmtime-py's (`_func.py`, `_linker.py`): the same C calls, the same
ownership of parameters and results, the same exception semantics (`enter_wasm`,
`catch_exceptions`), so traps, timeouts and host-function failures surface unchanged.

Private wasmtime-py API relied on (pinned wasmtime==50.0.1): `wasmtime._ffi` (C bindings),
`wasmtime.component._enter.enter_wasm/catch_exceptions`, `FuncType._from_ptr`, `Func._func`,
`Storelike._context()`, `LinkerInstance._assert_not_locked`, `WasmtimeError._from_ptr`.
"""

from __future__ import annotations

import ctypes
import itertools
from collections.abc import Callable
from ctypes import byref
from typing import Any

from wasmtime import StoreContext, Storelike, WasmtimeError
from wasmtime import _ffi as ffi
from wasmtime import component as wc
from wasmtime.component._enter import catch_exceptions, enter_wasm

from harvester.runtime.fastconvert import Converter, Val, compile_type, drop_husk

__all__ = ["Converter", "FastFunc", "add_func", "compile_type"]


class FastFunc:
    """A component export, called like `Func` but with its converters built once."""

    def __init__(self, func: wc.Func, store: Storelike) -> None:
        self._func = func._func  # the C handle, passed by reference on every call
        fty = func.type(store)
        self._params = [compile_type(ty).put for _, ty in fty.params]
        result = fty.result
        self._result = None if result is None else compile_type(result)
        self._array = Val * len(self._params)

    def __call__(self, store: Storelike, *params: Any) -> Any:
        if len(params) != len(self._params):
            raise TypeError(
                f"wrong number of parameters provided: given {len(params)},"
                f" expected {len(self._params)}"
            )
        args = self._array()
        n = 0
        try:
            for put, value in zip(self._params, params, strict=True):
                put(store, value, args[n])
                n += 1
            result = self._result
            space = Val()
            out, n_out = (None, 0) if result is None else (byref(space), 1)
            func, context = byref(self._func), store._context()

            def run() -> ctypes._Pointer[ffi.wasmtime_error_t]:
                # Looked up per call, as Func.__call__ does (bench/ wraps it to time the guest).
                return ffi.wasmtime_component_func_call(func, context, args, n, out, n_out)

            enter_wasm(run)  # a trap or a host function's exception raises here, as in Func
            if result is None:
                return None
            value = result.lift(space)
            if result.boxed:  # wasmtime-py never drops the result: leaks its payload box
                drop_husk(space)
            return value
        finally:
            for i in range(n):  # the call borrowed the params: they are still ours to free
                ffi.wasmtime_component_val_delete(byref(args[i]))

    def post_return(self, store: Storelike) -> None:
        func, context = byref(self._func), store._context()
        enter_wasm(lambda: ffi.wasmtime_component_func_post_return(func, context))


class _HostFunc:
    __slots__ = ("fn", "params", "result")

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.params: list[Callable[[Any], Any]] | None = None
        self.result: Converter | None = None


# Handles for the C side's `void *env`: never 0 (read back as `idx or 0`), never reused.
_HOST_FUNCS: dict[int, _HostFunc] = {}
_NEXT_ID = itertools.count(1)


def add_func(
    instance: wc.LinkerInstance, name: str, fn: Callable[..., Any], *, qualified: str | None = None
) -> None:
    """`instance.add_func(name, fn)`, with converters built on the first call and kept."""
    instance._assert_not_locked()
    name_bytes = name.encode("utf-8")
    idx = next(_NEXT_ID)
    _HOST_FUNCS[idx] = _HostFunc(fn)
    err = ffi.wasmtime_component_linker_instance_add_func(
        instance.ptr(), ctypes.create_string_buffer(name_bytes), len(name_bytes),
        _trampoline, idx, _finalize,
    )  # fmt: skip
    if err:
        _HOST_FUNCS.pop(idx, None)
        raise WasmtimeError._from_ptr(err)


def _serve(
    idx: int, context: Any, ty_raw: Any, args: Any, nargs: int, results: Any, nresults: int
) -> Any:
    def run(store: StoreContext) -> None:
        try:
            host = _HOST_FUNCS[idx]
            if host.params is None:
                # The FuncType pointer is the caller's, valid for this call only (owner=store
                # stops it being freed); the ValTypes read from it are our own copies.
                # One linker function serves one import type: the converters are reused.
                with wc.FuncType._from_ptr(ty_raw, owner=store) as fty:
                    result = fty.result
                    host.result = None if result is None else compile_type(result)
                    host.params = [compile_type(ty).lift for _, ty in fty.params]
            assert len(host.params) == nargs and nresults == (host.result is not None)
            value = host.fn(store, *[lift(args[i]) for i, lift in enumerate(host.params)])
            if host.result is None:
                assert value is None
            else:
                host.result.put(store, value, results[0])  # wasmtime owns and drops it
        except Exception:
            raise
        except BaseException as exc:  # ctypes would swallow it and report success
            raise RuntimeError(f"host function interrupted: {exc!r}") from exc

    # Same as wasmtime-py's func_impl: WasmtimeError passes through, any other exception is
    # kept in _enter.LAST_EXCEPTION and re-raised by enter_wasm in the calling thread.
    return catch_exceptions(context, run)


@ffi.wasmtime_component_func_callback_t
def _trampoline(idx, context, ty_raw, args, nargs, results, nresults):
    return _serve(idx or 0, context, ty_raw, args, nargs, results, nresults)


@ctypes.CFUNCTYPE(None, ctypes.c_void_p)
def _finalize(idx):
    _HOST_FUNCS.pop(idx or 0, None)
