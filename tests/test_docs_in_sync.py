"""README settings tables and meltano.yml settings follow each tap's `--about`."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from api_sandbox.testing import shared_sandbox
from release.release_support import script
from repo_support import ROOT, TAPS, about_json
from resilience.tap_profiles import profile
from resilience.tap_runner import discovered_catalog
from tap_amilia.tap import TapAmilia

spec = importlib.util.spec_from_file_location("sync_readmes", ROOT / "scripts" / "sync_readmes.py")
assert spec is not None
assert spec.loader is not None
sync_readmes = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sync_readmes)
hub_definitions = script("hub_definitions")
demo = script("demo")


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


def test_meltano_yml_generated_parts_are_what_make_hub_writes() -> None:
    """meltano.yml's extractors and the PostgreSQL loader's settings come from --about."""
    current = (ROOT / "meltano.yml").read_text(encoding="utf-8")
    assert hub_definitions.meltano_yml(current) == current, "meltano.yml is out of date: make hub"


def assert_declares_every_setting(declared: list[dict[str, Any]], about: dict[str, Any]) -> None:
    """Every property of an --about is declared (an object's properties as dotted names, the
    stream maps whole), with its sensitivity, and nothing else is."""
    names = {s["name"]: s for s in declared}
    properties: dict[str, dict[str, Any]] = about["settings"]["properties"]
    for name, schema in properties.items():
        nested = {n for n in names if n.startswith(f"{name}.")}
        assert name in names or nested, f"{name} is not declared"
        if name in names:
            assert names[name].get("description") == schema.get("description"), name
            if schema.get("secret"):
                assert names[name].get("sensitive") is True, name
                assert names[name]["kind"] == "password", name
    stray = {n for n in names if n.split(".")[0] not in properties}
    assert not stray, f"declared but not in --about: {sorted(stray)}"


@pytest.mark.parametrize("tap", TAPS)
def test_meltano_yml_declares_every_setting_of_the_tap(
    tap: str, meltano_project: dict[str, Any]
) -> None:
    about = about_json(tap)
    assert_declares_every_setting(extractor(meltano_project, tap)["settings"], about)
    for builtin in ("stream_maps", "flattening_enabled", "batch_config.encoding.format"):
        assert builtin in {s["name"] for s in extractor(meltano_project, tap)["settings"]}


def test_meltano_yml_declares_every_setting_of_the_postgres_loader(
    meltano_project: dict[str, Any],
) -> None:
    loader = next(
        p for p in meltano_project["plugins"]["loaders"] if p["name"] == "target-postgres"
    )
    executable = hub_definitions.POSTGRES_LOADER / loader["executable"]
    about = json.loads(
        subprocess.run(
            [str(executable), "--about", "--format=json"], capture_output=True, check=True
        ).stdout
    )
    assert_declares_every_setting(loader["settings"], about)
    declared = {s["name"]: s for s in loader["settings"]}
    for secret in ("password", "sqlalchemy_url", "ssh_tunnel.private_key"):
        assert declared[secret].get("sensitive") is True, secret
    assert {"ssl_enable", "ssl_mode", "ssh_tunnel.enable", "ssh_tunnel.host"} <= set(declared)


@pytest.mark.parametrize("tap", TAPS)
def test_each_settings_group_is_a_configuration_the_tap_accepts(
    tap: str, meltano_project: dict[str, Any], tmp_path: Path
) -> None:
    """A configuration of exactly one group's settings passes the tap's own checks (an
    offline --discover): e.g. tap-agyletime's regional_url without region."""
    offline = hub_definitions.OFFLINE_CONFIGS[tap]
    for group in extractor(meltano_project, tap)["settings_group_validation"]:
        config = {name: offline.get(name, f"{name}-value") for name in group}
        config |= {k: v for k, v in offline.items() if k.endswith("_url")}  # never the real host
        path = tmp_path / "config.json"
        path.write_text(json.dumps(config), encoding="utf-8")
        result = subprocess.run(
            [str(ROOT / ".venv" / "bin" / tap), "--config", str(path), "--discover"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, f"{tap} refuses group {group}: {result.stderr[-600:]}"


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


DOCS = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    *(ROOT / tap / "README.md" for tap in TAPS),
]
REPOSITORY_BLOB = f"{hub_definitions.repository_url()}/blob/main/"
PACKAGE_DIRS = ("singer-rest-toolkit", *TAPS, "sandbox", "target-postgres-typed", "hub")
"""A path a doc names may be relative to its package's directory (or, for the Hub's, to hub/)."""


def prose(path: Path) -> str:
    """A doc's text less a tap README's generated settings block (checked against --about)."""
    text = path.read_text(encoding="utf-8")
    return re.sub(r"<!-- about:start -->.*?<!-- about:end -->", "", text, flags=re.DOTALL)


def doc_tap(path: Path) -> str | None:
    """The tap a doc is about (tap-x/README.md, docs/tap-x.md), if one."""
    for tap in TAPS:
        if path == ROOT / tap / "README.md" or path.stem == tap:
            return tap
    return None


def test_root_readme_is_a_quick_start_under_150_lines() -> None:
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) < 150


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_file_a_doc_names_exists(path: Path) -> None:
    """Backticked paths (`scripts/demo.py`), relative links (from the doc's own folder, as
    GitHub resolves them) and links into this repository."""
    text = prose(path)
    named = re.findall(r"`([\w.-]+(?:/[\w.-]+)+\.(?:py|md|yml|yaml|toml|json|txt))`", text)
    bases = [ROOT, path.parent, *(ROOT / package for package in PACKAGE_DIRS)]
    missing = [name for name in named if not any((base / name).exists() for base in bases)]
    links = [
        path.parent / link
        for link in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
        if "://" not in link and not link.startswith("mailto:")
    ]
    links += [
        ROOT / link.removeprefix(REPOSITORY_BLOB)
        for link in re.findall(r"\]\((https://[^)#\s]+)", text)
        if link.startswith(REPOSITORY_BLOB)
    ]
    missing += [str(link) for link in links if not link.exists()]
    assert not missing, f"{path.relative_to(ROOT)} names files that do not exist: {missing}"


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_default_a_doc_states_is_the_tap_default(path: Path) -> None:
    """ "`lookback_days` (default 7)" and the like say what the tap's --about says."""
    taps = [doc_tap(path)] if doc_tap(path) else list(TAPS)
    text = prose(path)
    if path.name == "tolerance.md":
        sections = re.split(r"(?m)^## (tap-[a-z]+)\n", text)
        pairs = list(zip(sections[1::2], sections[2::2], strict=True))
    else:
        pairs = [(tap, text) for tap in taps if tap]
    checked = 0
    for tap, section in pairs:
        properties = about_json(tap)["settings"]["properties"]
        pattern = r"`(?P<name>[a-z_]+)`[^`]{0,25}?\(?default:? (?P<value>[\w.-]+)"
        for match in re.finditer(pattern, section):
            schema = properties.get(match["name"])
            if schema is None or schema.get("default") is None:
                continue
            assert match["value"] == str(schema["default"]), (
                f"{path.relative_to(ROOT)}: {tap}'s {match['name']} defaults to "
                f"{schema['default']}, not {match['value']}"
            )
            checked += 1
    if path.name in {"tap-amilia.md", "tap-agyletime.md"}:
        assert checked, "the pattern found no stated default: it no longer matches the docs"


