"""Component calls with converters built once: `FastFunc` for exports, `add_func` for imports.

Drop-in replacements for `Func.__call__`/`post_return` and `LinkerInstance.add_func` that
use `fastconvert`'s precomputed converters instead of wasmtime-py's per-call type walk. The
C calls and the ownership of parameters and results are wasmtime-py's (`_func.py`,
`_linker.py`). Exceptions are not: wasmtime-py parks a host function's Python exception in
a process-wide slot (`_enter.LAST_EXCEPTION`) that the next call into wasm, in any thread,
re-raises. Here nothing goes there:

- a host function's exception, or a value its import's WIT type cannot hold, becomes a
  `WasmtimeError` trap naming the function and the cause ("host function
  harvester:plugin/i2c@1.2.0#transfer failed: ValueError: ..."); a `WasmtimeError` the
  host function raises itself passes through as it is;
- `FastFunc.__call__` raises the `WasmtimeError` wasmtime returned and never reads the slot.

The fast path relies on private wasmtime-py API (`PRIVATE_API`, and fastconvert's) and is
used only when `fastconvert.check_wasmtime` accepts the wasmtime in use (exactly the
version it was written for, its bundled library, those names). Otherwise `FastFunc` wraps
`Func.__call__`/`post_return` and `add_func` calls `LinkerInstance.add_func`, and one
warning is logged (logger "harvester.runtime"). `ACTIVE` and `REASON` say which path new
functions take; `use_fast_path` forces either (tests, the benchmark).

The fallback keeps the trap contract for exceptions the host function raises (it wraps the
function) and turns a bytes-like result into `bytes`, but a value wasmtime-py's converters
reject still goes through its process-wide slot: that path has no other way to report it.
"""

from __future__ import annotations

import ctypes
import itertools
import logging
from collections.abc import Callable, Sequence
from ctypes import byref
from dataclasses import dataclass
from typing import Any

from wasmtime import StoreContext, Storelike, WasmtimeError
from wasmtime import _ffi as ffi
from wasmtime import component as wc

from harvester.runtime import fastconvert
from harvester.runtime.fastconvert import ConversionError, Converter, Val, compile_type, drop_husk

__all__ = [
    "ACTIVE",
    "REASON",
    "SUPPORTED",
    "ConversionError",
    "Converter",
    "FastFunc",
    "add_func",
    "compile_type",
    "use_fast_path",
]

log = logging.getLogger("harvester.runtime")

# Private API used here, besides fastconvert's (checked at import, see check_wasmtime).
PRIVATE_API: tuple[str, ...] = (
    "wasmtime._ffi.wasmtime_component_func_call",
    "wasmtime._ffi.wasmtime_component_func_post_return",
    "wasmtime._ffi.wasmtime_component_func_callback_t",
    "wasmtime._ffi.wasmtime_component_linker_instance_add_func",
    "wasmtime.component.FuncType._from_ptr",
    "wasmtime.component.LinkerInstance._assert_not_locked",
    "wasmtime.Store._context",
    "wasmtime.StoreContext._context",
    "wasmtime.StoreContext._invalidate",
    "wasmtime.WasmtimeError._from_ptr",
    "wasmtime.WasmtimeError._consume",
)


def _check() -> str | None:
    """Why the fast path must not run here, or None (fastconvert's checks, then ours)."""
    problem = fastconvert.PROBLEM or fastconvert.check_wasmtime(PRIVATE_API)
    # Func._func, the C handle, is an instance attribute: only its declaration can be seen.
    if problem is None and "_func" not in getattr(wc.Func, "__annotations__", {}):
        problem = "wasmtime-py lacks private API the fast path uses: Func._func"
    return problem


_PROBLEM = _check()
# Whether the fast path can run with this wasmtime at all.
SUPPORTED: bool = _PROBLEM is None
# Whether FastFunc and add_func use it from now on (read as `fastcall.ACTIVE`: it changes).
ACTIVE: bool = SUPPORTED
_FAST = f"fast path: wasmtime {fastconvert.WRITTEN_FOR}, with the private API it was written for"
# Why ACTIVE is what it is, for logs and reports.
REASON: str = _FAST if _PROBLEM is None else f"wasmtime-py's own conversion: {_PROBLEM}"
if _PROBLEM is not None:
    log.warning("component calls use wasmtime-py's own (slower) value conversion: %s", _PROBLEM)


