"""The tenants file: the project's own loads; each kind of bad entry stops the load with one
line naming the file, the entry and the field; the Dagster definitions load from it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from repo_support import BIN, ROOT
from singer_orchestration.definitions import build_definitions
from singer_orchestration.tenants import TenantsFileError, load_tenants, project_taps

TAPS = project_taps(ROOT / "meltano.yml")


def named_variables(document: dict[str, Any]) -> dict[str, str]:
    """A value for every environment variable the file names."""
    return {
        variable: "value"
        for entries in document["tenants"].values()
        for entry in entries
        for variable in (entry.get("secrets") or {}).values()
    }


def project_document() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "tenants.yml").read_text(encoding="utf-8"))
    return document


def test_the_project_tenants_file_loads_with_two_tenants_per_tap() -> None:
    environ = named_variables(project_document())
    tenants = load_tenants(ROOT / "tenants.yml", TAPS, environ)
    assert sorted(tenants) == ["tap-agyletime", "tap-amilia", "tap-amperity"]
    for tap, entries in tenants.items():
        assert len(entries) >= 2, tap
        schemas = {tenant.load_schema for tenant in entries}
        assert len(schemas) == len(entries)
        assert all(schema.startswith(tap.replace("-", "_") + "_") for schema in schemas)
    # Secrets are read from the environment when a run needs them, never stored.
    forest = tenants["tap-amilia"][0]
    assert (
        forest.secret_values({**environ, "AMILIA_FOREST_EXPLORERS_PASSWORD": "p"})["password"]
        == "p"
    )
    assert "password" not in forest.settings


def broken(change: Any) -> dict[str, Any]:
    document = project_document()
    change(document["tenants"])
    return document


BAD_ENTRIES = [
    (
        "unknown tap",
        lambda t: t.update({"tap-nowhere": [{"slug": "x"}]}),
        ["tap-nowhere", "unknown tap"],
    ),
    (
        "duplicate slug",
        lambda t: t["tap-amperity"].append(dict(t["tap-amperity"][0])),
        ["tap-amperity/acme", "slug", "duplicate"],
    ),
    (
        "missing secret variable",
        lambda t: t["tap-agyletime"][1]["secrets"].update(access_key_secret="NOT_SET_ANYWHERE"),
        ["tap-agyletime/umbrella", "secrets.access_key_secret", "NOT_SET_ANYWHERE"],
    ),
    (
        "a setting the tap does not have",
        lambda t: t["tap-amilia"][0]["settings"].update(organisation="8008"),
        ["tap-amilia/forest_explorers", "settings.organisation", "not a setting of tap-amilia"],
    ),
    (
        "a secret written as a setting",
        lambda t: t["tap-amilia"][1]["settings"].update(password="hunter2"),
        ["tap-amilia/lakeside_recreation", "settings.password", "secrets"],
    ),
    (
        "a slug that cannot be a schema name",
        lambda t: t["tap-amperity"][1].update(slug="Globex Corp"),
        ["tap-amperity entry 2", "slug"],
    ),
    (
        "an unknown field",
        lambda t: t["tap-amperity"][0].update(password_env="X"),
        ["tap-amperity/acme", "password_env", "unknown field"],
    ),
]


@pytest.mark.parametrize(
    ("change", "named"), [case[1:] for case in BAD_ENTRIES], ids=[case[0] for case in BAD_ENTRIES]
)
def test_a_bad_entry_is_one_line_naming_entry_and_field(
    tmp_path: Path, change: Any, named: list[str]
) -> None:
    document = broken(change)
    path = tmp_path / "tenants.yml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    environ = {k: v for k, v in named_variables(document).items() if k != "NOT_SET_ANYWHERE"}
    with pytest.raises(TenantsFileError) as caught:
        load_tenants(path, TAPS, environ)
    line = str(caught.value)
    assert "\n" not in line
    assert line.startswith("tenants.yml: ")
    for part in named:
        assert part in line, line
    assert "hunter2" not in line


def test_a_file_that_is_not_yaml_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "tenants.yml"
    path.write_text("tenants:\n  tap-amilia: [\n", encoding="utf-8")
    with pytest.raises(TenantsFileError, match=r"^tenants.yml: not valid YAML at line \d+$"):
        load_tenants(path, TAPS, {})


def test_definitions_have_an_asset_and_a_history_asset_per_tap(tmp_path: Path) -> None:
    environ = named_variables(project_document())
    defs = build_definitions(ROOT / "tenants.yml", ROOT, tmp_path, environ)
    for tap in ("tap_amilia", "tap_amperity", "tap_agyletime"):
        asset = defs.get_assets_def(tap)
        assert asset.partitions_def is not None
        assert len(asset.partitions_def.get_partition_keys()) == 2
        assert asset.op.pool == tap.removeprefix("tap_")
        history = defs.get_assets_def(f"{tap}_history")
        assert history.op.pool == tap.removeprefix("tap_")
    schedules = {s.name for s in defs.schedules or []}
    assert schedules == {
        f"{tap}_every_tenant" for tap in ("tap_amilia", "tap_amperity", "tap_agyletime")
    }


def test_dagster_validates_the_code_location_and_refuses_a_bad_file(tmp_path: Path) -> None:
    """`dagster definitions validate`, as a deployment loads the code location."""
    environ = {**os.environ, **named_variables(project_document()), "DAGSTER_HOME": str(tmp_path)}
    command = [
        str(BIN / "dagster"),
        "definitions",
        "validate",
        "-m",
        "singer_orchestration.project",
    ]
    good = subprocess.run(
        command, env=environ, capture_output=True, text=True, timeout=180, check=False
    )
    assert good.returncode == 0, good.stderr[-2000:]
    bad = tmp_path / "tenants.yml"
    bad.write_text(yaml.safe_dump(broken(lambda t: t.update({"tap-nowhere": [{"slug": "x"}]}))))
    refused = subprocess.run(
        command,
        env={**environ, "TENANTS_FILE": str(bad)},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert refused.returncode != 0
    assert "tenants.yml: tap-nowhere: unknown tap" in refused.stdout + refused.stderr
