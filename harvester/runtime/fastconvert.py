"""Type-directed converters for component values, built once per WIT type.

wasmtime-py converts values generically: every call re-reads the WIT types through ctypes
(`FuncType.params`, `ListType.element`, `VariantType.cases`, `_tagged()`, ...) and moves
`list<u8>` one byte at a time. Here a function's types are walked once into a tree of
converters with everything precomputed (element converters, field and case names, the
tagged flag), which is then reused on every call.

Values are exactly wasmtime-py's (`Record` with dashed attribute names, `Variant(tag,
payload)` for tagged variants, plain values for untagged ones, enums as `str`, `bytes` for
`list<u8>`), and so is the C memory protocol (wasmtime/component/val.h):

- Lowering fills a `wasmtime_component_val_t` with buffers the C library allocated (byte
  vectors, list/record arrays, `wasmtime_component_val_new` payload boxes). Whoever owns
  that val then owns them: wasmtime for a host function's result, the caller for call
  parameters, which are `wasmtime_component_val_delete`d after the call.
- Lifting consumes: it reads a value, then frees what it read with the matching `*_delete`
  (which leaves an empty vector behind, so a later drop of the enclosing val is harmless)
  and turns consumed elements into `bool false` so nothing is dropped twice.

Two deliberate differences. wasmtime-py overwrites a consumed nested value with `bool
false` without dropping it, which leaks its payload box if it was a variant/option/result,
and never drops a call's result, which leaks the top-level box (32 bytes per `poll`). We
drop such husks first (`drop_husk`), exactly as wasmtime drops a host function's arguments
after wasmtime-py's generic lifting consumed them. And `list<u8>` also takes `bytearray`
and `memoryview` (wasmtime-py: `bytes` only); it is always lifted as `bytes`.

Private wasmtime-py API relied on: `wasmtime._ffi` (C bindings and struct layouts),
`VariantLikeType._tagged`, and the `convert_to_c`/`convert_from_c`/`add_classes` of the
types it falls back to (all in `PRIVATE_API`). They are checked at import (`check_wasmtime`):
`PROBLEM` says why these converters must not be used with the wasmtime found, and
`harvester.runtime.fastcall` then uses wasmtime-py's own conversion instead. Nothing here
uses `assert`: every check raises `ConversionError`, and holds under `python -O`.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterable
from ctypes import byref
from importlib import import_module, metadata
from pathlib import Path
from typing import Any

import wasmtime
from wasmtime import Storelike
from wasmtime import _ffi as ffi
from wasmtime import component as wc

# The wasmtime-py release these converters were written and tested against. Its private C
# bindings and value protocol may change in any release, so no other version is trusted.
WRITTEN_FOR = "50.0.1"

# The val kinds the converters write and check (WASMTIME_COMPONENT_<kind> in the bindings).
_KINDS = ("BOOL", "S8", "U8", "S16", "U16", "S32", "U32", "S64", "U64", "F32", "F64",
          "STRING", "ENUM", "LIST", "RECORD", "VARIANT", "OPTION", "RESULT")  # fmt: skip

# Everything private this module touches, as dotted paths from an importable module.
PRIVATE_API: tuple[str, ...] = (
    "wasmtime._ffi.wasmtime_component_val_t",
    "wasmtime._ffi.wasmtime_component_valunion",
    "wasmtime._ffi.wasmtime_component_vallist_t",
    "wasmtime._ffi.wasmtime_component_valrecord_t",
    "wasmtime._ffi.wasmtime_component_valrecord_entry_t",
    *(f"wasmtime._ffi.WASMTIME_COMPONENT_{kind}" for kind in _KINDS),
    "wasmtime._ffi.wasm_byte_vec_new_uninitialized",
    "wasmtime._ffi.wasm_byte_vec_delete",
    "wasmtime._ffi.wasmtime_component_val_new",
    "wasmtime._ffi.wasmtime_component_val_delete",
    "wasmtime._ffi.wasmtime_component_vallist_new_uninit",
    "wasmtime._ffi.wasmtime_component_vallist_delete",
    "wasmtime._ffi.wasmtime_component_valrecord_new_uninit",
    "wasmtime._ffi.wasmtime_component_valrecord_delete",
    "wasmtime.component._types.VariantLikeType._tagged",
    "wasmtime.component._types.ValType.add_classes",
    "wasmtime.component._types.ValType.convert_to_c",
    "wasmtime.component._types.ValType.convert_from_c",
)

# (sizeof val, offset of its payload union, sizeof a record entry) in 50.0.1 on 64-bit
# hosts: what `_Bytes` computes its block layout from and what the converters index.
_LAYOUT = (32, 8, 48)


class ConversionError(TypeError, ValueError):
    """A value does not fit its WIT type, or a val from wasmtime is not what its type says.

    Both a TypeError and a ValueError: wasmtime-py raises one or the other for the same
    faults, so code written against either keeps working.
    """


def _resolve(dotted: str) -> Any:
    """The object at `dotted` (a module path, then attributes). Raises ImportError or
    AttributeError when it is not there."""
    parts = dotted.split(".")
    for split in range(len(parts) - 1, 0, -1):  # the longest importable prefix
        try:
            obj = import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attr in parts[split:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(f"no module in {dotted!r}")


def check_wasmtime(
    names: Iterable[str] = PRIVATE_API, *, installed: str | None = None
) -> str | None:
    """Why the fast converters must not run with the wasmtime in use, or None if they may.

    Checks the installed wasmtime distribution is exactly `WRITTEN_FOR` (`installed`
    overrides what its metadata says, for tests), that `wasmtime._ffi` loads the native
    library shipped inside that package (a distribution may point it at its own
    libwasmtime, whose structs need not match these bindings), that the struct layout is
    the one the converters index, and that every name in `names` exists. Never raises.
    """
    if installed is None:
        try:
            installed = metadata.version("wasmtime")
        except metadata.PackageNotFoundError:
            return "the wasmtime distribution has no metadata, so its version is unknown"
    if installed != WRITTEN_FOR:
        return f"wasmtime {installed} is installed; the fast path is written for {WRITTEN_FOR}"
    package = Path(wasmtime.__file__).resolve().parent
    library = getattr(getattr(ffi, "dll", None), "_name", None)
    if not isinstance(library, str) or not Path(library).resolve().is_relative_to(package):
        return f"wasmtime-py loads its native library from {library!r}, not from {package}"
    missing = []
    for name in names:
        try:
            _resolve(name)
        except (ImportError, AttributeError):
            missing.append(name)
    if missing:
        return "wasmtime-py lacks private API the fast path uses: " + ", ".join(missing)
    val = ffi.wasmtime_component_val_t
    entry = ffi.wasmtime_component_valrecord_entry_t
    layout = (ctypes.sizeof(val), val.of.offset, ctypes.sizeof(entry))
    if layout != _LAYOUT:
        return f"wasmtime-py's component value layout is {layout}, expected {_LAYOUT}"
    return None


PROBLEM: str | None = check_wasmtime()

# Read from the bindings only once they passed the check above; placeholders otherwise
# (nothing below is called then: fastcall uses wasmtime-py's own conversion).
Val: Any = None
BOOL = LIST = RECORD = VARIANT = OPTION = RESULT = STRING = ENUM = -1
_VAL_SIZE = _U8_AT = 0
_U8_KIND = b""
if PROBLEM is None:
    Val = ffi.wasmtime_component_val_t
    BOOL, LIST, RECORD, VARIANT, OPTION, RESULT, STRING, ENUM = (
        getattr(ffi, f"WASMTIME_COMPONENT_{kind}").value
        for kind in ("BOOL", "LIST", "RECORD", "VARIANT", "OPTION", "RESULT", "STRING", "ENUM")
    )
    # list<u8> is an array of whole vals (kind byte, then the union); read/write it in one go.
    _VAL_SIZE = ctypes.sizeof(Val)
    _U8_AT = Val.of.offset + ffi.wasmtime_component_valunion.u8.offset  # type: ignore[attr-defined]
    _U8_KIND = bytes([ffi.WASMTIME_COMPONENT_U8.value])


def _wrong_kind(found: int, wanted: int) -> ConversionError:
    return ConversionError(f"wasmtime gave a val of kind {found} where kind {wanted} was due")


def _new_vec(vec: Any, data: bytes) -> None:
    """Fill a `wasm_byte_vec_t` field with a C-allocated copy of `data` (the val owns it)."""
    ffi.wasm_byte_vec_new_uninitialized(byref(vec), len(data))
    if data:
        ctypes.memmove(vec.data, data, len(data))


def _take_vec(vec: Any) -> bytes:
    """Read a `wasm_byte_vec_t` field and free it (as `String.convert_from_c` does)."""
    try:
        return ctypes.string_at(vec.data, vec.size)
    finally:
        ffi.wasm_byte_vec_delete(byref(vec))  # leaves {0, NULL}: safe to drop again


def _blank(val: Any) -> None:
    """Make `val` own nothing (`bool false`), so dropping it later frees nothing twice."""
    val.kind = BOOL
    val.of.boolean = False


def drop_husk(val: Any) -> None:
    """Free what a lifted (consumed) val still holds, i.e. payload boxes, then blank it."""
    ffi.wasmtime_component_val_delete(byref(val))
    _blank(val)


class Converter:
    """Moves Python values of one WIT type into and out of `wasmtime_component_val_t`."""

    # Whether a lifted val of this type may still hold something (a variant/option/result
    # payload box; anything in a type we leave to wasmtime-py), so its husk must be dropped.
    # Other husks own nothing: scalars never do, and strings, enums, lists and records were
    # freed by their *_delete, which leaves {0, NULL}; dropping that again is harmless (it is
    # what wasmtime does to a host function's arguments after wasmtime-py consumed them).
    boxed = False

    def put(self, store: Storelike, value: Any, dst: Any) -> None:
        """Lower `value` into the val `dst`. On error `dst` owns nothing new.

        Raises ConversionError if `value` does not fit the type.
        """
        raise NotImplementedError

    def lift(self, src: Any) -> Any:
        """Lift (and consume) the val `src`.

        Raises ConversionError if `src` is not a val of this type (a kind, field name,
        field count or case wasmtime should never have produced); `src` is then left for
        its owner to drop, possibly half consumed but never owning anything twice.
        """
        raise NotImplementedError

    def lower(self, store: Storelike, value: Any, ptr: ctypes._Pointer[Any]) -> None:
        """`put` through a pointer, as wasmtime-py's `convert_to_c` takes it."""
        self.put(store, value, ptr.contents)


