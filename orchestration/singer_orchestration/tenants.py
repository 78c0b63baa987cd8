"""The tenants file: every account of every tap as data, checked in full when it is loaded.

A tenant is a slug (its partition key, load schema and state id suffix), the non-secret
settings of its tap, and the *names* of the environment variables that hold its secrets.
Which settings a tap has, and which of them are secret, is read from meltano.yml (the
project's one declaration of them), so a new tap setting needs no change here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SLUG = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
SLUG_FORM = "lower-case letters, digits and _, starting with a letter (at most 40)"
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ENTRY_KEYS = frozenset({"slug", "settings", "secrets"})


class TenantsFileError(ValueError):
    """A bad tenants file; its message is one line naming the file, entry and field."""


@dataclass(frozen=True)
class TapSettings:
    """A tap's settings as meltano.yml declares them."""

    tap: str
    names: frozenset[str]
    secret: frozenset[str]

    @property
    def schema(self) -> str:
        """The tap's own schema name, e.g. ``tap_amilia`` (Meltano's default load schema)."""
        return self.tap.replace("-", "_")


@dataclass(frozen=True)
class Tenant:
    """One account of one tap."""

    tap: str
    slug: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)
    """Setting name -> the environment variable that holds its value."""

    @property
    def name(self) -> str:
        """``tap-amilia/forest_explorers``: how lines and metadata name it."""
        return f"{self.tap}/{self.slug}"

    @property
    def load_schema(self) -> str:
        """Where its rows land: its tap's schema and its slug (``tap_amilia_forest``)."""
        return f"{self.tap.replace('-', '_')}_{self.slug}"

    def secret_values(self, environ: Mapping[str, str]) -> dict[str, str]:
        """Each secret setting's value, read from ``environ`` now."""
        return {setting: environ[variable] for setting, variable in self.secrets.items()}


def project_taps(meltano_yml: Path) -> dict[str, TapSettings]:
    """Each extractor of the Meltano project and its declared settings."""
    project = yaml.safe_load(meltano_yml.read_text(encoding="utf-8"))
    taps = {}
    for plugin in project.get("plugins", {}).get("extractors", []):
        settings = plugin.get("settings") or []
        taps[plugin["name"]] = TapSettings(
            plugin["name"],
            frozenset(s["name"] for s in settings),
            frozenset(s["name"] for s in settings if s.get("sensitive")),
        )
    return taps


def load_tenants(
    path: Path, taps: Mapping[str, TapSettings], environ: Mapping[str, str] | None = None
) -> dict[str, list[Tenant]]:
    """Every tenant of ``path`` by tap, or TenantsFileError on the first bad entry."""
    environ = os.environ if environ is None else environ
    where = path.name
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TenantsFileError(f"{path}: cannot read the tenants file ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise TenantsFileError(f"{where}: not valid YAML{at}") from None
    if not isinstance(document, dict) or not isinstance(document.get("tenants"), dict):
        raise TenantsFileError(f"{where}: expected a mapping 'tenants: {{<tap>: [entries]}}'")
    tenants: dict[str, list[Tenant]] = {}
    for tap, entries in document["tenants"].items():
        if tap not in taps:
            known = ", ".join(sorted(taps))
            raise TenantsFileError(f"{where}: {tap}: unknown tap (meltano.yml has {known})")
        if not isinstance(entries, list) or not entries:
            raise TenantsFileError(f"{where}: {tap}: expected a list of tenants")
        seen: set[str] = set()
        tenants[tap] = []
        for number, entry in enumerate(entries, 1):
            tenant = _tenant(where, taps[tap], number, entry, environ)
            if tenant.slug in seen:
                raise TenantsFileError(f"{where}: {tenant.name}: slug: duplicate slug")
            seen.add(tenant.slug)
            tenants[tap].append(tenant)
    return tenants


def _tenant(
    where: str, tap: TapSettings, number: int, entry: Any, environ: Mapping[str, str]
) -> Tenant:
    """One entry of a tap's list, checked."""
    if not isinstance(entry, dict):
        raise TenantsFileError(f"{where}: {tap.tap} entry {number}: expected a mapping")
    slug = entry.get("slug")
    if not isinstance(slug, str) or not SLUG.match(slug):
        raise TenantsFileError(
            f"{where}: {tap.tap} entry {number}: slug: must be {SLUG_FORM}: {slug!r}"
        )
    name = f"{tap.tap}/{slug}"
    for key in entry:
        if key not in ENTRY_KEYS:
            raise TenantsFileError(
                f"{where}: {name}: {key}: unknown field (slug, settings, secrets)"
            )
    settings = _mapping(where, name, "settings", entry.get("settings"))
    secrets = _mapping(where, name, "secrets", entry.get("secrets"))
    for setting, value in settings.items():
        if setting not in tap.names:
            raise TenantsFileError(
                f"{where}: {name}: settings.{setting}: not a setting of {tap.tap}"
            )
        if setting in tap.secret:
            raise TenantsFileError(
                f"{where}: {name}: settings.{setting}: a secret: name its environment "
                "variable under secrets instead"
            )
        if isinstance(value, dict | list) or value is None:
            raise TenantsFileError(f"{where}: {name}: settings.{setting}: expected a plain value")
    for setting, variable in secrets.items():
        if setting not in tap.names:
            raise TenantsFileError(
                f"{where}: {name}: secrets.{setting}: not a setting of {tap.tap}"
            )
        if setting in settings:
            raise TenantsFileError(f"{where}: {name}: secrets.{setting}: also under settings")
        if not isinstance(variable, str) or not ENV_NAME.match(variable):
            raise TenantsFileError(
                f"{where}: {name}: secrets.{setting}: expected an environment variable name"
            )
        if not environ.get(variable):
            raise TenantsFileError(
                f"{where}: {name}: secrets.{setting}: environment variable {variable} is not set"
            )
    return Tenant(tap.tap, slug, settings, secrets)


def _mapping(where: str, name: str, key: str, value: Any) -> dict[str, Any]:
    """``value`` (absent: empty) as a mapping, or the line that says it is not one."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TenantsFileError(f"{where}: {name}: {key}: expected a mapping")
    return dict(value)
