"""The ``--config``, ``--state`` and ``--catalog`` files, checked before the first request.

A file the tap cannot run with ends the run in one line naming the file and what is wrong
(:class:`BadInputFileError`); where running on is safe, a warning says what is ignored. The rules
follow what the SDK reads and writes itself (``singer_sdk.helpers._state``): every state the
SDK writes passes, partitions, progress markers and signposts included. Three steps, each
where the SDK reads the files: :func:`check_config_file` as ``--config`` is parsed,
:func:`read_input_files` before the tap is built, :func:`check_against_streams` once its
streams have the catalog applied and before the sync writes anything.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import IO, TYPE_CHECKING, Any

from singer_sdk.singerlib.catalog import REPLICATION_FULL_TABLE, REPLICATION_INCREMENTAL

from singer_rest_toolkit.bookmarks import bad_bookmark
from singer_rest_toolkit.dates import parse_instant

if TYPE_CHECKING:
    from singer_sdk import Stream, Tap

STATE_WRAPPERS = ("value", "singer_state")
"""Keys a state may arrive wrapped in: a STATE message's ``value``, Meltano's stored
``singer_state``. Such a file is read as the state it wraps, with a warning."""
BOOKMARK_VALUES = (
    "replication_key_value",
    "replication_key_signpost",
    "starting_replication_value",
)
"""The scalar values of a bookmark (a stream's or a partition's)."""
REPLICATION_METHODS = (REPLICATION_INCREMENTAL, REPLICATION_FULL_TABLE, "LOG_BASED")
INCLUSIONS = ("available", "automatic", "unsupported")


class BadInputFileError(ValueError):
    """A ``--config``, ``--state`` or ``--catalog`` file the tap cannot run with."""

    def __init__(self, option: str, problem: str, path: str | None = None) -> None:
        super().__init__(problem)
        self.option, self.problem, self.path = option, problem, path

    def line(self, paths: Mapping[str, str] | None = None) -> str:
        """``--state state.json: what is wrong``: the one line of the failed run."""
        path = self.path or (paths or {}).get(self.option)
        return f"{self.option} {path}: {self.problem}" if path else f"{self.option}: {self.problem}"

    def __str__(self) -> str:
        return self.line()


def kind(value: Any) -> str:
    """The JSON type of ``value``, as an error line names it."""
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "null"
    return "a number"


def is_scalar(value: Any) -> bool:
    """A string, a number or null: what a replication value may be."""
    if isinstance(value, bool):
        return False
    return value is None or isinstance(value, str | int | float | Decimal)


# --- --config ---------------------------------------------------------------------------------
def check_config_file(path: str) -> None:
    """A ``--config`` file is readable, JSON, and an object of settings."""
    try:
        with open(path, encoding="utf-8") as handle:
            config = json.load(handle)
    except OSError as exc:
        raise BadInputFileError("--config", exc.strerror or str(exc), path) from None
    except ValueError as exc:
        raise BadInputFileError("--config", f"not valid JSON ({exc})", path) from None
    if not isinstance(config, dict):
        raise BadInputFileError(
            "--config", f"must be a JSON object of settings, not {kind(config)}", path
        )


# --- --state and --catalog, before the tap is built ------------------------------------------
def read_input_file(name: str, handle: IO[str], logger: logging.Logger) -> tuple[str, Any]:
    """Read the ``state`` or ``catalog`` file click opened (``name``) and check its structure.
    Returns its path and what the SDK is to read (a wrapped state unwrapped)."""
    option = f"--{name}"
    path = str(getattr(handle, "name", ""))
    try:
        value = json.loads(handle.read(), parse_float=Decimal)
    except ValueError as exc:
        raise BadInputFileError(option, f"not valid JSON ({exc})", path) from None
    check = checked_state if name == "state" else checked_catalog
    try:
        return path, check(value, logger)
    except BadInputFileError as exc:
        raise BadInputFileError(option, exc.problem, path) from None


def checked_state(state: Any, logger: logging.Logger) -> dict[str, Any]:
    """The state, refused in one line where the SDK could not read it."""
    if not isinstance(state, dict):
        raise BadInputFileError("--state", f"must be a JSON object, not {kind(state)}")
    if "bookmarks" not in state:
        wrapped = [key for key in STATE_WRAPPERS if isinstance(state.get(key), dict)]
        if wrapped and "bookmarks" in state[wrapped[0]]:
            logger.warning(
                "--state: the state is wrapped in %r (a STATE message or a stored state); "
                "reading the state inside it",
                wrapped[0],
            )
            return checked_state(state[wrapped[0]], logger)
        if set(state) - {"currently_syncing"}:
            logger.warning(
                "--state: no 'bookmarks' in the state (its keys: %s); every stream starts "
                "from its start",
                ", ".join(sorted(map(repr, state))[:5]),
            )
        return state
    bookmarks = state["bookmarks"]
    if not isinstance(bookmarks, dict):
        raise BadInputFileError(
            "--state", f"'bookmarks' must be an object (stream: bookmark), not {kind(bookmarks)}"
        )
    for stream, entry in bookmarks.items():
        where = f"bookmarks[{stream!r}]"
        _check_bookmark(where, entry)
        partitions = entry.get("partitions")
        if partitions is None:
            continue
        if not isinstance(partitions, list):
            raise BadInputFileError(
                "--state", f"{where}: 'partitions' must be an array, not {kind(partitions)}"
            )
        contexts = []
        for number, partition in enumerate(partitions):
            inner = f"{where}.partitions[{number}]"
            _check_bookmark(inner, partition)
            context = partition.get("context")
            if not isinstance(context, dict):
                raise BadInputFileError(
                    "--state", f"{inner}: 'context' must be an object, not {kind(context)}"
                )
            if context in contexts:
                raise BadInputFileError("--state", f"{inner}: a second partition for {context}")
            contexts.append(context)
    return state


def _check_bookmark(where: str, entry: Any) -> None:
    """One stream's or partition's bookmark, in the shapes the SDK writes."""
    if not isinstance(entry, dict):
        raise BadInputFileError("--state", f"{where} must be an object, not {kind(entry)}")
    key = entry.get("replication_key")
    if key is not None and not isinstance(key, str):
        raise BadInputFileError(
            "--state", f"{where}: 'replication_key' must be a string, not {kind(key)}"
        )
    for name in BOOKMARK_VALUES:
        if not is_scalar(entry.get(name)):
            raise BadInputFileError(
                "--state",
                f"{where}: {name!r} must be a string or a number, not {kind(entry[name])}",
            )
    markers = entry.get("progress_markers")
    if markers is not None:
        if not isinstance(markers, dict):
            raise BadInputFileError(
                "--state", f"{where}: 'progress_markers' must be an object, not {kind(markers)}"
            )
        _check_bookmark(f"{where}.progress_markers", {**markers, "progress_markers": None})


def checked_catalog(catalog: Any, logger: logging.Logger) -> dict[str, Any]:
    """The catalog, refused in one line where the SDK could not read it or a stream's keys
    are not in its schema."""
    del logger  # the catalog's warnings need the tap's streams (check_against_streams)
    if not isinstance(catalog, dict):
        raise BadInputFileError("--catalog", f"must be a JSON object, not {kind(catalog)}")
    streams = catalog.get("streams")
    if not isinstance(streams, list):
        raise BadInputFileError(
            "--catalog", f"'streams' must be an array of streams, not {kind(streams)}"
        )
    seen: set[str] = set()
    for number, entry in enumerate(streams):
        if not isinstance(entry, dict):
            raise BadInputFileError(
                "--catalog", f"streams[{number}] must be an object, not {kind(entry)}"
            )
        name = entry.get("tap_stream_id")
        if not isinstance(name, str) or not name:
            raise BadInputFileError("--catalog", f"streams[{number}] has no 'tap_stream_id'")
        if name in seen:
            raise BadInputFileError("--catalog", f"{name}: listed twice")
        seen.add(name)
        _check_entry(name, entry)
    return catalog


def _check_entry(name: str, entry: dict[str, Any]) -> None:
    """One stream of the catalog: its schema, metadata and keys."""
    for field in ("stream", "stream_alias", "replication_key"):
        if entry.get(field) is not None and not isinstance(entry[field], str):
            raise BadInputFileError("--catalog", f"{name}: {field!r} must be a string")
    method = entry.get("replication_method")
    if method is not None and method not in REPLICATION_METHODS:
        raise BadInputFileError("--catalog", f"{name}: unknown replication_method {method!r}")
    properties = _schema_properties(name, entry.get("schema"))
    metadata = entry.get("metadata", [])
    if not isinstance(metadata, list):
        raise BadInputFileError(
            "--catalog", f"{name}: 'metadata' must be an array, not {kind(metadata)}"
        )
    root: dict[str, Any] = {}
    for item in metadata:
        breadcrumb = item.get("breadcrumb") if isinstance(item, dict) else None
        values = item.get("metadata") if isinstance(item, dict) else None
        if not isinstance(breadcrumb, list) or not isinstance(values, dict):
            raise BadInputFileError(
                "--catalog",
                f"{name}: each metadata item must be an object with a 'breadcrumb' array and "
                f"a 'metadata' object",
            )
        if not all(isinstance(part, str) for part in breadcrumb):
            raise BadInputFileError(
                "--catalog", f"{name}: a breadcrumb holds something not a string"
            )
        _check_metadata(name, breadcrumb, values)
        if not breadcrumb:
            root = values
    listed = entry.get("key_properties")
    if listed is not None and not (
        isinstance(listed, list) and all(isinstance(key, str) for key in listed)
    ):
        raise BadInputFileError(
            "--catalog", f"{name}: 'key_properties' must be an array of strings"
        )
    keys = listed or root.get("table-key-properties") or []
    for key in keys:
        if key not in properties:
            raise BadInputFileError(
                "--catalog", f"{name}: the key property {key!r} is not in the stream's schema"
            )
    replication_key = entry.get("replication_key") or root.get("replication-key")
    if replication_key and replication_key not in properties:
        raise BadInputFileError(
            "--catalog",
            f"{name}: the replication key {replication_key!r} is not in the stream's schema",
        )


def _schema_properties(name: str, schema: Any) -> dict[str, Any]:
    """The properties of a stream's schema, which must be a valid JSON Schema of objects."""
    if not isinstance(schema, dict) or not schema:
        what = f"a schema that is {kind(schema)}" if schema else "no schema (or an empty one)"
        raise BadInputFileError("--catalog", f"{name}: {what}")
    properties = schema.get("properties")
    if not isinstance(properties, dict) or not properties:
        raise BadInputFileError("--catalog", f"{name}: the schema has no 'properties'")
    problem = _schema_problem(schema)
    if problem is not None:
        where, what = problem
        part = f"the schema of {where!r}" if where else "the schema"
        raise BadInputFileError("--catalog", f"{name}: {part} {what}")
    return properties


