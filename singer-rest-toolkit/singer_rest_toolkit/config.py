"""Settings checks whose errors name the setting and never show a secret."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from singer_sdk.exceptions import ConfigValidationError

from singer_rest_toolkit.transport import UnreachableError

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
CONFIG_PATH = re.compile(r" in config\['([^']+)'\]")
EXPECTED_TYPE = re.compile(r"is not of type (.+?) in config\[")
ERRNO_REASON = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")


def invalid(message: str) -> ConfigValidationError:
    """The SDK's settings error, with ``message`` as its one line; under Meltano the line
    names the environment whose settings were merged (``MELTANO_ENVIRONMENT``)."""
    if environment := os.environ.get("MELTANO_ENVIRONMENT"):
        message = f"{message} (Meltano environment '{environment}')"
    return ConfigValidationError(message, errors=[message])


def is_set(config: Mapping[str, Any], name: str) -> bool:
    """True if ``name`` holds something other than blanks."""
    return bool(str(config.get(name) or "").strip())


def shown_url(value: str) -> str:
    """``value`` for an error line, without what may hold a secret (userinfo, query, fragment)."""
    parsed = urlsplit(value)
    if not parsed.scheme or not parsed.hostname:
        return "(not an absolute URL)"
    try:
        port = f":{parsed.port}" if parsed.port is not None else ""
    except ValueError:
        port = ":(invalid port)"
    hidden = "?…" if parsed.query or parsed.fragment else ""
    return f"{parsed.scheme}://{parsed.hostname}{port}{parsed.path}{hidden}"


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


def check_pattern(
    config: Mapping[str, Any], name: str, pattern: re.Pattern[str], what: str
) -> None:
    """The setting matches ``pattern``; else "``name`` must be ``what``: 'value'"."""
    value = str(config.get(name) or "").strip()
    if not pattern.match(value):
        raise invalid(f"{name} must be {what}: {value!r}")


def check_url(name: str, value: str) -> None:
    """An absolute https URL (http only for localhost), without query or fragment."""
    parsed = urlsplit(value)
    shown = shown_url(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise invalid(f"{name} must be an absolute https:// URL: {shown}")
    try:
        parsed.port  # noqa: B018 - raises on a port out of range
    except ValueError:
        raise invalid(f"{name} has an invalid port: {shown}") from None
    if parsed.scheme == "http" and parsed.hostname not in LOCAL_HOSTS:
        raise invalid(
            f"{name} must be an https:// URL (http is allowed only for localhost): {shown}"
        )
    if parsed.query or parsed.fragment:  # not echoed: a query string may hold a secret
        raise invalid(f"{name} must not have a query string or fragment")


def check_urls(config: Mapping[str, Any], *names: str) -> None:
    """Each URL setting that is set passes :func:`check_url`."""
    for name in names:
        if config.get(name):
            check_url(name, str(config[name]))


def check_minimums(config: Mapping[str, Any], minimums: Mapping[str, int]) -> None:
    """Each named integer setting, when set, is at least its minimum."""
    for name, minimum in minimums.items():
        if config.get(name) is not None and int(config[name]) < minimum:
            raise invalid(f"{name} must be at least {minimum}: {config[name]!r}")


def unreachable_line(exc: requests.RequestException, url_settings: str) -> str:
    """One line for a request that never got an answer: host, reason, path, the settings to
    check (``url_settings``, e.g. "the api_url setting")."""
    request = exc.request
    url = urlsplit(str(request.url) if request is not None and request.url else "")
    method = request.method if request is not None else "GET"
    port = f":{url.port}" if url.port is not None else ""  # never user:password@
    if isinstance(exc, requests.Timeout):
        reason = "no complete answer within request_timeout"
    elif isinstance(exc, UnreachableError):
        reason = exc.reason
    else:
        found = ERRNO_REASON.search(str(exc))
        reason = found.group(1).strip().lower() if found else type(exc).__name__
    return f"cannot reach {url.hostname}{port} ({reason}) for {method} {url.path}; check {url_settings}"
