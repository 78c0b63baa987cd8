"""What the release tests share: the published packages, built once, and the repo's scripts."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from repo_support import BIN, ROOT

PACKAGES = ("singer-rest-toolkit", "tap-amilia", "tap-amperity", "tap-agyletime")
"""Not the sandbox, nor target-postgres-typed (installed by Meltano from its directory, never
published: see the Makefile's PACKAGES)."""
HUB = ROOT / "hub"


def script(name: str) -> ModuleType:
    """scripts/<name>.py as a module (loaded once per process)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def uv() -> str:
    """The uv of the workspace (installed with Meltano), else the one on PATH."""
    found = BIN / "uv" if (BIN / "uv").exists() else shutil.which("uv")
    assert found, "uv is neither in .venv/bin nor on PATH"
    return str(found)


def build(out: Path) -> list[Path]:
    """Every published package's sdist and wheel, built into ``out`` as `make dist` does."""
    for package in PACKAGES:
        subprocess.run(
            [uv(), "build", "-q", "--out-dir", str(out), str(ROOT / package)],
            check=True,
            capture_output=True,
            timeout=300,
        )
    return sorted(out.iterdir())


def wheel(dist: Path, package: str) -> Path:
    """The one wheel of ``package`` in ``dist``."""
    (found,) = dist.glob(f"{package.replace('-', '_')}-*-py3-none-any.whl")
    return found
