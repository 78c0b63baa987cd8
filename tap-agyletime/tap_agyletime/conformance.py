"""The SDK's recursive type conformance, compiled once per schema instead of per record.

The SDK conforms every record by walking its schema again for every value
(``singer_sdk.helpers._typing._conform_record_data_types``): on wide or nested streams that
walk is the largest cost per record. :func:`compile_conformer` makes the same decisions once
per property, up front, and applies them with plain dict lookups. The rules are the SDK's,
in the SDK's order, and it calls the SDK's own helpers for the schema tests and for any value
that is not a plain JSON scalar, so a record comes out exactly as the SDK would write it:

- keys absent from the schema are dropped (kept when ``additionalProperties`` is set), and
  their dotted paths reported so the caller can log the SDK's one warning;
- objects with ``properties`` and uniform lists are conformed recursively;
- NaN and infinite numbers become null; a boolean-only property turns any other value into
  ``value != 0`` (the API sends 0/1); other values (datetime, bytes...) go to the SDK.
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Callable
from typing import Any

from singer_sdk.helpers._typing import (
    _conform_primitive_property,
    _conform_record_data_types,
    _is_exclusive_boolean_type,
    is_object_type,
    is_uniform_list,
)
from singer_sdk.helpers.conform import TypeConformanceLevel

Unmapped = list[str]
Conformer = Callable[[Any, Unmapped], Any]
ObjectConformer = Callable[[dict[str, Any], Unmapped], dict[str, Any]]
_JSON_SCALARS = frozenset((str, int, bool, type(None)))
_NUMBERS = frozenset((float, decimal.Decimal))


def _primitive(schema: dict[str, Any]) -> Callable[[Any], Any]:
    """``_conform_primitive_property`` with its schema tests done once."""
    if _is_exclusive_boolean_type(schema):

        def boolean(value: Any) -> Any:
            if type(value) in _JSON_SCALARS:
                return None if value is None else value != 0
            return _conform_primitive_property(value, schema)

        return boolean

    def scalar(value: Any) -> Any:
        if type(value) in _JSON_SCALARS:
            return value
        if type(value) in _NUMBERS:
            return None if math.isnan(value) or math.isinf(value) else value
        return _conform_primitive_property(value, schema)

    return scalar


def _sdk_object(schema: dict[str, Any], path: str) -> ObjectConformer:
    """The SDK's own walk, for the schemas this module does not compile (no ``properties``)."""

    def conform(value: dict[str, Any], unmapped: Unmapped) -> dict[str, Any]:
        result, missing = _conform_record_data_types(
            value, schema, TypeConformanceLevel.RECURSIVE, path
        )
        unmapped.extend(missing)
        return result

    return conform


def _list(schema: dict[str, Any], path: str) -> Conformer:
    """``_conform_uniform_list``: objects recursively (same path), others as primitives."""
    item_schema = schema["items"]
    item_is_object = bool(is_object_type(item_schema))
    as_object = (
        (
            _object(item_schema, path)
            if "properties" in item_schema
            else _sdk_object(item_schema, path)
        )
        if item_is_object
        else None
    )
    as_primitive = _primitive(item_schema)

    def conform(values: list[Any], unmapped: Unmapped) -> list[Any]:
        return [
            as_object(item, unmapped)
            if as_object is not None and isinstance(item, dict)
            else as_primitive(item)
            for item in values
        ]

    return conform


def _property(schema: dict[str, Any], path: str) -> Conformer:
    """One property: a uniform list, an object with properties, or a primitive."""
    as_list = _list(schema, path) if is_uniform_list(schema) else None
    as_object = _object(schema, path) if is_object_type(schema) and "properties" in schema else None
    as_primitive = _primitive(schema)

    def conform(value: Any, unmapped: Unmapped) -> Any:
        if as_list is not None and isinstance(value, list):
            return as_list(value, unmapped)
        if as_object is not None and isinstance(value, dict):
            return as_object(value, unmapped)
        return as_primitive(value)

    return conform


def _object(schema: dict[str, Any], parent: str | None) -> ObjectConformer:
    """``_conform_record_data_types`` at the RECURSIVE level for one object schema."""
    prefix = "" if parent is None else f"{parent}."
    properties: dict[str, Conformer] = {
        name: _property(property_schema, prefix + name)
        for name, property_schema in schema["properties"].items()
    }
    # Properties where a JSON scalar is kept as it is (most of them): no call per value.
    plain = frozenset(
        name
        for name, property_schema in schema["properties"].items()
        if not is_uniform_list(property_schema)
        and not (is_object_type(property_schema) and "properties" in property_schema)
        and not _is_exclusive_boolean_type(property_schema)
    )
    keep_others = bool(schema.get("additionalProperties"))

    def conform(value: dict[str, Any], unmapped: Unmapped) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name, element in value.items():
            if name in plain and type(element) in _JSON_SCALARS:
                result[name] = element
                continue
            conform_property = properties.get(name)
            if conform_property is not None:
                result[name] = conform_property(element, unmapped)
            elif keep_others:
                result[name] = element
            else:
                unmapped.append(prefix + name)
        return result

    return conform


def compile_conformer(schema: dict[str, Any]) -> ObjectConformer:
    """A function conforming a record to ``schema`` as the SDK's RECURSIVE level does.

    It returns the conformed record and appends the paths of dropped keys to its second
    argument.
    """
    return _object(schema, None)