JSON_TYPES = frozenset(("string", "number", "integer", "boolean", "object", "array", "null"))
SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf")
TYPED_BY = ("type", "anyOf", "allOf")
"""What a property's schema needs for the SDK to tell its type (``{}`` fails its conformance)."""


def _schema_problem(schema: Any, where: str = "") -> tuple[str, str] | None:
    """(where, what is wrong) with the parts of a JSON Schema the SDK and targets read
    (types, properties, items, combinations), or None. A full metaschema validation would
    cost about 0.1 s per stream at every start."""
    if not isinstance(schema, dict):
        return where, f"must be an object, not {kind(schema)}"
    if where and not any(field in schema for field in TYPED_BY):  # the SDK's type helpers raise
        return where, "declares no type"
    declared = schema.get("type")
    types = [declared] if isinstance(declared, str) else declared
    if declared is not None and not (
        isinstance(types, list) and types and all(t in JSON_TYPES for t in types)
    ):
        return where, f"has an unknown 'type': {_shown(declared)}"
    for field in ("format", "description", "title"):
        if schema.get(field) is not None and not isinstance(schema[field], str):
            return where, f"has a {field!r} that is not a string"
    parts: list[tuple[str, Any]] = []
    properties = schema.get("properties")
    if properties is not None:
        if not isinstance(properties, dict):
            return where, "has 'properties' that is not an object"
        parts += [(f"{where}.{field}".lstrip("."), value) for field, value in properties.items()]
    items = schema.get("items")
    if items is not None:
        parts.append((f"{where}[]", items))
    for combined in SUBSCHEMA_LISTS:
        options = schema.get(combined)
        if options is not None:
            if not isinstance(options, list) or not options:
                return where, f"has a {combined!r} that is not a non-empty array"
            parts += [
                (f"{where}.{combined}[{number}]", option) for number, option in enumerate(options)
            ]
    required = schema.get("required")
    if required is not None and not (
        isinstance(required, list) and all(isinstance(item, str) for item in required)
    ):
        return where, "has a 'required' that is not an array of strings"
    for part_where, part in parts:
        problem = _schema_problem(part, part_where)
        if problem is not None:
            return problem
    return None


