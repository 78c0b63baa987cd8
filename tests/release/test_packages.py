"""The published packages: dependencies as imported, LICENSE, metadata, version, and the built dist.

Floors are checked by installing them: `make test-lowest` (part of `make test`) installs each
package alone at its lowest allowed dependencies and runs the toolkit's tests and each tap's
--about and offline --discover.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from release.release_support import PACKAGES, script
from repo_support import BIN, ROOT, TAPS

check_dist = script("check_dist")


def pyproject(package: str) -> dict[str, Any]:
    data: dict[str, Any] = tomllib.loads((ROOT / package / "pyproject.toml").read_text("utf-8"))
    return data


def imported_top_level_modules(package: str) -> set[str]:
    """Top-level names of the absolute imports in the package's modules (not its tests)."""
    module = package.replace("-", "_")
    names: set[str] = set()
    for path in (ROOT / package / module).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {module, "__future__"}


@pytest.mark.parametrize("package", PACKAGES)
def test_package_declares_exactly_the_distributions_it_imports(package: str) -> None:
    """An import without a declared distribution crashes a user who installs the package
    alone; a declared distribution that nothing imports is a floor nobody tests."""
    providers: dict[str, list[str]] = {
        **importlib.metadata.packages_distributions(),
        # Workspace members are installed editable: their modules are not in the mapping.
        **{p.replace("-", "_"): [p] for p in PACKAGES},
    }
    imported = set()
    for name in imported_top_level_modules(package):
        assert name in providers, f"{package} imports {name}, which no installed package provides"
        imported |= {canonicalize_name(d) for d in providers[name]}
    declared = {
        canonicalize_name(Requirement(r).name)
        for r in pyproject(package)["project"]["dependencies"]
    }
    assert imported == declared, (
        f"{package}: imported but not declared {sorted(imported - declared)}, "
        f"declared but not imported {sorted(declared - imported)}"
    )


@pytest.mark.parametrize("package", PACKAGES)
def test_package_license_file_is_the_repository_license(package: str) -> None:
    root_license = (ROOT / "LICENSE").read_bytes()
    assert root_license.lstrip().startswith(b"Apache License")
    assert (ROOT / package / "LICENSE").read_bytes() == root_license, (
        f"{package}/LICENSE differs: cp LICENSE {package}/LICENSE"
    )


@pytest.mark.parametrize("package", PACKAGES)
def test_package_metadata_names_license_authors_urls_and_one_version_source(
    package: str,
) -> None:
    project = pyproject(package)["project"]
    repository = check_dist.repository_url()
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    assert project["authors"]
    assert not [c for c in project.get("classifiers", []) if c.startswith("License ::")], (
        "license classifiers and a license expression together are refused by PyPI"
    )
    for label in check_dist.URL_LABELS:
        assert project["urls"][label].startswith(repository), label
    assert project["dynamic"] == ["version"]
    assert "version" not in project
    version_path = pyproject(package)["tool"]["hatch"]["version"]["path"]
    assert version_path == f"{package.replace('-', '_')}/__init__.py"
    version = check_dist.source_version(package)
    assert importlib.metadata.version(package) == version, "run `uv sync` after a version bump"
    changelog = (ROOT / package / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## [{version}]" in changelog, f"{package}/CHANGELOG.md has no section for {version}"


def test_taps_require_the_toolkit_version_of_the_workspace() -> None:
    toolkit = check_dist.source_version("singer-rest-toolkit")
    for package in PACKAGES[1:]:
        for raw in pyproject(package)["project"]["dependencies"]:
            requirement = Requirement(raw)
            if requirement.name == "singer-rest-toolkit":
                assert requirement.specifier.contains(toolkit), (package, raw)


@pytest.mark.release
def test_built_sdists_and_wheels_pass_twine_and_hold_license_and_metadata(
    built_dist: Path,
) -> None:
    artifacts = sorted(built_dist.glob("*.whl")) + sorted(built_dist.glob("*.tar.gz"))
    assert len(artifacts) == 2 * len(PACKAGES), artifacts
    assert check_dist.check(built_dist) == []
    result = subprocess.run(
        [str(BIN / "twine"), "check", "--strict", *map(str, artifacts)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.release
def test_check_dist_finds_a_wheel_without_its_license(tmp_path: Path, built_dist: Path) -> None:
    """The checker itself fails on what it is for (else a green `make dist` proves nothing)."""
    original = next(built_dist.glob("tap_amilia-*.whl"))
    for artifact in [*built_dist.glob("*.whl"), *built_dist.glob("*.tar.gz")]:
        (tmp_path / artifact.name).write_bytes(artifact.read_bytes())
    damaged = tmp_path / original.name
    with zipfile.ZipFile(original) as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            if not item.filename.endswith("licenses/LICENSE"):
                target.writestr(item, source.read(item))
    problems = check_dist.check(tmp_path)
    stem = original.name.split("-py3")[0]
    assert problems == [f"{original.name}: no {stem}.dist-info/licenses/LICENSE"]


def test_release_workflow_publishes_each_package_on_its_tag_with_trusted_publishing() -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text("utf-8"))
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["push"]["tags"] == [f"{p}-v*" for p in PACKAGES]
    build, publish = workflow["jobs"]["build"], workflow["jobs"]["publish"]
    assert any(step.get("run") == "make dist" for step in build["steps"])
    assert publish["permissions"] == {"id-token": "write"}
    assert publish["steps"][-1]["uses"].startswith("pypa/gh-action-pypi-publish@")
    assert "password" not in json.dumps(publish), "trusted publishing needs no token"


@pytest.mark.parametrize(
    "doc", ["README.md", "docs/releasing.md", *(f"{tap}/README.md" for tap in TAPS)]
)
def test_docs_name_only_the_repository_of_pyproject(doc: str) -> None:
    """The repository is named once (root pyproject.toml); the docs' links follow it."""
    repository = check_dist.repository_url()
    owner_repo = repository.removeprefix("https://github.com/")
    text = (ROOT / doc).read_text(encoding="utf-8")
    for url in re.findall(r"https://(?:raw\.githubusercontent|github)\.com/[^\s)`'\"]+", text):
        if url.startswith("https://github.com/<you>/"):
            continue  # the contributor's own fork of the Hub
        assert url.split(".com/", 1)[1].startswith(f"{owner_repo}/") or url == repository, url
