"""What the SDK validates: settings (messages without a secret's value) and record types
(its conformance rules, which conform.py compiles once per schema)."""

from __future__ import annotations

from singer_sdk import Tap
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers import _typing
from typing_extensions import override

# The SDK's type conformance rules, for conform.py: no public module has them.
conform_primitive_property = _typing._conform_primitive_property
conform_record_data_types = _typing._conform_record_data_types
is_exclusive_boolean_type = _typing._is_exclusive_boolean_type
is_object_type = _typing.is_object_type
is_uniform_list = _typing.is_uniform_list
warn_unmapped_properties = _typing._warn_unmapped_properties


class SecretSafeValidation(Tap):
    """The SDK's settings validation (the one place every CLI mode goes through) without a
    secret's value in its messages, then the tap's own checks."""

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