class _Scalar(Converter):
    def __init__(self, kind: Any, field: str, accept: type, what: str) -> None:
        self.kind, self.field, self.accept, self.what = kind.value, field, accept, what

    def put(self, store: Storelike, value: Any, dst: Any) -> None:
        if not isinstance(value, self.accept):
            raise ConversionError(f"{self.what}, got {type(value).__name__}")
        dst.kind = self.kind
        setattr(dst.of, self.field, value)

    def lift(self, src: Any) -> Any:
        if src.kind != self.kind:
            raise _wrong_kind(src.kind, self.kind)
        return getattr(src.of, self.field)  # ctypes already gives bool/int/float


def _scalars() -> dict[type, Converter]:
    """One converter per scalar type (wasmtime-py's own messages, with what was found)."""
    table = [
        (wc.Bool, "BOOL", "boolean", bool), (wc.S8, "S8", "s8", int), (wc.U8, "U8", "u8", int),
        (wc.S16, "S16", "s16", int), (wc.U16, "U16", "u16", int), (wc.S32, "S32", "s32", int),
        (wc.U32, "U32", "u32", int), (wc.S64, "S64", "s64", int), (wc.U64, "U64", "u64", int),
        (wc.F32, "F32", "f32", float), (wc.F64, "F64", "f64", float),
    ]  # fmt: skip
    return {
        ty: _Scalar(
            getattr(ffi, f"WASMTIME_COMPONENT_{kind}"),
            field,
            accept,
            f"expected {accept.__name__} for {ty.__name__} type",
        )
        for ty, kind, field, accept in table
    }


