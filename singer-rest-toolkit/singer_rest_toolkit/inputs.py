"""The ``--config``, ``--state`` and ``--catalog`` files, checked before the first request.

A file the tap cannot run with ends the run in one line naming the file, the place in it and
what is wrong (:class:`BadInputFileError`); where running on is safe, a warning says what is
ignored. The shapes are JSON Schemas of what the SDK reads and writes itself
(``singer_sdk.helpers._state``): every state the SDK writes passes. Checked where the SDK reads
them: :func:`check_config_file` as ``--config`` is parsed, :func:`read_input_file` before the
tap is built, :func:`check_against_streams` once its streams have the catalog applied.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import IO, TYPE_CHECKING, Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from singer_sdk.singerlib.catalog import REPLICATION_FULL_TABLE, REPLICATION_INCREMENTAL

from singer_rest_toolkit.bookmarks import bad_bookmark
from singer_rest_toolkit.dates import is_instant

if TYPE_CHECKING:
    from singer_sdk import Stream, Tap
    from singer_sdk.singerlib import Catalog

STATE_WRAPPERS = ("value", "singer_state")
"""Keys a state may arrive wrapped in: a STATE message's ``value``, Meltano's ``singer_state``."""
BOOKMARK_VALUES = (
    "replication_key_value",
    "replication_key_signpost",
    "starting_replication_value",
)
"""The scalar values of a bookmark (a stream's or a partition's)."""
JSON_TYPES = ["string", "number", "integer", "boolean", "object", "array", "null"]
REPLICATION_METHODS = [REPLICATION_INCREMENTAL, REPLICATION_FULL_TABLE, "LOG_BASED", None]
SUBSCHEMAS = ("anyOf", "oneOf", "allOf")
TYPED_BY = ("type", "anyOf", "allOf")


# --- the shapes the SDK reads: JSON Schemas (null, as absent, is the SDK's default) ------------
def nullable(*types: str, **more: Any) -> dict[str, Any]:
    return {"type": [*types, "null"], **more}


def an_object(properties: dict[str, Any], *required: str, **more: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required), **more}


TEXT, FLAG = nullable("string"), nullable("boolean")
TEXTS = nullable("array", items={"type": "string"})
VALUES = {
    "replication_key": TEXT,
    **{name: nullable("string", "number") for name in BOOKMARK_VALUES},
}
BOOKMARK = {**VALUES, "progress_markers": nullable("object", properties=VALUES)}
PARTITION = an_object({**BOOKMARK, "context": {"type": "object"}}, "context")
STREAM_BOOKMARK = an_object({**BOOKMARK, "partitions": nullable("array", items=PARTITION)})
STATE = Draft202012Validator(
    an_object({"bookmarks": {"type": "object", "additionalProperties": STREAM_BOOKMARK}})
)
CONFIG = Draft202012Validator({"type": "object"})
NAMED = an_object({"tap_stream_id": {"type": "string", "minLength": 1}}, "tap_stream_id")
CATALOG = Draft202012Validator(an_object({"streams": {"type": "array", "items": NAMED}}, "streams"))
METADATA = an_object(
    {
        "selected": FLAG,
        "selected-by-default": FLAG,
        "inclusion": {"enum": ["available", "automatic", "unsupported", None]},
        "table-key-properties": TEXTS,
        "valid-replication-keys": TEXTS,
        "replication-key": TEXT,
        "forced-replication-method": {"enum": REPLICATION_METHODS},
    }
)
PROPERTY = {"$ref": "#/$defs/property"}
JSON_SCHEMA = an_object(
    {
        "type": nullable("string", "array", items={"enum": JSON_TYPES}, minItems=1)
        | {"if": {"type": "string"}, "then": {"enum": JSON_TYPES}},
        **dict.fromkeys(("format", "description", "title"), TEXT),
        "properties": nullable("object", additionalProperties=PROPERTY),
        "items": PROPERTY,
        **{field: nullable("array", items=PROPERTY, minItems=1) for field in SUBSCHEMAS},
        "required": TEXTS,
    }
)
"""The parts of a JSON Schema the SDK and targets read (a metaschema validation would cost
about 0.1 s per stream at every start)."""
ENTRY_METADATA = an_object(
    {"breadcrumb": {"type": "array", "items": {"type": "string"}}, "metadata": METADATA},
    "breadcrumb",
    "metadata",
)
HAS_PROPERTIES = an_object({"properties": {"type": "object", "minProperties": 1}}, "properties")
CATALOG_STREAM = Draft202012Validator(
    an_object(
        {
            **dict.fromkeys(("stream", "stream_alias", "replication_key"), TEXT),
            "replication_method": {"enum": REPLICATION_METHODS},
            "key_properties": TEXTS,
            "schema": {"allOf": [JSON_SCHEMA, HAS_PROPERTIES]},
            "metadata": {"type": "array", "items": ENTRY_METADATA},
        },
        "schema",
    )
    # A property's schema must say its type: the SDK's type helpers raise on ``{}``.
    | {"$defs": {"property": JSON_SCHEMA | {"anyOf": [{"required": [t]} for t in TYPED_BY]}}}
)


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


KIND_NAMES = {
    "object": "an object",
    "array": "an array",
    "string": "a string",
    "boolean": "true or false",
    "null": "null",
    "number": "a number",
    "integer": "an integer",
}


def kind(value: Any) -> str:
    """The JSON type of ``value``, as an error line names it."""
    if isinstance(value, bool):
        return json.dumps(value)
    return next(KIND_NAMES[name] for name in KIND_NAMES if CONFIG.is_type(value, name))


def _check(option: str, validator: Draft202012Validator, value: Any, stream: str = "") -> None:
    """Refuse ``value`` in one line at the first place it is not of ``validator``'s shape."""
    error = best_match(validator.iter_errors(value))
    if error is None:
        return
    where = _path(error.absolute_path)
    if stream:
        where = f"stream {stream!r}" + (f": {where}" if where else "")
    raise BadInputFileError(option, f"{where or 'the file'} {_what(error)}")


