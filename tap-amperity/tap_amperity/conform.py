"""The SDK's recursive type conformance, with the schema read once per stream, not per value.

The SDK's ``conform_record_data_types`` (level RECURSIVE) inspects the schema again for every
value of every record (is it a uniform list, an object, an exclusive boolean?), which made
it the largest cost of a sync after the HTTP round trip. :class:`Conformer` answers those
questions once per schema and then applies exactly the same rules, so records come out as
they did: undeclared keys of objects without ``additionalProperties`` dropped (one warning),
NaN/Infinity numbers as null, exclusive booleans as ``value != 0``, other values unchanged.
Values that are not plain JSON scalars go through the SDK's own primitive conformance.
"""

from __future__ import annotations

import logging
from typing import Any

from singer_sdk.helpers._typing import (
    _conform_primitive_property,
    _is_exclusive_boolean_type,
    _warn_unmapped_properties,
    is_object_type,
    is_uniform_list,
)

_PLAIN = (str, int, bool, type(None))
_NONE = type(None)
"""JSON scalars the SDK returns unchanged unless the property is an exclusive boolean."""


class _Node:
    """What conformance needs to know about one (sub)schema."""

    __slots__ = (
        "additional",
        "exclusive_boolean",
        "item",
        "object",
        "properties",
        "schema",
        "texts_kept",
    )

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self.additional = bool(schema.get("additionalProperties"))
        self.exclusive_boolean = _is_exclusive_boolean_type(schema)
        self.object = is_object_type(schema) and "properties" in schema
        self.properties: dict[str, _Node] = (
            {name: _Node(sub) for name, sub in schema["properties"].items()}
            if "properties" in schema
            else {}
        )
        self.item: _Node | None = (
            _Node(schema["items"]) if is_uniform_list(schema) and "items" in schema else None
        )
        self.texts_kept = frozenset(
            name for name, node in self.properties.items() if not node.exclusive_boolean
        )
        """Properties whose string and integer values are kept as they are."""


class Conformer:
    """Conform records to one schema, as ``conform_record_data_types(..., RECURSIVE)``."""

    def __init__(self, schema: dict[str, Any], stream_name: str, logger: logging.Logger) -> None:
        self.schema = schema
        self._root = _Node(schema)
        self._stream_name = stream_name
        self._logger = logger

    def conform(self, record: dict[str, Any]) -> dict[str, Any]:
        """A conformed copy of ``record``."""
        unmapped: list[str] = []
        result = self._object(record, self._root, None, unmapped)
        if unmapped:
            _warn_unmapped_properties(self._stream_name, tuple(unmapped), self._logger)
        return result

    def _object(
        self, value: dict[str, Any], node: _Node, parent: str | None, unmapped: list[str]
    ) -> dict[str, Any]:
        output: dict[str, Any] = {}
        properties = node.properties
        texts_kept = node.texts_kept
        for name, elem in value.items():
            # The commonest cases first, without a lookup of the property's node: strings and
            # integers of properties that are not boolean-only, booleans and nulls of any
            # declared property (a boolean-only one would give the same value back).
            kind = type(elem)
            if (kind is str or kind is int) and name in texts_kept:
                output[name] = elem
                continue
            if (kind is bool or kind is _NONE) and name in properties:
                output[name] = elem
                continue
            child = properties.get(name)
            if child is None:
                if node.additional:
                    output[name] = elem
                else:
                    unmapped.append(name if parent is None else f"{parent}.{name}")
                continue
            if type(elem) in _PLAIN and not child.exclusive_boolean:
                output[name] = elem
            elif isinstance(elem, list) and child.item is not None:
                path = name if parent is None else f"{parent}.{name}"
                output[name] = self._list(elem, child.item, path, unmapped)
            elif isinstance(elem, dict) and child.object:
                path = name if parent is None else f"{parent}.{name}"
                output[name] = self._object(elem, child, path, unmapped)
            else:
                output[name] = _conform_primitive_property(elem, child.schema)
        return output

    def _list(self, value: list[Any], item: _Node, path: str, unmapped: list[str]) -> list[Any]:
        # The SDK conforms an object item as an object whenever the item schema is an object
        # type, with or without "properties" (then every key of it is undeclared).
        item_is_object = is_object_type(item.schema)
        output = []
        for elem in value:
            if item_is_object and isinstance(elem, dict):
                output.append(self._object(elem, item, path, unmapped))
            elif type(elem) in _PLAIN and not item.exclusive_boolean:
                output.append(elem)
            else:
                output.append(_conform_primitive_property(elem, item.schema))
        return output