_SCALARS: dict[type, Converter] = _scalars() if PROBLEM is None else {}


class _Text(Converter):
    """string, and enum (same C shape: a byte vector; `names` interns known enum names)."""

    def __init__(self, kind: int, field: str, what: str, names: list[str] | None = None) -> None:
        self.kind, self.field, self.what = kind, field, what
        self.names = {n.encode(): n for n in names or ()}

    def put(self, store: Storelike, value: Any, dst: Any) -> None:
        if not isinstance(value, str):
            raise ConversionError(f"{self.what}, got {type(value).__name__}")
        try:
            data = value.encode("utf-8")  # before anything is allocated
        except UnicodeEncodeError as exc:  # a lone surrogate
            raise ConversionError(f"string is not valid UTF-8: {exc}") from exc
        dst.kind = self.kind
        _new_vec(getattr(dst.of, self.field), data)

    def lift(self, src: Any) -> Any:
        if src.kind != self.kind:
            raise _wrong_kind(src.kind, self.kind)
        raw = _take_vec(getattr(src.of, self.field))
        name = self.names.get(raw)
        return raw.decode("utf-8") if name is None else name


# What list<u8> accepts. wasmtime-py takes only `bytes`; a backend handing back the
# bytearray it read into is legitimate, and the values are copied into C memory anyway.
BYTES_LIKE = (bytes, bytearray, memoryview)