def _path(parts: Iterable[str | int]) -> str:
    """``bookmarks.users.partitions[0]``: a place in a JSON document."""
    return "".join(
        f".{part}" if isinstance(part, str) and part.isidentifier() else f"[{part!r}]"
        for part in parts
    ).lstrip(".")


def _what(error: ValidationError) -> str:
    """What the error says is wrong, without echoing more than a short value."""
    expected: Any = error.validator_value
    if error.validator == "type":
        names = [expected] if isinstance(expected, str) else expected
        allowed = " or ".join(KIND_NAMES[name] for name in names if name != "null")
        return f"must be {allowed}, not {kind(error.instance)}"
    if error.validator == "required":
        return f"has no {next(name for name in expected if name not in error.instance)!r}"
    if error.validator == "enum":
        listed = ", ".join(str(value) for value in expected if value is not None)
        return f"is {_shown(error.instance)}, not one of {listed}"
    if error.validator == "anyOf":  # options alike, so best_match names none: each requires one
        return "has none of " + ", ".join(repr(option["required"][0]) for option in expected)
    return "must not be empty"  # minItems, minProperties, minLength


def check_config_file(path: str) -> None:
    """A ``--config`` file is readable, JSON, and an object of settings."""
    try:
        with open(path, encoding="utf-8") as handle:
            read_input_file("config", handle, logging.getLogger(__name__))
    except OSError as exc:
        raise BadInputFileError("--config", exc.strerror or str(exc), path) from None


def read_input_file(name: str, handle: IO[str], logger: logging.Logger) -> tuple[str, Any]:
    """Read the ``config``, ``state`` or ``catalog`` file ``handle`` and check its structure.
    Returns its path and what the SDK is to read (a wrapped state unwrapped)."""
    option = f"--{name}"
    path = str(getattr(handle, "name", ""))
    try:
        value = json.loads(handle.read(), parse_float=Decimal)
    except ValueError as exc:
        raise BadInputFileError(option, f"not valid JSON ({exc})", path) from None
    try:
        if name == "state":
            return path, checked_state(value, logger)
        if name == "catalog":
            return path, checked_catalog(value)
        _check(option, CONFIG, value)
        return path, value
    except BadInputFileError as exc:
        raise BadInputFileError(option, exc.problem, path) from None


def checked_state(state: Any, logger: logging.Logger) -> Any:
    """The state, refused in one line where the SDK could not read it."""
    _check("--state", STATE, state)
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
    for stream, entry in state["bookmarks"].items():
        contexts = [partition["context"] for partition in entry.get("partitions") or []]
        for number, context in enumerate(contexts):
            if context in contexts[:number]:
                raise BadInputFileError(
                    "--state",
                    f"{_path(['bookmarks', stream, 'partitions', number])} is a second "
                    f"partition for the context {context}",
                )
    return state