def use_fast_path(enabled: bool) -> bool:
    """Make FastFunc and add_func created from now on take the fast path, or not.

    Functions made earlier keep the path they were made with. Returns the previous setting,
    so a caller can restore it. Raises RuntimeError when asked for the fast path with a
    wasmtime it does not support (`SUPPORTED` is False): that would corrupt memory.
    """
    global ACTIVE, REASON
    if enabled and not SUPPORTED:
        raise RuntimeError(f"the fast path cannot be used here: {_PROBLEM}")
    previous, ACTIVE = ACTIVE, enabled
    REASON = _FAST if enabled else "wasmtime-py's own conversion: use_fast_path(False)"
    return previous


@dataclass(frozen=True)
class Signature:
    """A function type's converters. The same export of the same Component always has the
    same type, so its instances can share them (`FastFunc(..., signature=...)`)."""

    params: Sequence[Callable[[Storelike, Any, Any], None]]
    result: Converter | None
    array: Any  # the ctypes array type for the parameters


def signature_of(func: wc.Func, store: Storelike) -> Signature:
    fty = func.type(store)
    params = [compile_type(ty).put for _, ty in fty.params]
    result = fty.result
    return Signature(params, None if result is None else compile_type(result), Val * len(params))


class FastFunc:
    """A component export, called like `Func` but with its converters built once.

    Takes the path `ACTIVE` says when made (`fast` tells which). Calls raise what `Func`
    raises: TypeError for a wrong number of parameters, ConversionError (a TypeError) for
    a parameter its WIT type cannot hold, WasmtimeError for a trap (including a host
    function's failure, see the module docstring).
    """

    def __init__(
        self, func: wc.Func, store: Storelike, *, signature: Signature | None = None
    ) -> None:
        self.fast = ACTIVE
        self._generic: wc.Func | None = None if self.fast else func
        self.signature: Signature | None = None
        if not self.fast:
            return
        self._func = func._func  # the C handle, passed by reference on every call
        self.signature = signature or signature_of(func, store)
        self._params = self.signature.params
        self._result = self.signature.result
        self._array = self.signature.array

    def __call__(self, store: Storelike, *params: Any) -> Any:
        if self._generic is not None:
            return self._generic(store, *params)
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
            # Looked up on the module per call, as Func.__call__ does (bench/ wraps it).
            error = ffi.wasmtime_component_func_call(
                byref(self._func), store._context(), args, n, out, n_out
            )
            if error:
                # The trap itself; _enter.LAST_EXCEPTION may hold another thread's exception.
                raise WasmtimeError._from_ptr(error)
            if result is None:
                return None
            # On a ConversionError here `space` is leaked, not dropped: a val that is not
            # what its type says is not one we can free safely.
            value = result.lift(space)
            if result.boxed:  # wasmtime-py never drops the result: leaks its payload box
                drop_husk(space)
            return value
        finally:
            for i in range(n):  # the call borrowed the params: they are still ours to free
                ffi.wasmtime_component_val_delete(byref(args[i]))

    def post_return(self, store: Storelike) -> None:
        """Let the guest free what its last result used. Raises WasmtimeError on a trap."""
        if self._generic is not None:
            self._generic.post_return(store)
            return
        error = ffi.wasmtime_component_func_post_return(byref(self._func), store._context())
        if error:
            raise WasmtimeError._from_ptr(error)


def add_func(
    instance: wc.LinkerInstance,
    name: str,
    fn: Callable[..., Any],
    *,
    qualified: str | None = None,
) -> None:
    """`instance.add_func(name, fn)`, on the path `ACTIVE` says when called.

    `qualified` (e.g. "harvester:plugin/i2c@1.2.0#transfer") names the function in the
    trap message when it fails; `name` is used if it is not given. Raises WasmtimeError if
    the linker refuses the definition (or is locked, as `LinkerInstance.add_func` does).
    """
    label = qualified or name
    if not ACTIVE:
        instance.add_func(name, _trapping(fn, label))
        return
    instance._assert_not_locked()
    name_bytes = name.encode("utf-8")
    idx = next(_NEXT_ID)
    _HOST_FUNCS[idx] = _HostFunc(fn, label)
    err = ffi.wasmtime_component_linker_instance_add_func(
        instance.ptr(), ctypes.create_string_buffer(name_bytes), len(name_bytes),
        _trampoline, idx, _finalize,
    )  # fmt: skip
    if err:
        _HOST_FUNCS.pop(idx, None)
        raise WasmtimeError._from_ptr(err)


