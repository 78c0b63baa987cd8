"""The SDK's recursive type conformance, compiled once per schema instead of per record.

The SDK walks the schema again for every value (the largest cost per record of a wide or
nested stream). Here its rules (sdk_internals/validation.py), in its order, are decided once
per property; values that are not plain JSON scalars go to the SDK's own helper, so a record
comes out exactly as the SDK would write it."""

from __future__ import annotations

import decimal
import logging
import math
from collections.abc import Callable
from typing import Any

from singer_sdk.helpers.conform import TypeConformanceLevel

from singer_rest_toolkit.sdk_internals.validation import (
    conform_primitive_property,
    conform_record_data_types,
    is_exclusive_boolean_type,
    is_object_type,
    is_uniform_list,
    warn_unmapped_properties,
)

Unmapped = list[str]
KEPT = "\x00kept:"
"""Marks, among the unmapped keys, a top-level key kept as sent (``additionalProperties``)."""
Conformer = Callable[[Any, Unmapped], Any]
ObjectConformer = Callable[[dict[str, Any], Unmapped], dict[str, Any]]
_JSON_SCALARS: frozenset[type] = frozenset((str, int, bool, type(None)))
_NUMBERS = frozenset((float, decimal.Decimal))
_BOOLEANS: frozenset[type] = frozenset((bool, type(None)))
_NO_TYPES: frozenset[type] = frozenset()
MAX_SHAPES = 1024
"""Record shapes remembered per object schema (a stream's records share a few)."""


def _primitive(schema: dict[str, Any]) -> tuple[Callable[[Any], Any], frozenset[type]]:
    """``conform_primitive_property`` with its schema tests done once (a number before the
    schema, as the SDK), and the types it keeps (for a boolean: ``value != 0`` is the value)."""
    boolean = is_exclusive_boolean_type(schema)

    def primitive(value: Any) -> Any:
        if type(value) in _JSON_SCALARS:
            return value != 0 if boolean and value is not None else value
        if type(value) in _NUMBERS:
            return None if math.isnan(value) or math.isinf(value) else value
        return conform_primitive_property(value, schema)

    return primitive, _BOOLEANS if boolean else _JSON_SCALARS


def _sdk_object(schema: dict[str, Any], path: str) -> ObjectConformer:
    """The SDK's own walk, for the schemas this module does not compile (no ``properties``)."""

    def conform(value: dict[str, Any], unmapped: Unmapped) -> dict[str, Any]:
        result, missing = conform_record_data_types(
            value, schema, TypeConformanceLevel.RECURSIVE, path
        )
        unmapped.extend(missing)
        return result

    return conform


def _list(schema: dict[str, Any], path: str) -> Conformer:
    """``_conform_uniform_list``: objects recursively (same path), others as primitives."""
    item_schema = schema["items"]
    as_object: ObjectConformer | None = None
    if is_object_type(item_schema):
        compiled = "properties" in item_schema
        as_object = (_object if compiled else _sdk_object)(item_schema, path)
    as_primitive, _ = _primitive(item_schema)

    def conform(values: list[Any], unmapped: Unmapped) -> list[Any]:
        return [
            as_object(item, unmapped)
            if as_object is not None and isinstance(item, dict)
            else as_primitive(item)
            for item in values
        ]

    return conform


def _property(schema: dict[str, Any], path: str) -> tuple[Conformer, frozenset[type]]:
    """One property (a uniform list, an object, a primitive) and the types it keeps as they are."""
    as_primitive, plain = _primitive(schema)
    as_list = _list(schema, path) if is_uniform_list(schema) else None
    as_object = _object(schema, path) if is_object_type(schema) and "properties" in schema else None
    if as_list is None and as_object is None:
        return lambda value, _: as_primitive(value), plain

    def conform(value: Any, unmapped: Unmapped) -> Any:
        if as_list is not None and isinstance(value, list):
            return as_list(value, unmapped)
        if as_object is not None and isinstance(value, dict):
            return as_object(value, unmapped)
        return as_primitive(value)

    return conform, _NO_TYPES


def _object(schema: dict[str, Any], parent: str | None) -> ObjectConformer:
    """``conform_record_data_types`` at the RECURSIVE level for one object schema."""
    prefix = "" if parent is None else f"{parent}."
    compiled = {name: _property(sub, prefix + name) for name, sub in schema["properties"].items()}
    properties = {name: conform for name, (conform, _) in compiled.items()}
    plain = {name: types for name, (_, types) in compiled.items()}  # most values: no call
    keep_others = bool(schema.get("additionalProperties"))
    # Per shape (keys and value types, in order), the properties whose values need a call;
    # None when a key is not declared (conform_each reports it).
    plans: dict[tuple[tuple[str, ...], tuple[type, ...]], tuple[str, ...] | None] = {}

    def conform_each(value: dict[str, Any], unmapped: Unmapped) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name, element in value.items():
            if type(element) in plain.get(name, _NO_TYPES):
                result[name] = element
                continue
            conform_property = properties.get(name)
            if conform_property is not None:
                result[name] = conform_property(element, unmapped)
            elif keep_others:
                result[name] = element
                if parent is None:
                    unmapped.append(KEPT + name)
            else:
                unmapped.append(prefix + name)
        return result

    def conform(value: dict[str, Any], unmapped: Unmapped) -> dict[str, Any]:
        """In place when every key is declared: the same keys, in the same order."""
        shape = (tuple(value), tuple(map(type, value.values())))
        try:
            calls = plans[shape]
        except KeyError:
            names, types = shape
            calls = None
            if all(name in properties for name in names):
                calls = tuple(n for n, t in zip(names, types, strict=True) if t not in plain[n])
            if len(plans) < MAX_SHAPES:
                plans[shape] = calls
        if calls is None:
            return conform_each(value, unmapped)
        for name in calls:
            value[name] = properties[name](value[name], unmapped)
        return value

    return conform


class RecordConformer:
    """``conform_record_data_types(level=RECURSIVE)`` for one schema, compiled once.

    Dropped keys are reported in the SDK's own warning; top-level keys kept undeclared
    (``additionalProperties``), once per key set: a target that makes its columns from the
    schema would not load them, and a field the API adds must never vanish without a word."""

    def __init__(self, stream_name: str, schema: dict[str, Any], logger: logging.Logger) -> None:
        self.schema = schema
        self._stream_name = stream_name
        self._logger = logger
        self._root = _object({"properties": {}, **schema}, None)
        self._reported: set[tuple[str, ...]] = set()

    def __call__(self, record: dict[str, Any]) -> dict[str, Any]:
        """``record`` conformed: in place when every key is declared, else a copy."""
        unmapped: Unmapped = []
        output = self._root(record, unmapped)
        if unmapped:
            kept = tuple(name[len(KEPT) :] for name in unmapped if name.startswith(KEPT))
            dropped = tuple(name for name in unmapped if not name.startswith(KEPT))
            if dropped:
                warn_unmapped_properties(self._stream_name, dropped, self._logger)
            if kept and kept not in self._reported:
                self._reported.add(kept)
                self._logger.warning(
                    "Properties %s were present in the '%s' stream but not declared in its "
                    "schema: passed on as sent (a target that makes columns from the schema "
                    "may not load them)",
                    kept,
                    self._stream_name,
                )
        return output
