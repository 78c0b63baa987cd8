"""README settings tables and meltano.yml settings follow each tap's `--about`."""

from __future__ import annotations

import importlib.util
import json
from typing import Any

import pytest

from api_sandbox.testing import shared_sandbox
from repo_support import ROOT, TAPS, about_json
from resilience.tap_profiles import profile
from resilience.tap_runner import discovered_catalog

spec = importlib.util.spec_from_file_location("sync_readmes", ROOT / "scripts" / "sync_readmes.py")
assert spec is not None
assert spec.loader is not None
sync_readmes = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sync_readmes)

# Settings the SDK adds to every tap from its capabilities; meltano.yml need not repeat them.
SDK_BUILTIN_PREFIXES = (
    "stream_map",
    "faker_config",
    "flattening_",
    "batch_config",
    "emit_activate",
)


def own_settings(tap: str) -> dict[str, dict[str, Any]]:
    properties: dict[str, dict[str, Any]] = about_json(tap)["settings"]["properties"]
    return {k: v for k, v in properties.items() if not k.startswith(SDK_BUILTIN_PREFIXES)}


def extractor(project: dict[str, Any], tap: str) -> dict[str, Any]:
    matches = [p for p in project["plugins"]["extractors"] if p["name"] == tap]
    assert len(matches) == 1, f"{tap} is declared {len(matches)} times in meltano.yml"
    return matches[0]


@pytest.mark.parametrize("tap", TAPS)
def test_tap_readme_settings_table_is_the_about_output(tap: str) -> None:
    readme = (ROOT / tap / "README.md").read_text(encoding="utf-8")
    assert readme == sync_readmes.with_about(readme, sync_readmes.about_markdown(tap)), (
        f"{tap}/README.md is out of date: run `make readmes`"
    )


@pytest.mark.parametrize("tap", TAPS)
def test_meltano_yml_declares_exactly_the_tap_settings(
    tap: str, meltano_project: dict[str, Any]
) -> None:
    declared = {s["name"]: s for s in extractor(meltano_project, tap)["settings"]}
    actual = own_settings(tap)
    assert sorted(declared) == sorted(actual)
    for name, schema in actual.items():
        assert bool(declared[name].get("sensitive")) == bool(schema.get("secret")), name
        if "default" in schema and "value" in declared[name]:
            assert declared[name]["value"] == schema["default"], name


@pytest.mark.parametrize("tap", TAPS)
def test_meltano_yml_capabilities_are_the_tap_capabilities(
    tap: str, meltano_project: dict[str, Any]
) -> None:
    declared = extractor(meltano_project, tap)["capabilities"]
    assert len(declared) == len(set(declared)), declared
    assert sorted(declared) == sorted(about_json(tap)["capabilities"])


@pytest.mark.parametrize("tap", TAPS)
def test_every_required_setting_is_in_each_settings_group(
    tap: str, meltano_project: dict[str, Any]
) -> None:
    required = set(about_json(tap)["settings"].get("required", []))
    for group in extractor(meltano_project, tap)["settings_group_validation"]:
        assert required <= set(group), group


def test_env_example_lists_every_secret_setting(meltano_project: dict[str, Any]) -> None:
    env_example = (ROOT / ".env.example").read_text(encoding="utf-8")
    for plugin in meltano_project["plugins"]["extractors"]:
        for setting in plugin["settings"]:
            if setting.get("sensitive"):
                variable = f"{plugin['name']}_{setting['name']}".upper().replace("-", "_")
                assert f"{variable}=" in env_example, variable


def test_meltano_yml_holds_no_secret_outside_the_sandbox_environment(
    meltano_project: dict[str, Any],
) -> None:
    secrets = {
        (p["name"], s["name"])
        for p in meltano_project["plugins"]["extractors"]
        for s in p["settings"]
        if s.get("sensitive")
    }
    for plugin in meltano_project["plugins"]["extractors"]:
        assert not {k for k in plugin.get("config", {}) if (plugin["name"], k) in secrets}
    prod = next(e for e in meltano_project["environments"] if e["name"] == "prod")
    for plugin in prod["config"]["plugins"]["extractors"]:
        assert not {k for k in plugin.get("config", {}) if (plugin["name"], k) in secrets}


def test_root_readme_shows_the_two_commands_and_every_tap() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for text in ("make demo", "make test", *TAPS, "--environment=prod"):
        assert text in readme


@pytest.mark.parametrize("tap", TAPS)
def test_meltano_yml_select_keeps_opt_in_streams_opt_in(
    tap: str, meltano_project: dict[str, Any]
) -> None:
    """Meltano selects every stream unless told: its `select` must exclude exactly the opt-in ones."""
    tap_profile = profile(tap)
    catalog = json.loads(
        discovered_catalog(tap, json.dumps(tap_profile.config(shared_sandbox()), sort_keys=True))
    )
    opt_in = set()
    for entry in catalog["streams"]:
        root = next(m["metadata"] for m in entry["metadata"] if m["breadcrumb"] == [])
        if not root.get("selected-by-default", False):
            opt_in.add(entry["tap_stream_id"])
    rules = extractor(meltano_project, tap).get("select", ["*.*"])
    excluded = {rule[1:].removesuffix(".*") for rule in rules if rule.startswith("!")}
    assert "*.*" in rules
    assert excluded == opt_in
