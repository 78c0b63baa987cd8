"""Check that an installed tap runs: `--about` and an offline `--discover`.

Run with the Python of the environment the tap is installed in (`make test-sdk-range`
installs each tap alone, at its lowest and at its highest allowed dependencies):

    .sdk-range/lowest-direct/tap-amilia/bin/python scripts/smoke_tap.py tap-amilia

Every URL setting points at 127.0.0.1 port 9 (nothing listens there), so the check needs
no network: a tap whose discovery asks the API (tap-amperity samples profile attributes)
must still produce its catalog without it. Exits 1 with the reason on any failure.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

NOWHERE = "http://127.0.0.1:9"
OFFLINE_CONFIGS: dict[str, dict[str, Any]] = {
    "tap-amilia": {"organization": "8008", "token": "not-a-token", "api_url": f"{NOWHERE}/api/v3"},
    "tap-amperity": {
        "tenant_id": "offline",
        "access_token": "not-a-token",
        "api_url": f"{NOWHERE}/api",
    },
    "tap-agyletime": {
        "subdomain": "offline",
        "region": "eu",
        "access_key_id": "offline-id",
        "access_key_secret": "not-a-secret",
        "tenant_url": f"{NOWHERE}/tenant/api",
        "regional_url": f"{NOWHERE}/regional",
    },
}
CAPABILITIES = {"about", "catalog", "discover", "state"}


def run(executable: Path, *args: str) -> dict[str, Any]:
    """The JSON the tap prints for ``args``."""
    result = subprocess.run(
        [str(executable), *args], capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        msg = f"{executable.name} {' '.join(args)} exited {result.returncode}: {result.stderr[-2000:]}"
        raise SystemExit(msg)
    output: dict[str, Any] = json.loads(result.stdout)
    return output


def main(tap: str) -> int:
    """Smoke-test ``tap`` as installed beside this Python."""
    executable = Path(sys.executable).parent / tap
    about = run(executable, "--about", "--format=json")
    missing = CAPABILITIES - set(about["capabilities"])
    if about["name"] != tap or missing:
        msg = f"{tap} --about: name {about['name']!r}, missing capabilities {sorted(missing)}"
        raise SystemExit(msg)
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.json"
        config.write_text(json.dumps(OFFLINE_CONFIGS[tap]), encoding="utf-8")
        catalog = run(executable, "--config", str(config), "--discover")
    streams = [entry["tap_stream_id"] for entry in catalog["streams"]]
    if not streams:
        msg = f"{tap} --discover found no stream"
        raise SystemExit(msg)
    print(
        f"{tap} {about['version']} (singer-sdk {about['sdk_version']}): "
        f"--about and offline --discover ({len(streams)} streams) OK"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