class _Bytes(Converter):
    """list<u8> <-> bytes, written and read as one block instead of val by val."""

    def put(self, store: Storelike, value: Any, dst: Any) -> None:
        if isinstance(value, memoryview):
            value = value.tobytes()  # any shape or format: its bytes, in order
        elif not isinstance(value, bytes | bytearray):
            raise ConversionError(f"expected bytes value, got {type(value).__name__}")
        n = len(value)
        raw = ffi.wasmtime_component_vallist_t()
        ffi.wasmtime_component_vallist_new_uninit(raw, n)  # C-allocated, uninitialised vals
        if n:
            block = bytearray(n * _VAL_SIZE)  # each val: kind u8, payload byte; rest zero
            block[0::_VAL_SIZE] = _U8_KIND * n
            block[_U8_AT::_VAL_SIZE] = value
            ctypes.memmove(raw.data, (ctypes.c_char * len(block)).from_buffer(block), len(block))
        dst.kind = LIST
        dst.of.list = raw  # ownership of the array passes to dst's owner

    def lift(self, src: Any) -> Any:
        if src.kind != LIST:
            raise _wrong_kind(src.kind, LIST)
        vec = src.of.list
        try:
            if not vec.size:
                return b""
            block = ctypes.string_at(vec.data, vec.size * _VAL_SIZE)
            if block[0::_VAL_SIZE].count(_U8_KIND) != vec.size:
                raise ConversionError("wasmtime gave a list<u8> holding vals other than u8")
            return block[_U8_AT::_VAL_SIZE]
        finally:
            # u8 vals own nothing, so unlike other lists no per-element blanking is needed.
            # (wasmtime-py frees lists with valtuple_delete: the same Box<[val]> layout.)
            ffi.wasmtime_component_vallist_delete(byref(vec))


class _List(Converter):
    def __init__(self, element: Converter) -> None:
        self.element = element

    def put(self, store: Storelike, value: Any, dst: Any) -> None:
        if not isinstance(value, list):
            raise ConversionError(f"expected list value, got {type(value).__name__}")
        n, put = len(value), self.element.put
        raw = ffi.wasmtime_component_vallist_t()
        ffi.wasmtime_component_vallist_new_uninit(raw, n)
        data, i = raw.data, 0
        try:
            for item in value:
                put(store, item, data[i])
                i += 1
        except BaseException:
            for j in range(i, n):  # unwritten vals are garbage: make them droppable
                _blank(data[j])
            ffi.wasmtime_component_vallist_delete(byref(raw))  # frees elements 0..i-1 too
            raise
        dst.kind = LIST
        dst.of.list = raw

    def lift(self, src: Any) -> Any:
        if src.kind != LIST:
            raise _wrong_kind(src.kind, LIST)
        vec = src.of.list
        lift, boxed, data = self.element.lift, self.element.boxed, vec.data
        try:
            out = []
            for i in range(vec.size):
                item = data[i]
                out.append(lift(item))
                if boxed:
                    drop_husk(item)
            return out
        finally:
            ffi.wasmtime_component_vallist_delete(byref(vec))


