"""An API that cannot be reached: one clear line naming the URL setting, non-zero exit, no traceback."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from repo_support import BIN
from resilience.test_bad_config import GOOD, config_file

URL_SETTINGS = {
    "tap-amilia": ("api_url",),
    "tap-amperity": ("api_url", "token_url"),
    "tap-agyletime": ("tenant_url", "regional_url"),
}


@pytest.mark.parametrize("tap", sorted(GOOD))
def test_unreachable_api_fails_in_one_line_naming_the_url_setting(tap: str, tmp_path: Path) -> None:
    # GOOD points every URL at 127.0.0.1:9, a port nothing listens on.
    config = config_file(tmp_path, {**GOOD[tap], "max_retries": 2})
    result = subprocess.run(
        [str(BIN / tap), "--config", config],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    last = [line for line in result.stderr.splitlines() if line.strip()][-1]
    assert "127.0.0.1:9" in last, last
    assert any(setting in last for setting in URL_SETTINGS[tap]), last
    assert len(last) < 400