def _check_metadata(name: str, breadcrumb: list[str], values: dict[str, Any]) -> None:
    """The metadata the SDK reads, of the types it expects."""
    where = f"{name}: metadata {breadcrumb}"
    if values.get("selected") is not None and not isinstance(values["selected"], bool):
        raise BadInputFileError("--catalog", f"{where}: 'selected' must be true or false")
    if values.get("selected-by-default") is not None and not isinstance(
        values["selected-by-default"], bool
    ):
        raise BadInputFileError(
            "--catalog", f"{where}: 'selected-by-default' must be true or false"
        )
    if values.get("inclusion") is not None and values["inclusion"] not in INCLUSIONS:
        raise BadInputFileError("--catalog", f"{where}: unknown inclusion {values['inclusion']!r}")
    for field in ("table-key-properties", "valid-replication-keys"):
        listed = values.get(field)
        if listed is not None and not (
            isinstance(listed, list) and all(isinstance(item, str) for item in listed)
        ):
            raise BadInputFileError("--catalog", f"{where}: {field!r} must be an array of strings")
    if values.get("replication-key") is not None and not isinstance(values["replication-key"], str):
        raise BadInputFileError("--catalog", f"{where}: 'replication-key' must be a string")
    method = values.get("forced-replication-method")
    if method is not None and method not in REPLICATION_METHODS:
        raise BadInputFileError(
            "--catalog", f"{where}: unknown forced-replication-method {method!r}"
        )


