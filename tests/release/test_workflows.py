"""The contributor's CI: the test workflow, the release workflow's gate, pinned actions,
Dependabot and pre-commit."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from repo_support import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
"""owner/repo[/path]@<full commit SHA>."""
VERSION_COMMENT = re.compile(r"uses: (\S+)\s+# v?\d+(\.\d+)*\s*$")


def load(path: Path) -> dict[Any, Any]:
    workflow: dict[Any, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return workflow


def needs(job: dict[str, Any]) -> set[str]:
    value = job.get("needs", [])
    return {value} if isinstance(value, str) else set(value)


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yml")), ids=lambda p: p.name)
def test_every_action_is_pinned_by_commit_with_its_version(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for line in (line.strip() for line in text.splitlines()):
        if not line.lstrip("- ").startswith("uses:"):
            continue
        target = line.lstrip("- ").removeprefix("uses:").split("#")[0].strip()
        if target.startswith("./"):
            continue  # a workflow of this repository
        assert PINNED.match(target), f"{path.name}: {target} is not pinned by a full commit SHA"
        assert VERSION_COMMENT.search(line.lstrip("- ")), f"{path.name}: {line} has no # vX.Y.Z"


def test_test_workflow_runs_ci_on_pushes_and_pull_requests_with_postgresql() -> None:
    workflow = load(WORKFLOWS / "test.yml")
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert {"push", "pull_request", "workflow_call"} <= set(triggers)
    (job,) = workflow["jobs"].values()
    assert any(step.get("run") == "bash .ci/run" for step in job["steps"])
    postgres = job["services"]["postgres"]
    assert postgres["image"] == "postgres:15"
    assert "5432:5432" in postgres["ports"]
    assert job["env"]["PGHOST"] == "127.0.0.1"


def test_release_publishes_only_what_passed_the_tests() -> None:
    """publish needs build, build needs the test workflow run on the tagged commit."""
    jobs = load(WORKFLOWS / "release.yml")["jobs"]
    assert jobs["test"]["uses"] == "./.github/workflows/test.yml"

    def upstream(name: str) -> set[str]:
        found = set()
        for parent in needs(jobs[name]):
            found |= {parent, *upstream(parent)}
        return found

    assert "test" in upstream("publish")
    assert "test" in upstream("build")


def test_dependabot_updates_the_actions_and_the_lock() -> None:
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text(encoding="utf-8"))
    ecosystems = {update["package-ecosystem"] for update in config["updates"]}
    assert ecosystems == {"github-actions", "uv"}


def test_pre_commit_runs_ruff_mypy_and_the_hub_yaml_checks() -> None:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    hooks = {hook["id"] for repo in config["repos"] for hook in repo["hooks"]}
    assert {"ruff-check", "ruff-format", "mypy", "yamllint", "check-yaml"} <= hooks
    assert {"check-github-workflows", "check-dependabot"} <= hooks
    for repo in config["repos"]:
        if repo["repo"] != "local":
            assert re.fullmatch(r"[0-9a-f]{40}", repo["rev"]), f"{repo['repo']} is not pinned"


def test_pinned_workflow_check_refuses_a_tag() -> None:
    """The pin check above catches a tag or a branch (else it proves nothing)."""
    assert not PINNED.match("actions/checkout@v4")
    assert not PINNED.match("pypa/gh-action-pypi-publish@release/v1")
    assert PINNED.match("actions/checkout@" + "0" * 40)
