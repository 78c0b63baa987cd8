"""`make orchestrate`: the sandbox, then the Dagster UI (`dagster dev`) on localhost with the
project's tenants as partitions; Ctrl-C stops both."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from api_sandbox.testing import SandboxStartError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from tenants_demo import dagster_home, sandbox_tenants  # noqa: E402


def main() -> int:
    """Serve the Dagster UI against the sandbox until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8765, help="the sandbox's port")
    parser.add_argument("--ui-port", type=int, default=3000)
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    home = dagster_home()
    try:
        with sandbox_tenants(args.port, args.scale) as (sandbox, tenants_file):
            env = {**os.environ, "TENANTS_FILE": str(tenants_file), "DAGSTER_HOME": str(home)}
            print(
                f"orchestrate: sandbox at {sandbox.base_url}; Dagster UI at "
                f"http://127.0.0.1:{args.ui_port} (Dagster home {home}); Ctrl-C stops both",
                flush=True,
            )
            command = [
                str(ROOT / ".venv" / "bin" / "dagster"),
                "dev",
                "-h",
                "127.0.0.1",
                "-p",
                str(args.ui_port),
                "-m",
                "singer_orchestration.project",
            ]
            try:
                return subprocess.run(command, env=env, cwd=ROOT, check=False).returncode
            except KeyboardInterrupt:
                return 0
    except SandboxStartError as exc:
        print(f"orchestrate: the sandbox could not start: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
