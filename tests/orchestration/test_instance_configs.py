"""The Dagster instance configurations the docs give: the PostgreSQL storage really stores
runs (dagster-postgres against the local server), the Kubernetes run launcher's settings
pass dagster-k8s's own schema (no cluster here: launching a pod is not tested)."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import psycopg
import pytest
import yaml
from dagster._config import validate_config

from repo_support import ROOT

pytestmark = pytest.mark.xdist_group("dagster-postgres")
DATABASE = "singer_taps_dagster_test"


@pytest.fixture
def postgres_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    try:
        with psycopg.connect(
            host="127.0.0.1",
            dbname="postgres",
            user=os.environ.get("PGUSER", "root"),
            autocommit=True,
        ) as db:
            db.execute(f"drop database if exists {DATABASE} with (force)")
            db.execute(f"create database {DATABASE}")
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no PostgreSQL on 127.0.0.1: {exc}")
    for name, value in {
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_USER": os.environ.get("PGUSER", "root"),
        "DAGSTER_PG_PASSWORD": "unused-with-trust-auth",
        "DAGSTER_PG_DB": DATABASE,
    }.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "dagster.yaml").write_text(
        (ROOT / "orchestration" / "dagster-postgres.yaml").read_text(encoding="utf-8")
    )
    return tmp_path


@dg.asset
def probe() -> int:
    return 1


def test_dagster_postgres_storage_keeps_runs_and_pools(postgres_home: Path) -> None:
    with dg.DagsterInstance.from_config(str(postgres_home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        instance.event_log_storage.set_concurrency_slots("amilia", 2)
        result = dg.materialize([probe], instance=instance)
        assert result.success
    with dg.DagsterInstance.from_config(str(postgres_home)) as again:
        assert again.get_run_by_id(result.run_id) is not None
        assert again.event_log_storage.get_concurrency_info("amilia").slot_count == 2


def test_kubernetes_run_launcher_config_passes_dagster_k8s_schema() -> None:
    from dagster_k8s import K8sRunLauncher

    config = yaml.safe_load((ROOT / "orchestration" / "k8s" / "dagster.yaml").read_text())
    launcher = config["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_k8s", "K8sRunLauncher")
    checked = validate_config(K8sRunLauncher.config_type(), launcher["config"])  # type: ignore[no-untyped-call]
    assert checked.success, checked.errors
