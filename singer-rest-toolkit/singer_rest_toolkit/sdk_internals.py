"""Every use of a private SDK, requests or threading name, in one place.

Each piece is here because the public API has no hook for it; each has a test comparing
its output with the SDK's own (tests/toolkit/test_sdk_equivalence.py), run at the lowest and
the highest singer-sdk version this package allows (``make test-sdk-range``). Check this
module first on every SDK upgrade.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import requests
from singer_sdk import Stream, Tap
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers._typing import (
    _conform_primitive_property as conform_primitive_property,
)
from singer_sdk.helpers._typing import (
    _conform_record_data_types as conform_record_data_types,
)
from singer_sdk.helpers._typing import (
    _is_exclusive_boolean_type as is_exclusive_boolean_type,
)
from singer_sdk.helpers._typing import (
    _warn_unmapped_properties as warn_unmapped_properties,
)
from singer_sdk.helpers._typing import is_object_type, is_uniform_list
from singer_sdk.helpers._util import utc_now
from singer_sdk.singerlib import RecordMessage, SelectionMask
from typing_extensions import override

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

__all__ = [
    "FastRecordMessages",
    "SecretSafeValidation",
    "WindowBookmarks",
    "conform_primitive_property",
    "conform_record_data_types",
    "forget_body",
    "is_exclusive_boolean_type",
    "is_object_type",
    "is_uniform_list",
    "run_before_threads_join",
    "warn_unmapped_properties",
]


class FastRecordMessages(Stream):
    """RECORD messages without the SDK's per-record walk when nothing needs it.

    When the catalog deselects no property, ``Stream._generate_record_messages`` still
    copies and walks every record to prune nothing, then conforms it again (the toolkit's
    streams conform in ``post_process``). Any catalog that deselects a property takes the
    SDK's own path.
    """

    _all_selected: tuple[SelectionMask, bool] | None = None

    @override
    def _generate_record_messages(
        self, record: dict[str, Any]
    ) -> Generator[RecordMessage, None, None]:
        mask = self.mask
        if self._all_selected is None or self._all_selected[0] is not mask:
            # A missing breadcrumb takes its parent's value, so all True means all selected.
            self._all_selected = (mask, all(mask.values()))
        if not self._all_selected[1]:
            yield from super()._generate_record_messages(record)
            return
        for stream_map in self.stream_maps:
            mapped = stream_map.transform(record)
            if mapped is not None:
                yield RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped,
                    version=self._stream_version,
                    time_extracted=utc_now(),
                )


class WindowBookmarks(Stream):
    """Records do not move the bookmark: a completed date window does (see windows.py)."""

    @override
    def _increment_stream_state(
        self, latest_record: dict[str, Any], *, context: Context | None = None
    ) -> None:
        pass


class SecretSafeValidation(Tap):
    """The SDK's settings validation without the value of a secret setting in its messages.

    ``Tap._validate_config`` is the one place every CLI mode (sync, discover, about with a
    config) validates through; its messages read ``<value> is not of type 'string' in
    config['password']``. After it passes, :meth:`check_settings` runs the tap's own checks.
    """

    def check_settings(self) -> None:
        """The tap's own checks; raise ConfigValidationError naming the setting."""

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        from singer_rest_toolkit.config import hide_secret_values  # noqa: PLC0415 - no cycle

        secrets = {
            name
            for name, setting in self.config_jsonschema["properties"].items()
            if setting.get("secret")
        }
        try:
            errors = super()._validate_config(raise_errors=raise_errors)
        except ConfigValidationError as exc:
            hidden = hide_secret_values(list(exc.errors), secrets)
            raise ConfigValidationError(str(exc), errors=hidden, schema=exc.schema) from None
        if raise_errors:
            self.check_settings()
        return hide_secret_values(errors, secrets)


def forget_body(response: requests.Response) -> None:
    """Drop requests' cached copy of the body once it was parsed: the SDK holds the response
    until the next page arrives, and a large page would otherwise stay alive twice."""
    response._content = b""


def run_before_threads_join(hook: Callable[[], None]) -> None:
    """Call ``hook`` at interpreter exit before worker pools are joined.

    ``concurrent.futures`` joins its workers at exit after running every queued task; a
    failed sync's fetches ahead must be dropped first. ``atexit`` runs too late for that.
    """
    register = getattr(threading, "_register_atexit", None)
    if register is not None:
        register(hook)