def checked_catalog(catalog: Any) -> Any:
    """The catalog, refused in one line where the SDK could not read it (its keys are checked
    once the streams have it applied: :func:`check_against_streams`)."""
    _check("--catalog", CATALOG, catalog)
    names = [entry["tap_stream_id"] for entry in catalog["streams"]]
    for number, entry in enumerate(catalog["streams"]):
        if names[number] in names[:number]:
            raise BadInputFileError("--catalog", f"stream {names[number]!r} is listed twice")
        _check("--catalog", CATALOG_STREAM, entry, names[number])
    return catalog


# --- against the tap's streams, before the sync writes anything ------------------------------
def check_against_streams(tap: Tap) -> None:
    """The catalog selects streams this tap has, with keys of the types the tap reads; each
    bookmark in the state is one the stream can start from."""
    if tap.input_catalog is not None:
        _check_catalog_streams(tap, tap.input_catalog)
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


def _check_catalog_streams(tap: Tap, catalog: Catalog) -> None:
    listed = sorted(catalog)
    unknown = [name for name in listed if name not in tap.streams]
    if not any(stream.name in catalog and stream.selected for stream in tap.streams.values()):
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
    declared = schema.get("type") or []
    types = {declared} if isinstance(declared, str) else set(declared)
    for option in [*(schema.get("anyOf") or []), *(schema.get("oneOf") or [])]:
        types |= _types(option)
    return types


def _type_names(schema: Mapping[str, Any]) -> str:
    return "/".join(sorted(_types(schema))) or "of any type"


def _compatible(own: set[str], declared: set[str]) -> bool:
    """A key the tap reads as ``own`` types can be read from values of ``declared`` types."""
    own, declared = own - {"null"}, declared - {"null"}
    integers = "integer" in own and "number" in declared
    return not own or not declared or bool(own & declared) or integers


def _check_stream_bookmarks(stream: Stream, entry: dict[str, Any]) -> None:
    """A bookmark under another replication key is dropped with one warning (the stream
    starts from its start); a value the stream cannot start from is refused."""
    key = stream.replication_key
    if stream.replication_method != REPLICATION_INCREMENTAL or not key:
        return
    bookmarks = [entry, *(entry.get("partitions") or [])]
    foreign = [bookmark for bookmark in bookmarks if bookmark.get("replication_key") != key]
    named = {
        repr(bookmark.get("replication_key"))
        for bookmark in foreign
        if bookmark.get("replication_key_value") is not None
    }
    if named:
        stream.logger.warning(
            "--state: %s: the bookmark is for the replication key %s, this stream's is %r: "
            "ignored, the stream starts from its start",
            stream.name,
            " and ".join(sorted(named)),
            key,
        )
    for bookmark in foreign:
        for name in ("replication_key", *BOOKMARK_VALUES):
            bookmark.pop(name, None)
    schema = (stream.effective_schema.get("properties") or {}).get(key) or {}
    for bookmark in bookmarks:
        for name in ("replication_key_value", "replication_key_signpost"):
            value = bookmark.get(name)
            if value in (None, "") or _readable(schema, value):  # "": none, as for the SDK
                continue
            shown = value[:57] + "..." if isinstance(value, str) and len(value) > 60 else value
            problem = (
                str(bad_bookmark(stream, shown))
                if _is_date_time(schema)
                else f"{stream.name}: the {name} {_shown(value)} in the state is not "
                f"{_type_names(schema)}; fix or remove this stream's entry in the state"
            )
            raise BadInputFileError("--state", problem)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_date_time(schema: Mapping[str, Any]) -> bool:
    formats = {option.get("format") for option in [schema, *(schema.get("anyOf") or [])]}
    return bool(formats & {"date-time", "date"})  # both read by parse_instant


def _readable(schema: Mapping[str, Any], value: str | Decimal | int) -> bool:
    """True if a stream whose replication key has ``schema`` can start from ``value``."""
    if _is_date_time(schema):
        return is_instant(value)
    types = _types(schema)
    if isinstance(value, str):
        return not types or "string" in types
    return bool(types & {"integer", "number"})