class _Record(Converter):
    def __init__(self, fields: list[tuple[str, Converter]]) -> None:
        self.fields = [(name, name.encode(), conv) for name, conv in fields]

    def put(self, store: Storelike, value: Any, dst: Any) -> None:
        # Read every field first: a missing one fails before anything is allocated.
        try:
            values = [getattr(value, name) for name, _, _ in self.fields]
        except AttributeError as exc:
            raise ConversionError(
                f"expected a Record with fields {[f[0] for f in self.fields]},"
                f" got {type(value).__name__} ({exc})"
            ) from None
        n = len(self.fields)
        raw = ffi.wasmtime_component_valrecord_t()
        ffi.wasmtime_component_valrecord_new_uninit(raw, n)
        data, i = raw.data, 0
        try:
            for (_, name_bytes, conv), field in zip(self.fields, values, strict=True):
                entry = data[i]
                conv.put(store, field, entry.val)
                _new_vec(entry.name, name_bytes)
                i += 1
        except BaseException:
            for j in range(i, n):
                entry = data[j]
                _blank(entry.val)
                # wasmtime-py leaves these names uninitialised before the delete below.
                entry.name.size = 0
                entry.name.data = None
            ffi.wasmtime_component_valrecord_delete(byref(raw))
            raise
        dst.kind = RECORD
        dst.of.record = raw

    def lift(self, src: Any) -> Any:
        if src.kind != RECORD:
            raise _wrong_kind(src.kind, RECORD)
        vec = src.of.record
        data = vec.data
        try:
            if vec.size != len(self.fields):
                raise ConversionError(
                    f"wasmtime gave a record of {vec.size} fields, not {len(self.fields)}"
                )
            rec = wc.Record()
            attrs = rec.__dict__  # what setattr(rec, "dashed-name", ...) writes to
            for i, (name, name_bytes, conv) in enumerate(self.fields):
                entry = data[i]
                found = ctypes.string_at(entry.name.data, entry.name.size)
                if found != name_bytes:
                    raise ConversionError(f"wasmtime gave record field {found!r} for {name!r}")
                attrs[name] = conv.lift(entry.val)
                if conv.boxed:
                    drop_husk(entry.val)
            return rec
        finally:
            ffi.wasmtime_component_valrecord_delete(byref(vec))  # names are freed here


class _Case:
    __slots__ = ("classes", "conv", "name", "name_bytes")

    def __init__(self, name: str, ty: wc.ValType | None) -> None:
        self.name, self.name_bytes = name, name.encode()
        self.conv = None if ty is None else compile_type(ty)
        classes: set[type] = set()
        if ty is not None:
            ty.add_classes(classes)
        if bytes in classes:  # list<u8> takes any bytes-like value (see _Bytes)
            classes.update(BYTES_LIKE)
        self.classes = tuple(classes)  # what an untagged value of this case may be


