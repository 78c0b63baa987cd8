"""`make orchestrate`'s Dagster UI in a real browser (Debian's chromium, headless, through
Selenium and chromium-driver): the tap assets, their tenant partitions, and the record
counts of the last materialization.

Skipped only where chromium cannot be installed; never when CI is set (.ci/run installs it).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

from repo_support import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("dagster-ui")]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
        if os.environ.get("CI"):
            pytest.fail(
                "CI needs chromium and chromium-driver (apt-get install chromium chromium-driver)"
            )
        pytest.skip(
            "chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`scripts/orchestrate.py` (what `make orchestrate` runs) on free ports, after one tenant
    of tap-amperity was materialized into the same Dagster home."""
    home = tmp_path_factory.mktemp("dagster-home")
    sandbox_port, ui_port = free_port(), free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "MELTANO_STATE_BACKEND_URI": f"file://{home}/state",
        "TENANTS_WAREHOUSE_DIR": str(home / "warehouse"),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "scripts" / "orchestrate.py"),
            "--port",
            str(sandbox_port),
            "--ui-port",
            str(ui_port),
            "--scale",
            "0.02",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{ui_port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{url}/server_info", timeout=5):
                    break
            except OSError:
                assert process.poll() is None, "orchestrate exited"
                assert time.monotonic() < deadline, "the Dagster UI did not come up"
                time.sleep(1)
        launched = subprocess.run(  # one tenant, into the Dagster home the UI reads
            [
                str(ROOT / ".venv" / "bin" / "dagster"),
                "asset",
                "materialize",
                "-m",
                "singer_orchestration.project",
                "--select",
                "tap_amperity",
                "--partition",
                "acme",
            ],
            env={**env, **orchestrate_env(sandbox_port)},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert launched.returncode == 0, launched.stderr[-3000:]
        yield url
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)


def orchestrate_env(sandbox_port: int) -> dict[str, str]:
    """What orchestrate.py gives `dagster dev`: the tenants file at the sandbox's port and
    the sandbox's credentials in the variables it names."""
    import importlib.util
    import tempfile

    spec = importlib.util.spec_from_file_location(
        "tenants_demo", ROOT / "scripts" / "tenants_demo.py"
    )
    assert spec is not None
    assert spec.loader is not None
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    directory = Path(tempfile.mkdtemp())
    text = demo.TENANTS_FILE.read_text(encoding="utf-8").replace(
        demo.SANDBOX_HOST, f"127.0.0.1:{sandbox_port}"
    )
    path = directory / "tenants.yml"
    path.write_text(text, encoding="utf-8")
    return {**demo.sandbox_secrets(path), "TENANTS_FILE": str(path)}


def page_text(browser: webdriver.Chrome, url: str, *wanted: str) -> str:
    """The page's visible text once every ``wanted`` string is in it."""
    browser.get(url)
    WebDriverWait(browser, 90).until(
        lambda driver: all(w in driver.find_element("tag name", "body").text for w in wanted)
    )
    return str(browser.find_element("tag name", "body").text)


def test_the_ui_shows_the_tap_assets(browser: webdriver.Chrome, ui: str) -> None:
    text = page_text(browser, f"{ui}/assets", "tap_amilia", "tap_amperity", "tap_agyletime")
    assert "tap_amperity_history" in text


def test_the_ui_shows_the_tenant_partitions(browser: webdriver.Chrome, ui: str) -> None:
    text = page_text(browser, f"{ui}/assets/tap_amperity?view=partitions", "acme", "globex")
    assert "acme" in text


def test_the_ui_shows_the_last_materialization_record_counts(
    browser: webdriver.Chrome, ui: str
) -> None:
    text = page_text(
        browser, f"{ui}/assets/tap_amperity?view=events", "records", "rate_limited_429"
    )
    assert "requests" in text
    assert "tap-amperity/acme" in text
