"""hub/: the Meltano Hub definitions, checked as the Hub's CI checks its own, and kept in step.

The Hub's rules are stated here in our own words (its schemas and lint configuration are not
ours to copy): the keys a definition and a setting may have, the required keys, the enums of
capabilities, setting kinds, maintenance status and quality, the name equal to its folder,
the default-variant and maintainer entries, the logo, and YAML style equivalent to the Hub's
yamllint configuration. With HUB_SCHEMAS_DIR pointing at a copy of the Hub repository's
`schemas/` directory, the definitions are also validated with its original JSON schemas.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_docs_in_sync import extractor
from yamllint import linter
from yamllint.config import YamlLintConfig

from release.release_support import HUB, script
from repo_support import ROOT, TAPS

hub_definitions = script("hub_definitions")
VARIANT: str = hub_definitions.variant()
EXTRACTORS: Path = HUB / "_data" / "meltano" / "extractors"

# The Hub's extractor definition schema: the keys it allows, and those it requires.
DEFINITION_KEYS = {
    "name", "namespace", "variant", "label", "description", "logo_url", "pip_url",
    "executable", "repo", "docs", "hidden", "python", "settings", "settings_group_validation",
    "commands", "capabilities", "metadata", "schema", "select", "maintenance_status",
    "quality", "domain_url", "keywords", "requires", "definition", "next_steps",
    "settings_preamble", "usage", "prereq", "supported_python_versions", "log_parser",
}  # fmt: skip
REQUIRED_KEYS = {"name", "namespace", "variant", "quality"}
STRING_KEYS = {
    "name", "namespace", "variant", "label", "description", "logo_url", "pip_url",
    "executable", "repo", "docs", "python", "domain_url", "log_parser",
}  # fmt: skip
SETTING_KEYS = {
    "name", "aliases", "label", "value", "placeholder", "kind", "description", "tooltip",
    "documentation", "env", "value_processor", "value_post_processor", "oauth", "options",
    "docs", "hidden", "sensitive",
}  # fmt: skip
CAPABILITIES = {
    "properties", "catalog", "discover", "state", "about", "stream-maps", "schema-flattening",
    "activate-version", "batch", "test", "log-based", "structured-logging",
}  # fmt: skip
KINDS = {
    "oauth", "hidden", "password", "date_iso8601", "file", "email", "integer", "options",
    "object", "array", "boolean", "string", "decimal",
}  # fmt: skip
MAINTENANCE_STATUSES = {"active", "beta", "development", "inactive", "unknown"}
QUALITIES = {"gold", "silver", "bronze", "unknown"}
# YAML style the Hub lints its data with (its .yamllint.yaml): yamllint's defaults, plus sorted
# keys, no non-empty flow mappings, two-space indentation with sequences flush under their key;
# no document start, line length, trailing-space or truthy rules. Written once, as the `-d`
# argument of .pre-commit-config.yaml's yamllint hook (which lints hub/ before each commit).
PRE_COMMIT = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
(YAMLLINT_ARGS,) = [
    hook["args"]
    for repo in PRE_COMMIT["repos"]
    for hook in repo["hooks"]
    if hook["id"] == "yamllint"
]
YAMLLINT = YamlLintConfig(content=YAMLLINT_ARGS[YAMLLINT_ARGS.index("-d") + 1])


def definition_path(tap: str) -> Path:
    return EXTRACTORS / tap / f"{VARIANT}.yml"


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def generated() -> dict[Path, str]:
    """What `make hub` writes (it runs each tap's --about and an offline --discover)."""
    files: dict[Path, str] = hub_definitions.files()
    return files


def test_hub_folder_is_what_make_hub_writes(generated: dict[Path, str]) -> None:
    present = {p.relative_to(HUB): p.read_text("utf-8") for p in HUB.rglob("*") if p.is_file()}
    assert sorted(present) == sorted(generated), "run `make hub`"
    for path, content in generated.items():
        assert present[path] == content, f"hub/{path} is out of date: run `make hub`"


def hub_rule_violations(plugin: dict[str, Any], folder: str) -> list[str]:
    """What the Hub's checks would refuse in one extractor definition."""
    problems = [f"unknown key {k}" for k in sorted(set(plugin) - DEFINITION_KEYS)]
    problems += [f"missing {k}" for k in sorted(REQUIRED_KEYS - set(plugin))]
    problems += [
        f"{k} is not a string" for k in STRING_KEYS & set(plugin) if not isinstance(plugin[k], str)
    ]
    if plugin.get("name") != folder:
        problems.append(f"name {plugin.get('name')!r} is not its folder {folder!r}")
    problems += [f"capability {c}" for c in plugin.get("capabilities", []) if c not in CAPABILITIES]
    if plugin.get("maintenance_status", "unknown") not in MAINTENANCE_STATUSES:
        problems.append(f"maintenance_status {plugin['maintenance_status']}")
    if plugin.get("quality") not in QUALITIES:
        problems.append(f"quality {plugin.get('quality')}")
    if not all(isinstance(k, str) for k in plugin.get("keywords", [])):
        problems.append("keywords are not strings")
    if not all(re.fullmatch(r"3\.\d+", v) for v in plugin.get("supported_python_versions", [])):
        problems.append("supported_python_versions are not 3.x")
    if not re.fullmatch(r"https?://[^\s/]+\S*", plugin.get("domain_url", "https://x")):
        problems.append("domain_url is not a URL")
    names = []
    for setting in plugin.get("settings", []):
        name = setting.get("name")
        names.append(name)
        problems += [
            f"setting {name}: unknown key {k}" for k in sorted(set(setting) - SETTING_KEYS)
        ]
        if not isinstance(name, str):
            problems.append(f"setting without a name: {setting}")
        if setting.get("kind", "string") not in KINDS:
            problems.append(f"setting {name}: kind {setting['kind']}")
        for option in setting.get("options", []):
            if set(option) - {"label", "value"} or not all(
                isinstance(v, str) for v in option.values()
            ):
                problems.append(f"setting {name}: option {option}")
    if len(names) != len(set(names)):
        problems.append("a setting is declared twice")
    for group in plugin.get("settings_group_validation", []):
        problems += [f"group setting {n} is not a setting" for n in group if n not in names]
    return problems


@pytest.mark.parametrize("tap", TAPS)
def test_definition_follows_the_hub_rules(tap: str) -> None:
    path = definition_path(tap)
    assert path.is_file(), f"no {path.relative_to(HUB)}"
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    assert hub_rule_violations(load(path), path.parent.name) == []


def test_hub_rule_check_refuses_what_the_hub_refuses() -> None:
    """The rules above catch the mistakes the Hub's CI catches (else they prove nothing)."""
    good = load(definition_path("tap-amilia"))
    assert hub_rule_violations(good, "tap-amilia") == []
    bad = {
        **good,
        "extra": 1,
        "quality": "platinum",
        "capabilities": [*good["capabilities"], "teleport"],
        "settings": [*good["settings"], {"name": "x", "kind": "secret", "secret": True}],
    }
    del bad["namespace"]
    assert sorted(hub_rule_violations(bad, "tap-other")) == sorted(
        [
            "unknown key extra",
            "missing namespace",
            "name 'tap-amilia' is not its folder 'tap-other'",
            "capability teleport",
            "quality platinum",
            "setting x: unknown key secret",
            "setting x: kind secret",
        ]
    )


@pytest.mark.parametrize(
    "path",
    sorted(p.relative_to(HUB) for p in HUB.rglob("*.yml")),
    ids=str,
)
def test_yaml_passes_the_hub_yamllint_rules(path: Path) -> None:
    problems = list(linter.run((HUB / path).read_text(encoding="utf-8"), YAMLLINT, str(path)))
    assert [f"{p.line}:{p.column} {p.message} ({p.rule})" for p in problems] == []


def test_yamllint_rules_refuse_unsorted_keys_and_flow_mappings() -> None:
    text = "name: tap-x\nlabel: X\nsettings:\n- {name: a, kind: string}\n"
    rules = {p.rule for p in linter.run(text, YAMLLINT)}
    assert rules == {"key-ordering", "braces"}


def test_default_variant_maintainer_and_logo_entries() -> None:
    default_variants = load(HUB / "_data" / "default_variants.yml")
    assert default_variants == {"extractors": dict.fromkeys(TAPS, VARIANT)}
    maintainers = load(HUB / "_data" / "maintainers.yml")
    assert set(maintainers) == {VARIANT}
    assert maintainers[VARIANT]["name"] == VARIANT
    assert maintainers[VARIANT]["label"]
    assert hub_definitions.repository_url().startswith(maintainers[VARIANT]["url"] + "/")
    for tap in TAPS:
        plugin = load(definition_path(tap))
        assert plugin["variant"].lower() in maintainers
        logo_url = plugin["logo_url"]
        assert logo_url.startswith("/assets/logos/extractors/"), logo_url
        logo = HUB / "static" / logo_url.lstrip("/")
        assert logo.is_file(), logo_url
        assert logo.read_text(encoding="utf-8").startswith("<svg ")


@pytest.mark.parametrize("tap", TAPS)
def test_definition_is_in_step_with_meltano_yml(tap: str, meltano_project: dict[str, Any]) -> None:
    """The Hub user and this project's meltano.yml get the same plugin: label, description,
    capabilities, settings groups, select and every setting (the SDK's included) alike; only
    where it installs from differs."""
    plugin = load(definition_path(tap))
    local = extractor(meltano_project, tap)
    for key in ("namespace", "label", "description", "executable", "settings_group_validation"):
        assert plugin[key] == local[key], key
    assert sorted(plugin["capabilities"]) == sorted(local["capabilities"])
    assert plugin.get("select", ["*.*"]) == local.get("select", ["*.*"])
    assert plugin.get("select", ["*.*"])[0] == "*.*"
    assert plugin["settings"] == local["settings"]
    assert local["pip_url"] == f"-e ./singer-rest-toolkit -e ./{tap}"


@pytest.mark.parametrize(
    ("tap", "settings"),
    [
        ("tap-amperity", ["tenant_id", "client_id"]),
        ("tap-agyletime", ["access_key_id", "subdomain"]),
        ("tap-amilia", ["organization", "username"]),
    ],
)
def test_identifiers_are_not_secrets(tap: str, settings: list[str]) -> None:
    """The Hub's generator makes any setting named like id/key/token a secret; ours follow
    the tap's --about, where these are not."""
    by_name = {s["name"]: s for s in load(definition_path(tap))["settings"]}
    for name in settings:
        assert by_name[name]["kind"] == "string", name
        assert "sensitive" not in by_name[name], name


@pytest.mark.parametrize("tap", TAPS)
def test_definition_validates_with_the_hub_original_schemas(tap: str) -> None:
    schemas_dir = os.environ.get("HUB_SCHEMAS_DIR")
    if not schemas_dir:
        pytest.skip("HUB_SCHEMAS_DIR is not set: the Hub's original JSON schemas are not here")
    from jsonschema import Draft7Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT7

    root = Path(schemas_dir)
    resources = []
    for folder in ("common", "plugin_definitions"):
        for source in sorted((root / folder).glob("*.schema.json")):
            schema = json.loads(source.read_text(encoding="utf-8"))
            resources.append(
                (schema["$id"], Resource.from_contents(schema, default_specification=DRAFT7))
            )
    schema = json.loads(
        (root / "plugin_definitions" / "extractors.schema.json").read_text(encoding="utf-8")
    )
    validator = Draft7Validator(schema, registry=Registry().with_resources(resources))
    errors = [e.message for e in validator.iter_errors(load(definition_path(tap)))]
    assert errors == []


HUB_DEFAULT_VARIANTS = """extractors:
  tap-abcfinancial: dmzobel
  tap-agilecrm: dreamdata-io
  tap-amazon-ads: singer-io
  tap-zendesk: singer-io
loaders:
  target-duckdb: jwills
  target-postgres: meltanolabs
"""
HUB_MAINTAINERS = """adswerve:
  label: Adswerve
  name: adswerve
  url: https://adswerve.com/
zzz-last:
  label: Last one
  name: zzz-last
  url: https://example.com/zzz
"""


def test_merge_into_a_hub_clone_adds_ours_and_keeps_every_other_line(tmp_path: Path) -> None:
    """`hub_definitions.py --into CLONE` adds our files and merges our entries into the Hub's
    shared files: nothing of theirs is replaced, and a second merge changes nothing."""
    clone = tmp_path / "hub"
    (clone / "_data" / "meltano").mkdir(parents=True)
    (clone / "_data" / "default_variants.yml").write_text(HUB_DEFAULT_VARIANTS, encoding="utf-8")
    (clone / "_data" / "maintainers.yml").write_text(HUB_MAINTAINERS, encoding="utf-8")

    hub_definitions.merge_into(clone)
    variants_text = (clone / "_data" / "default_variants.yml").read_text("utf-8")
    maintainers_text = (clone / "_data" / "maintainers.yml").read_text("utf-8")
    ours = {f"  {tap}: {VARIANT}" for tap in TAPS}
    assert [line for line in variants_text.splitlines() if line not in ours] == (
        HUB_DEFAULT_VARIANTS.splitlines()
    )
    variants = yaml.safe_load(variants_text)
    assert list(variants["extractors"]) == sorted(variants["extractors"])
    assert variants["extractors"] == {
        **yaml.safe_load(HUB_DEFAULT_VARIANTS)["extractors"],
        **dict.fromkeys(TAPS, VARIANT),
    }
    assert variants["loaders"] == yaml.safe_load(HUB_DEFAULT_VARIANTS)["loaders"]
    maintainers = yaml.safe_load(maintainers_text)
    assert list(maintainers) == ["adswerve", VARIANT, "zzz-last"]
    assert maintainers[VARIANT] == load(HUB / "_data" / "maintainers.yml")[VARIANT]
    for path, text in (
        ("default_variants.yml", variants_text),
        ("maintainers.yml", maintainers_text),
    ):
        problems = list(linter.run(text, YAMLLINT, path))
        assert [f"{p.line}:{p.column} {p.message}" for p in problems] == [], path
    for tap in TAPS:
        definition = clone / "_data" / "meltano" / "extractors" / tap / f"{VARIANT}.yml"
        assert definition.read_text("utf-8") == definition_path(tap).read_text("utf-8")

    hub_definitions.merge_into(clone)
    assert (clone / "_data" / "default_variants.yml").read_text("utf-8") == variants_text
    assert (clone / "_data" / "maintainers.yml").read_text("utf-8") == maintainers_text
