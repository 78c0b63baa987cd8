"""tap-agyletime: settings, their checks, and the stream list."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, NoReturn
from urllib.parse import urlparse, urlsplit

import click
import requests
from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError, FatalAPIError, RetriableAPIError

from tap_agyletime.auth import AgyleTimeAuthenticator
from tap_agyletime.client import AgyleTimeStream, parse_instant
from tap_agyletime.pacing import Pacer
from tap_agyletime.streams import STREAM_TYPES
from tap_agyletime.writer import AgyleTimeWriter

REGIONS = ("eu", "us", "au")
SUBDOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", re.IGNORECASE)
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class ApiUrls:
    """Base URLs of the two hosts, without a trailing slash."""

    tenant: str
    regional: str

    @property
    def token(self) -> str:
        """The token endpoint (tenant host)."""
        return f"{self.tenant}/authority/token"


def api_urls(config: Mapping[str, Any]) -> ApiUrls:
    """``tenant_url``/``regional_url``, or the production hosts of subdomain and region."""
    tenant = config.get("tenant_url") or f"https://{config.get('subdomain')}.cloud.agyletime.io/api"
    regional = (
        config.get("regional_url") or f"https://api-{config.get('region')}.cloud.agyletime.io"
    )
    return ApiUrls(tenant.rstrip("/"), regional.rstrip("/"))


def _invalid(message: str) -> ConfigValidationError:
    return ConfigValidationError(message, errors=[message])


def shown_url(value: str) -> str:
    """``value`` without the parts that may hold a secret (``user:password@``, query string,
    fragment), for error messages."""
    parsed = urlsplit(value)
    if not parsed.scheme or not parsed.hostname:
        return "(not an absolute URL)"
    try:
        port = f":{parsed.port}" if parsed.port is not None else ""
    except ValueError:
        port = ":(invalid port)"
    hidden = "?…" if parsed.query or parsed.fragment else ""
    return f"{parsed.scheme}://{parsed.hostname}{port}{parsed.path}{hidden}"


CONFIG_PATH = re.compile(r" in config\['([^']+)'\]")
EXPECTED_TYPE = re.compile(r"is not of type (.+?) in config\[")


def hide_secret_values(errors: list[str], secrets: set[str]) -> list[str]:
    """The SDK's config validation messages without the value of a secret setting (they
    read ``<value> is not of type 'string' in config['password']``)."""
    shown = []
    for error in errors:
        found = CONFIG_PATH.search(error)
        if found and found.group(1) in secrets:
            expected = EXPECTED_TYPE.search(error)
            what = f"must be of type {expected.group(1)}" if expected else "is not valid"
            shown.append(f"{found.group(1)} {what} (value not shown: the setting is secret)")
        else:
            shown.append(error)
    return shown


def check_url(name: str, value: str) -> None:
    """An absolute https URL (http only for localhost), without query or fragment."""
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise _invalid(f"{name} must be an absolute https:// URL: {shown_url(value)}")
    try:
        parsed.port  # noqa: B018 - raises on a port out of range
    except ValueError:
        raise _invalid(f"{name} has an invalid port: {shown_url(value)}") from None
    if parsed.scheme == "http" and parsed.hostname not in LOCAL_HOSTS:
        raise _invalid(
            f"{name} must be an https:// URL (http is allowed only for localhost): "
            f"{shown_url(value)}"
        )
    if parsed.query or parsed.fragment:  # not echoed: a query string may hold a secret
        raise _invalid(f"{name} must not have a query string or fragment")


def check_settings(config: Mapping[str, Any]) -> None:
    """Raise ConfigValidationError, naming the setting, for the first bad value."""
    subdomain = str(config.get("subdomain") or "")
    if not SUBDOMAIN.match(subdomain):
        raise _invalid(
            "subdomain must be the tenant's host name, e.g. 'acme' for "
            f"https://acme.cloud.agyletime.io: {subdomain!r}"
        )
    if not config.get("region") and not config.get("regional_url"):
        raise _invalid("region is required (eu, us or au) unless regional_url is set")
    for name in ("access_key_id", "access_key_secret"):
        if not str(config.get(name) or "").strip():
            raise _invalid(f"{name} must not be empty")
    for name in ("tenant_url", "regional_url"):
        if config.get(name):
            check_url(name, str(config[name]))
    minimums = {
        "page_size": 1,
        "lookback_days": 0,
        "max_requests_per_second": 1,
        "request_timeout": 1,
        "max_retries": 1,
    }
    for name, minimum in minimums.items():
        if name in config and int(config[name]) < minimum:
            raise _invalid(f"{name} must be at least {minimum}: {config[name]!r}")
    if config.get("start_date"):
        try:
            start = parse_instant(str(config["start_date"]))
        except ValueError:
            raise _invalid(
                f"start_date must be an ISO-8601 date or date-time: {config['start_date']!r}"
            ) from None
        if start > datetime.now(UTC):
            raise _invalid(f"start_date is in the future: {config['start_date']!r}")


ERRNO_REASON = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")


def unreachable_line(exc: requests.RequestException) -> str:
    """One line for a request that never got an answer: host, reason, path, the setting to check."""
    request = exc.request
    url = urlsplit(str(request.url) if request is not None and request.url else "")
    method = request.method if request is not None else "GET"
    port = f":{url.port}" if url.port is not None else ""  # never user:password@
    if isinstance(exc, requests.Timeout):
        reason = "no answer within request_timeout"
    else:
        found = ERRNO_REASON.search(str(exc))
        reason = found.group(1).strip().lower() if found else type(exc).__name__
    return (
        f"cannot reach {url.hostname}{port} ({reason}) for {method} {url.path}; "
        "check the tenant_url and regional_url settings"
    )


class TapAgyleTime(Tap):
    """Singer tap for Agyle Time (Playvox WFM)."""

    name = "tap-agyletime"
    message_writer_class = AgyleTimeWriter  # the SDK's msgspec writer, fewer flushes

    config_jsonschema = th.PropertiesList(
        th.Property(
            "subdomain",
            th.StringType,
            required=True,
            description="Tenant subdomain: 'acme' for https://acme.cloud.agyletime.io",
        ),
        th.Property(
            "region",
            th.StringType,
            allowed_values=list(REGIONS),
            description=(
                "Region the tenant is provisioned in (eu, us or au), for the regional host "
                "https://api-{region}.cloud.agyletime.io. Required unless regional_url is set."
            ),
        ),
        th.Property(
            "access_key_id",
            th.StringType,
            required=True,
            description="Access key id: the user name of the token request's basic auth",
        ),
        th.Property(
            "access_key_secret",
            th.StringType,
            required=True,
            secret=True,
            description="Access key secret: the password of the token request's basic auth",
        ),
        th.Property(
            "tenant_url",
            th.StringType,
            description=(
                "Tenant API base URL, default https://{subdomain}.cloud.agyletime.io/api "
                "(token, metrics, tasks, task definitions)"
            ),
        ),
        th.Property(
            "regional_url",
            th.StringType,
            description=(
                "Regional API base URL, default https://api-{region}.cloud.agyletime.io "
                "(no /api; users, roles, workstreams, contacts, interactions, shifts)"
            ),
        ),
        th.Property(
            "start_date",
            th.DateTimeType,
            description=(
                "Earliest date (UTC) for date-ranged streams on the first run; "
                "default: lookback_days before the first run"
            ),
        ),
        th.Property(
            "lookback_days",
            th.IntegerType,
            default=14,
            description="Days before the bookmark re-read on every run (data changes after the fact)",
        ),
        th.Property(
            "page_size",
            th.IntegerType,
            default=1000,
            description="pageLimit of each request (the API documents no maximum; 1000 by default)",
        ),
        th.Property(
            "max_requests_per_second",
            th.IntegerType,
            default=3,
            description="Client-side pacing of all requests, token requests included",
        ),
        th.Property(
            "request_timeout",
            th.IntegerType,
            default=60,
            description="Seconds to wait for a response before retrying",
        ),
        th.Property(
            "max_retries",
            th.IntegerType,
            default=8,
            description="Tries per request in all, for 429, 5xx, timeouts and malformed bodies",
        ),
    ).to_dict()

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """The SDK's validation of the settings, with no secret value in its messages (a
        private SDK method: the one place every CLI mode validates through)."""
        secrets = {
            name
            for name, setting in self.config_jsonschema["properties"].items()
            if setting.get("secret")
        }
        try:
            return hide_secret_values(super()._validate_config(raise_errors=raise_errors), secrets)
        except ConfigValidationError as exc:
            errors = hide_secret_values(list(exc.errors), secrets)
            raise ConfigValidationError(str(exc), errors=errors, schema=exc.schema) from None

    @classmethod
    def cb_config(cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]) -> Any:
        """``--config`` files read as the SDK does; one that is missing or not JSON is a
        usage error naming the file, not a traceback."""
        for path in value:
            if path == "ENV":
                continue
            try:
                with open(path, encoding="utf-8") as handle:
                    json.load(handle)
            except OSError as exc:
                raise click.BadParameter(f"{path}: {exc.strerror or exc}", ctx, param) from None
            except ValueError as exc:
                raise click.BadParameter(f"{path}: not valid JSON ({exc})", ctx, param) from None
        return super().cb_config(ctx, param, value)

    @classmethod
    def invoke(cls, **kwargs: Any) -> None:
        """Run the CLI; a failing or unreachable API ends in one line, not a traceback.

        The traceback is still logged at DEBUG (``LOGLEVEL=DEBUG``) for bug reports.
        """
        for option in ("state", "catalog"):
            handle = kwargs.get(option)
            if handle is not None:  # a file click opened: read it here to check it is JSON
                text = handle.read()
                try:
                    json.loads(text)
                except ValueError as exc:
                    line = f"--{option} {getattr(handle, 'name', '')}: not valid JSON ({exc})"
                    cls._fail(line, exc)
                kwargs[option] = io.StringIO(text)
        try:
            super().invoke(**kwargs)
        except (FatalAPIError, RetriableAPIError) as exc:
            cls._fail(str(exc), exc)
        except requests.RequestException as exc:
            cls._fail(unreachable_line(exc), exc)

    @classmethod
    def _fail(cls, line: str, exc: Exception) -> NoReturn:
        cls.logger.debug("traceback of the failure", exc_info=exc)
        cls.logger.error("%s", line)
        raise SystemExit(1)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if kwargs.get("validate_config", True):
            check_settings(self.config)

    @cached_property
    def urls(self) -> ApiUrls:
        """Tenant and regional base URLs."""
        return api_urls(self.config)

    @cached_property
    def pacer(self) -> Pacer:
        """One pace for every request of this tap, token requests included."""
        return Pacer(int(self.config.get("max_requests_per_second", 3)))

    @cached_property
    def token_authenticator(self) -> AgyleTimeAuthenticator:
        """The access token every stream shares."""
        return AgyleTimeAuthenticator(
            auth_endpoint=self.urls.token,
            client_id=str(self.config.get("access_key_id", "")),
            client_secret=str(self.config.get("access_key_secret", "")),
            pacer=self.pacer,
            timeout=float(self.config.get("request_timeout", 60)),
        )

    def discover_streams(self) -> list[AgyleTimeStream]:
        """Every stream; contacts and interactions are not selected by default."""
        return [stream_type(tap=self) for stream_type in STREAM_TYPES]


if __name__ == "__main__":
    TapAgyleTime.cli()