def _failure(label: str, exc: BaseException) -> str:
    """The trap message: one line (plugin.py reports a trap's last line), of bounded size."""
    cause = " ".join(str(exc).split())
    if len(cause) > 300:
        cause = cause[:300] + "..."
    return f"host function {label} failed: {type(exc).__name__}: {cause}"


def _trapping(fn: Callable[..., Any], label: str) -> Callable[..., Any]:
    """`fn` for wasmtime-py's add_func: exceptions become traps, bytes-like becomes bytes."""

    def call(store: StoreContext, *args: Any) -> Any:
        try:
            value = fn(store, *args)
        except WasmtimeError:
            raise  # a deliberate trap: wasmtime-py passes it through
        except BaseException as exc:  # anything else would go to wasmtime-py's global slot
            raise WasmtimeError(_failure(label, exc)) from None
        # wasmtime-py's list<u8> takes bytes only (a result<list<u8>, _> is untagged, so
        # transfer's bytes arrive here unwrapped).
        return bytes(value) if isinstance(value, bytearray | memoryview) else value

    return call


class _HostFunc:
    __slots__ = ("converters", "fn", "label")

    def __init__(self, fn: Callable[..., Any], label: str) -> None:
        self.fn, self.label = fn, label
        # (param lifters, result converter), built on the first call from the import type.
        self.converters: tuple[list[Callable[[Any], Any]], Converter | None] | None = None


# Handles for the C side's `void *env`: never 0 (read back as `idx or 0`), never reused.
_HOST_FUNCS: dict[int, _HostFunc] = {}
_NEXT_ID = itertools.count(1)


def _serve(
    idx: int, context: Any, ty_raw: Any, args: Any, nargs: int, results: Any, nresults: int
) -> int:
    """Run host function `idx` for wasmtime; the error pointer to return (0: success).

    Never raises: a Python exception escaping a ctypes callback is printed and reported to
    wasmtime as success, with the result unwritten.
    """
    store = StoreContext(context)
    host = _HOST_FUNCS.get(idx)
    label = f"#{idx}" if host is None else host.label
    try:
        if host is None:
            raise LookupError("no such host function (its linker was dropped)")
        if host.converters is None:
            # The FuncType pointer is the caller's, valid for this call only (owner=store
            # stops it being freed); the ValTypes read from it are our own copies. One
            # linker function serves one import type, so the converters are kept.
            with wc.FuncType._from_ptr(ty_raw, owner=store) as fty:
                result_ty = fty.result
                host.converters = (
                    [compile_type(ty).lift for _, ty in fty.params],
                    None if result_ty is None else compile_type(result_ty),
                )
        params, result = host.converters
        if nargs != len(params) or nresults != (result is not None):
            raise ConversionError(
                f"called with {nargs} arguments and {nresults} results; its type has"
                f" {len(params)} and {int(result is not None)}"
            )
        value = host.fn(store, *[lift(args[i]) for i, lift in enumerate(params)])
        if result is None:
            if value is not None:
                raise ConversionError(f"returned {_show(value)}; its import has no result")
        else:
            try:
                result.put(store, value, results[0])  # wasmtime owns and drops it
            except ConversionError as exc:
                raise ConversionError(f"returned {_show(value)}: {exc}") from None
        return 0
    except WasmtimeError as exc:
        error = exc  # the host function's own trap, passed through as wasmtime-py does
    except BaseException as exc:  # BaseException too: see the docstring
        error = WasmtimeError(_failure(label, exc))
    finally:
        store._invalidate()
    try:
        raw = error._consume()  # wasmtime takes ownership of the error
    except ValueError:  # a WasmtimeError that was handed to wasmtime before (re-raised)
        raw = WasmtimeError(f"host function {label} failed: it re-raised a spent trap")._consume()
    return ctypes.cast(raw, ctypes.c_void_p).value or 0


def _show(value: Any) -> str:
    """A short picture of a value for a trap message (it may be large)."""
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"


def _callback(idx, context, ty_raw, args, nargs, results, nresults):
    return _serve(idx or 0, context, ty_raw, args, nargs, results, nresults)


@ctypes.CFUNCTYPE(None, ctypes.c_void_p)
def _finalize(idx):
    _HOST_FUNCS.pop(idx or 0, None)


# The C callback type is private API: made only where it was found (and checked).
_trampoline: Any = ffi.wasmtime_component_func_callback_t(_callback) if SUPPORTED else None