@pytest.mark.parametrize("tap", ["tap-amilia", "tap-agyletime"])
def test_page_size_a_doc_states_is_the_tap_default(tap: str) -> None:
    description = about_json(tap)["settings"]["properties"]["page_size"]["description"]
    default = re.search(r"default: (\d+)", description)
    assert default, description
    tolerance = (ROOT / "docs" / "tolerance.md").read_text(encoding="utf-8")
    section = tolerance.split(f"## {tap}\n", 1)[1].split("\n## ", 1)[0]
    assert f"{default[1]} is asked for" in section
    stated = re.findall(r"default (\d{3,})", section)
    assert set(stated) <= {default[1]}, stated


def test_amilia_pace_window_a_doc_states_is_the_tap_pace() -> None:
    headroom_ms = TapAmilia.pace_headroom_ms
    text = (ROOT / "docs" / "tap-amilia.md").read_text(encoding="utf-8")
    assert f"sliding window of {1 + headroom_ms / 1000:g} s" in text
    assert f"{headroom_ms / 10:g}% headroom" in text
    assert f"per {1 + headroom_ms / 1000:g} s" in text


def test_readme_says_what_ci_runs_and_make_help_does_not_overclaim() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for target in re.findall(r"(?m)^make ([a-z-]+)", ci):
        assert f"make {target}" in readme, target
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "everything CI runs" not in makefile + readme
    assert ".github/workflows/test.yml" in readme


def test_readme_demo_figures_are_the_demo_and_meltano_yml(meltano_project: dict[str, Any]) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"progress every {demo.PROGRESS_INTERVAL_S} seconds" in readme
    loaders = {p["name"]: p for p in meltano_project["plugins"]["loaders"]}
    for schema in demo.TAP_SCHEMAS:
        vendor = schema.removeprefix("tap_")
        loader = loaders[f"target-duckdb-{vendor}"]
        assert loader["inherit_from"] == "target-duckdb"
        filepath = Path(loader["config"]["filepath"])
        assert filepath.name == demo.warehouse(schema).name
        assert f"`output/{filepath.name}`" in readme
    assert f"The default environment is `{meltano_project['default_environment']}`" in readme


def test_readme_select_example_names_an_environment() -> None:
    """`meltano select` ignores the default environment: without one, config validation fails
    (tests/e2e/test_environments.py runs the line)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (line,) = re.findall(r"`(\.venv/bin/meltano [^`]*select [^`]*)`", readme)
    assert "--environment=" in line


def test_pre_commit_yaml_loads() -> None:
    assert yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))["repos"]


def test_every_tap_readme_installs_the_same_way() -> None:
    sections = {
        tap: (ROOT / tap / "README.md")
        .read_text(encoding="utf-8")
        .split("## Install\n", 1)[1]
        .split("\n## ", 1)[0]
        .replace(tap, "<tap>")
        for tap in TAPS
    }
    assert len(set(sections.values())) == 1, sections