# --- against the tap's streams, before the sync writes anything ------------------------------
def check_against_streams(tap: Tap) -> None:
    """The catalog selects streams this tap has, with keys of the types the tap reads; each
    bookmark in the state is one the stream can start from."""
    if tap.input_catalog is not None:
        _check_catalog_streams(tap)
    bookmarks = tap.state.get("bookmarks") or {}
    known = [name for name in bookmarks if name in tap.streams]
    if bookmarks and not known:
        tap.logger.warning(
            "--state: the state has bookmarks for none of this tap's streams (it names %s); "
            "every stream starts from its start",
            ", ".join(sorted(bookmarks)[:5]),
        )
    for name in known:
        _check_stream_bookmarks(tap.streams[name], bookmarks[name])


def _check_catalog_streams(tap: Tap) -> None:
    catalog = tap.input_catalog
    assert catalog is not None
    listed = sorted(catalog)
    unknown = [name for name in listed if name not in tap.streams]
    selected = [
        stream.name for stream in tap.streams.values() if stream.name in catalog and stream.selected
    ]
    if not selected:
        if len(unknown) == len(listed):
            raise BadInputFileError(
                "--catalog",
                f"lists none of this tap's streams (it lists {_names(listed)}; this tap has "
                f"{_names(sorted(tap.streams))}): is it another tap's catalog?",
            )
        raise BadInputFileError("--catalog", "selects no stream: nothing would be synced")
    if unknown:
        tap.logger.warning(
            "--catalog: ignoring streams this tap does not have: %s", _names(unknown)
        )
    for name in listed:
        if name in tap.streams:  # selected or not: the file is wrong either way
            _check_key_types(tap.streams[name])


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:3])
    return shown + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def _check_key_types(stream: Stream) -> None:
    """Each key property and the replication key are declared with a type the tap reads
    them as (a key declared boolean would collapse every value to true)."""
    declared = stream.effective_schema.get("properties") or {}
    own = stream.schema.get("properties") or {}
    keys = [*stream.primary_keys, *([stream.replication_key] if stream.replication_key else [])]
    for key in keys:
        if key not in declared:
            what = "replication key" if key == stream.replication_key else "key property"
            raise BadInputFileError(
                "--catalog", f"{stream.name}: the {what} {key!r} is not in the stream's schema"
            )
        if key in own and not _compatible(_types(own[key]), _types(declared[key])):
            raise BadInputFileError(
                "--catalog",
                f"{stream.name}: the key {key!r} is declared {_type_names(declared[key])}; "
                f"the tap reads it as {_type_names(own[key])}",
            )