class _VariantLike(Converter):
    """variant, option and result, after wasmtime-py's VariantLikeType._lower/_lift."""

    boxed = True

    def __init__(
        self,
        ty: wc.VariantType | wc.OptionType | wc.ResultType,
        kind: int,
        cases: list[tuple[str, Any]],
    ) -> None:
        self.kind, self.tagged = kind, ty._tagged()
        self.cases = [_Case(name, case_ty) for name, case_ty in cases]
        self.by_name = {c.name: c for c in self.cases}
        self.by_bytes = {c.name_bytes: c for c in self.cases}

    def _choose(self, value: Any) -> tuple[_Case, Any]:
        if self.tagged:
            if not isinstance(value, wc.Variant):
                raise ConversionError(f"expected Variant type, got {type(value).__name__}")
            case = self.by_name.get(value.tag)
            if case is not None:
                return case, value.payload
            raise ConversionError(f"variant has no case {value.tag!r}")
        for case in self.cases:  # first case whose Python classes fit, as wasmtime-py tries
            if (value is None) if case.conv is None else isinstance(value, case.classes):
                return case, value
        raise ConversionError(
            f"value not valid for this variant: {type(value).__name__} fits none of"
            f" {[c.name for c in self.cases]}"
        )

    def put(self, store: Storelike, value: Any, dst: Any) -> None:
        case, payload = self._choose(value)
        box = None
        if case.conv is not None:
            raw = Val()
            case.conv.put(store, payload, raw)
            box = ffi.wasmtime_component_val_new(byref(raw))  # moves raw onto the C heap
        dst.kind = self.kind
        if self.kind == VARIANT:
            _new_vec(dst.of.variant.discriminant, case.name_bytes)
            dst.of.variant.val = box
        elif self.kind == OPTION:
            dst.of.option = box
        else:
            dst.of.result.is_ok = case.name == "ok"
            dst.of.result.val = box

    def lift(self, src: Any) -> Any:
        if src.kind != self.kind:
            raise _wrong_kind(src.kind, self.kind)
        if self.kind == VARIANT:
            case = self.by_bytes.get(_take_vec(src.of.variant.discriminant))
            box = src.of.variant.val
        elif self.kind == OPTION:
            box = src.of.option
            case = self.by_name["some" if box else "none"]
        else:
            case = self.by_name["ok" if src.of.result.is_ok else "err"]
            box = src.of.result.val
        if case is None:
            raise ConversionError("wasmtime gave a variant case this type does not have")
        if case.conv is None:
            return wc.Variant(case.name) if self.tagged else None
        if not box:
            raise ConversionError(f"wasmtime gave case {case.name!r} without its payload")
        inner = box.contents
        payload = case.conv.lift(inner)
        if case.conv.boxed:
            drop_husk(inner)  # the box itself belongs to (and is freed with) src
        return wc.Variant(case.name, payload) if self.tagged else payload


class _Generic(Converter):
    """Anything else (char, flags, tuple, resources, ...): wasmtime-py's own conversion."""

    boxed = True

    def __init__(self, ty: wc.ValType) -> None:
        self.ty = ty

    def put(self, store: Storelike, value: Any, dst: Any) -> None:
        try:
            self.ty.convert_to_c(store, value, ctypes.pointer(dst))
        except (TypeError, ValueError, AttributeError) as exc:  # what its checks raise
            raise ConversionError(f"{type(exc).__name__}: {exc}") from exc

    def lift(self, src: Any) -> Any:
        return self.ty.convert_from_c(src)


def compile_type(ty: wc.ValType) -> Converter:
    """A converter for `ty`, with everything about the type read once, now.

    Raises ConversionError if the wasmtime in use failed `check_wasmtime` (see `PROBLEM`):
    these converters would write structs whose layout is not known to match.
    """
    if PROBLEM is not None:
        raise ConversionError(f"fast converters are disabled: {PROBLEM}")
    if type(ty) in _SCALARS:
        return _SCALARS[type(ty)]
    if isinstance(ty, wc.String):
        return _Text(STRING, "string", "expected string type")
    if isinstance(ty, wc.EnumType):
        return _Text(ENUM, "enumeration", "expected str type", ty.names)
    if isinstance(ty, wc.ListType):
        element = ty.element
        return _Bytes() if isinstance(element, wc.U8) else _List(compile_type(element))
    if isinstance(ty, wc.RecordType):
        return _Record([(name, compile_type(t)) for name, t in ty.fields])
    if isinstance(ty, wc.VariantType):
        return _VariantLike(ty, VARIANT, ty.cases)
    if isinstance(ty, wc.OptionType):
        return _VariantLike(ty, OPTION, [("none", None), ("some", ty.payload)])
    if isinstance(ty, wc.ResultType):
        return _VariantLike(ty, RESULT, [("ok", ty.ok), ("err", ty.err)])
    return _Generic(ty)
