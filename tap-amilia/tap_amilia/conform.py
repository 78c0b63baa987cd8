"""The SDK's recursive type conformance, with the schema questions answered once per schema.

Profiling a sync showed the SDK's ``conform_record_data_types`` taking about 40% of the
tap's time: for every property of every record it asks again whether the schema is an
object, a uniform list, an exclusive boolean. Here those answers are computed once per
(effective) schema into a plan, and each record only follows the plan. The result is the
same as the SDK's at ``TypeConformanceLevel.RECURSIVE``: properties outside a schema without
``additionalProperties`` are dropped (and reported the SDK's way), NaN and infinite numbers
become null, values of boolean-only properties become booleans; anything that is not a JSON
value is handed to the SDK's own primitive conversion.
"""

from __future__ import annotations

import decimal
import logging
import math
from collections.abc import Callable
from typing import Any

from singer_sdk.helpers._typing import (
    _conform_primitive_property,
    _is_exclusive_boolean_type,
    _warn_unmapped_properties,
    is_object_type,
    is_uniform_list,
)

Conform = Callable[[Any, str | None, list[str]], Any]
_PASS_THROUGH = (str, int, bool, type(None), dict, list)
_NONE = type(None)


def _primitive(schema: dict[str, Any]) -> Conform:
    """A value that is neither a conformed object nor a uniform list."""
    if _is_exclusive_boolean_type(schema):

        def boolean(value: Any, path: str | None, unmapped: list[str]) -> Any:
            kind = type(value)
            if kind is decimal.Decimal or kind is float:
                return None if math.isnan(value) or math.isinf(value) else value
            if kind in _PASS_THROUGH:
                return None if value is None else value != 0
            return _conform_primitive_property(value, schema)

        return boolean

    def plain(value: Any, path: str | None, unmapped: list[str]) -> Any:
        kind = type(value)
        if kind in _PASS_THROUGH:
            return value
        if kind is decimal.Decimal or kind is float:
            return None if math.isnan(value) or math.isinf(value) else value
        return _conform_primitive_property(value, schema)

    return plain


def _object(schema: dict[str, Any]) -> Callable[[dict[str, Any], str | None, list[str]], Any]:
    """A dict conformed to an object schema with ``properties``."""
    keep_extra = bool(schema.get("additionalProperties"))
    plans: dict[str, Conform] = {name: _property(sub) for name, sub in schema["properties"].items()}
    # Most values are JSON scalars that conformance keeps as they are (booleans and nulls
    # always; strings and integers unless the property is boolean-only): kept without a call,
    # which was most of the conformance time on small records.
    scalars_kept = frozenset(
        name for name, sub in schema["properties"].items() if not _is_exclusive_boolean_type(sub)
    )

    def conform(record: dict[str, Any], parent: str | None, unmapped: list[str]) -> Any:
        output: dict[str, Any] = {}
        for name, value in record.items():
            kind = type(value)
            if (kind is bool or kind is _NONE) and name in plans:
                output[name] = value  # what the boolean plan would return
                continue
            if (kind is str or kind is int) and name in scalars_kept:
                output[name] = value
                continue
            plan = plans.get(name)
            if plan is None:
                if keep_extra:
                    output[name] = value
                else:
                    unmapped.append(name if parent is None else f"{parent}.{name}")
                continue
            output[name] = plan(value, name if parent is None else f"{parent}.{name}", unmapped)
        return output

    return conform


def _property(schema: dict[str, Any]) -> Conform:
    """The plan for one property, deciding on the value's type as the SDK does."""
    primitive = _primitive(schema)
    as_list = _list(schema) if is_uniform_list(schema) else None
    as_object = _object(schema) if is_object_type(schema) and "properties" in schema else None
    if as_list is None and as_object is None:
        return primitive

    def conform(value: Any, path: str | None, unmapped: list[str]) -> Any:
        if as_list is not None and isinstance(value, list):
            return as_list(value, path, unmapped)
        if as_object is not None and isinstance(value, dict):
            return as_object(value, path, unmapped)
        return primitive(value, path, unmapped)

    return conform


def _list(schema: dict[str, Any]) -> Conform:
    items = schema["items"]
    as_object = _object(items) if is_object_type(items) else None
    primitive = _primitive(items)

    def conform(values: list[Any], path: str | None, unmapped: list[str]) -> Any:
        output = []
        for value in values:
            if as_object is not None and isinstance(value, dict):
                if "properties" in items:
                    output.append(as_object(value, path, unmapped))
                else:
                    output.append(value)
            else:
                output.append(primitive(value, path, unmapped))
        return output

    return conform


class RecordConformer:
    """``conform_record_data_types(level=RECURSIVE)`` for one schema, planned once."""

    def __init__(self, stream_name: str, schema: dict[str, Any], logger: logging.Logger) -> None:
        self.schema = schema
        self._stream_name = stream_name
        self._logger = logger
        self._root = _object({"properties": {}, **schema})

    def __call__(self, record: dict[str, Any]) -> dict[str, Any]:
        """The conformed copy of ``record``."""
        unmapped: list[str] = []
        output: dict[str, Any] = self._root(record, None, unmapped)
        if unmapped:
            _warn_unmapped_properties(self._stream_name, tuple(unmapped), self._logger)
        return output