def _types(schema: Mapping[str, Any]) -> set[str]:
    """The JSON types a property schema allows (``anyOf``/``oneOf`` included); empty: any."""
    declared = schema.get("type")
    types = {declared} if isinstance(declared, str) else set(declared or [])
    for combined in ("anyOf", "oneOf"):
        for option in schema.get(combined) or []:
            if isinstance(option, Mapping):
                types |= _types(option)
    return {str(item) for item in types}


def _type_names(schema: Mapping[str, Any]) -> str:
    return "/".join(sorted(_types(schema))) or "of any type"


def _compatible(own: set[str], declared: set[str]) -> bool:
    own, declared = own - {"null"}, declared - {"null"}
    if not own or not declared:
        return not declared or not own
    return bool(own & declared) or ("integer" in own and "number" in declared)


def _check_stream_bookmarks(stream: Stream, entry: dict[str, Any]) -> None:
    """A bookmark under another replication key is dropped with one warning (the stream
    starts from its start); a value the stream cannot start from is refused."""
    key = stream.replication_key
    if stream.replication_method != REPLICATION_INCREMENTAL or not key:
        return
    bookmarks = [entry, *(entry.get("partitions") or [])]
    foreign = sorted(
        repr(bookmark.get("replication_key"))
        for bookmark in bookmarks
        if bookmark.get("replication_key") != key
        and bookmark.get("replication_key_value") is not None
    )
    if foreign:
        stream.logger.warning(
            "--state: %s: the bookmark is for the replication key %s, this stream's is %r: "
            "ignored, the stream starts from its start",
            stream.name,
            " and ".join(sorted(set(foreign))),
            key,
        )
    for bookmark in bookmarks:
        if bookmark.get("replication_key") != key:
            for name in ("replication_key", *BOOKMARK_VALUES):
                bookmark.pop(name, None)
            continue
        for name in ("replication_key_value", "replication_key_signpost"):
            value = bookmark.get(name)
            if value in (None, "") or _readable(stream, value):  # "": none, as for the SDK
                continue
            shown = value[:57] + "..." if isinstance(value, str) and len(value) > 60 else value
            problem = (
                str(bad_bookmark(stream, shown))
                if _is_date_time(stream)
                else f"{stream.name}: the {name} {_shown(value)} in the state is not "
                f"{_type_names(stream.effective_schema['properties'][key])}; fix or remove "
                "this stream's entry in the state"
            )
            raise BadInputFileError("--state", problem)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_date_time(stream: Stream) -> bool:
    key = stream.replication_key or ""
    schema = (stream.effective_schema.get("properties") or {}).get(key) or {}
    formats = {schema.get("format")} | {
        option.get("format") for option in schema.get("anyOf") or [] if isinstance(option, dict)
    }
    return bool(formats & {"date-time", "date"})  # both read by parse_instant


def _readable(stream: Stream, value: Any) -> bool:
    """True if the stream can start from the replication value ``value``."""
    if _is_date_time(stream):
        if not isinstance(value, str):
            return False
        try:
            parse_instant(value)
        except ValueError:
            return False
        return True
    types = _types(
        (stream.effective_schema.get("properties") or {}).get(stream.replication_key or "") or {}
    )
    if types & {"integer", "number"} and not isinstance(value, str):
        return True
    return isinstance(value, str) and (not types or "string" in types)
