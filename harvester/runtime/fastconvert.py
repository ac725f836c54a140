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

One deliberate difference: wasmtime-py overwrites a consumed nested value with `bool false`
without dropping it, which leaks its payload box if it was a variant/option/result, and
never drops a call's result, which leaks the top-level box (32 bytes per `poll`). We drop
such husks first (`drop_husk`), exactly as wasmtime drops a host function's arguments
after wasmtime-py's generic lifting consumed them.

Private wasmtime-py API relied on (pinned wasmtime==50.0.1): `wasmtime._ffi` (C bindings),
`VariantLikeType._tagged`
and the `convert_to_c`/`convert_from_c`/`add_classes` of the types it falls back to.
"""

from __future__ import annotations

import ctypes
from ctypes import byref
from typing import Any

from wasmtime import Storelike
from wasmtime import _ffi as ffi
from wasmtime import component as wc
from wasmtime.component._types import VariantLikeType

Val = ffi.wasmtime_component_val_t
BOOL, LIST, RECORD = (k.value for k in (ffi.WASMTIME_COMPONENT_BOOL, ffi.WASMTIME_COMPONENT_LIST,
                                        ffi.WASMTIME_COMPONENT_RECORD))  # fmt: skip
VARIANT, OPTION, RESULT, STRING, ENUM = (k.value for k in (
    ffi.WASMTIME_COMPONENT_VARIANT, ffi.WASMTIME_COMPONENT_OPTION, ffi.WASMTIME_COMPONENT_RESULT,
    ffi.WASMTIME_COMPONENT_STRING, ffi.WASMTIME_COMPONENT_ENUM))  # fmt: skip
# list<u8> is an array of whole vals (kind byte, then the union); read/write it in one go.
_VAL_SIZE = ctypes.sizeof(Val)
_U8_AT = Val.of.offset + ffi.wasmtime_component_valunion.u8.offset  # type: ignore[attr-defined]
_U8_KIND = bytes([ffi.WASMTIME_COMPONENT_U8.value])


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
        """Lower `value` into the val `dst`. On error `dst` owns nothing new."""
        raise NotImplementedError

    def lift(self, src: Any) -> Any:
        """Lift (and consume) the val `src`."""
        raise NotImplementedError

    def lower(self, store: Storelike, value: Any, ptr: ctypes._Pointer[Any]) -> None:
        self.put(store, value, ptr.contents)


class _Scalar(Converter):
    def __init__(self, kind: Any, field: str, accept: type, what: str) -> None:
        self.kind, self.field, self.accept, self.what = kind.value, field, accept, what

    def put(self, store: Storelike, value: Any, dst: Any) -> None:
        if not isinstance(value, self.accept):
            raise TypeError(self.what)
        dst.kind = self.kind
        setattr(dst.of, self.field, value)

    def lift(self, src: Any) -> Any:
        assert src.kind == self.kind
        return getattr(src.of, self.field)  # ctypes already gives bool/int/float


def _scalar(kind: Any, field: str, accept: type, name: str) -> _Scalar:
    return _Scalar(kind, field, accept, f"expected {accept.__name__} for {name} type")


_SCALARS: dict[type, Converter] = {
    wc.Bool: _scalar(ffi.WASMTIME_COMPONENT_BOOL, "boolean", bool, "Bool"),
    wc.S8: _scalar(ffi.WASMTIME_COMPONENT_S8, "s8", int, "S8"),
    wc.U8: _scalar(ffi.WASMTIME_COMPONENT_U8, "u8", int, "U8"),
    wc.S16: _scalar(ffi.WASMTIME_COMPONENT_S16, "s16", int, "S16"),
    wc.U16: _scalar(ffi.WASMTIME_COMPONENT_U16, "u16", int, "U16"),
    wc.S32: _scalar(ffi.WASMTIME_COMPONENT_S32, "s32", int, "S32"),
    wc.U32: _scalar(ffi.WASMTIME_COMPONENT_U32, "u32", int, "U32"),
    wc.S64: _scalar(ffi.WASMTIME_COMPONENT_S64, "s64", int, "S64"),
    wc.U64: _scalar(ffi.WASMTIME_COMPONENT_U64, "u64", int, "U64"),
    wc.F32: _scalar(ffi.WASMTIME_COMPONENT_F32, "f32", float, "F32"),
    wc.F64: _scalar(ffi.WASMTIME_COMPONENT_F64, "f64", float, "F64"),
}


class _Text(Converter):
    """string, and enum (same C shape: a byte vector; `names` interns known enum names)."""

    def __init__(self, kind: int, field: str, what: str, names: list[str] | None = None) -> None:
        self.kind, self.field, self.what = kind, field, what
        self.names = {n.encode(): n for n in names or ()}

    def put(self, store: Storelike, value: Any, dst: Any) -> None:
        if not isinstance(value, str):
            raise TypeError(self.what)
        data = value.encode("utf-8")  # may raise: before anything is allocated
        dst.kind = self.kind
        _new_vec(getattr(dst.of, self.field), data)

    def lift(self, src: Any) -> Any:
        assert src.kind == self.kind
        raw = _take_vec(getattr(src.of, self.field))
        name = self.names.get(raw)
        return raw.decode("utf-8") if name is None else name


class _Bytes(Converter):
    """list<u8> <-> bytes, written and read as one block instead of val by val."""

    def put(self, store: Storelike, value: Any, dst: Any) -> None:
        if not isinstance(value, bytes):
            raise TypeError("expected bytes value")
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
        assert src.kind == LIST
        vec = src.of.list
        try:
            if not vec.size:
                return b""
            block = ctypes.string_at(vec.data, vec.size * _VAL_SIZE)
            assert block[0::_VAL_SIZE].count(_U8_KIND) == vec.size
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
            raise TypeError("expected list value")
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
        assert src.kind == LIST
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
        n = len(self.fields)
        raw = ffi.wasmtime_component_valrecord_t()
        ffi.wasmtime_component_valrecord_new_uninit(raw, n)
        data, i = raw.data, 0
        try:
            for name, name_bytes, conv in self.fields:
                entry = data[i]
                conv.put(store, getattr(value, name), entry.val)
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
        assert src.kind == RECORD
        vec = src.of.record
        data = vec.data
        try:
            rec = wc.Record()
            attrs = rec.__dict__  # what setattr(rec, "dashed-name", ...) writes to
            for i, (name, name_bytes, conv) in zip(range(vec.size), self.fields, strict=False):
                entry = data[i]
                assert ctypes.string_at(entry.name.data, entry.name.size) == name_bytes
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
        self.classes = tuple(classes)  # what an untagged value of this case may be


class _VariantLike(Converter):
    """variant, option and result, after wasmtime-py's VariantLikeType._lower/_lift."""

    boxed = True

    def __init__(self, ty: VariantLikeType, kind: int, cases: list[tuple[str, Any]]) -> None:
        self.kind, self.tagged = kind, ty._tagged()
        self.cases = [_Case(name, case_ty) for name, case_ty in cases]
        self.by_name = {c.name: c for c in self.cases}
        self.by_bytes = {c.name_bytes: c for c in self.cases}

    def _choose(self, value: Any) -> tuple[_Case, Any]:
        if self.tagged:
            if not isinstance(value, wc.Variant):
                raise TypeError("expected Variant type")
            case = self.by_name.get(value.tag)
            if case is not None:
                return case, value.payload
        else:  # first case whose Python classes fit, as wasmtime-py tries them
            for case in self.cases:
                if (value is None) if case.conv is None else isinstance(value, case.classes):
                    return case, value
        raise ValueError("value not valid for this variant")

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
        assert src.kind == self.kind
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
            raise ValueError("tag not found in variant cases")
        if case.conv is None:
            return wc.Variant(case.name) if self.tagged else None
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
        self.ty.convert_to_c(store, value, ctypes.pointer(dst))

    def lift(self, src: Any) -> Any:
        return self.ty.convert_from_c(src)


def compile_type(ty: wc.ValType) -> Converter:
    """A converter for `ty`, with everything about the type read once, now."""
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
