"""Check the sdists and wheels that `make dist` built: one of each per published package.

Each holds the repository's LICENSE (byte for byte), its metadata names the Apache-2.0
license, an author and the repository's URLs, and its version is the package's
``__version__``; each sdist also holds the README and CHANGELOG. The sandbox and
target-postgres-typed (installed by Meltano from its directory) are never built.
`make dist` runs this after `twine check --strict`; tests/release/test_packages.py runs it
on a build of its own.

    python scripts/check_dist.py dist
"""

from __future__ import annotations

import ast
import email.parser
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("singer-rest-toolkit", "tap-amilia", "tap-amperity", "tap-agyletime")
URL_LABELS = ("Homepage", "Documentation", "Repository", "Issues")


def repository_url() -> str:
    """The public repository, named once in the root pyproject.toml."""
    root = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    url: str = root["tool"]["release"]["repository"]
    return url


def source_version(package: str) -> str:
    """``__version__`` of the package's module: its one version source."""
    init = ROOT / package / package.replace("-", "_") / "__init__.py"
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        if (
            isinstance(node, ast.Assign)
            and [getattr(t, "id", None) for t in node.targets] == ["__version__"]
            and isinstance(node.value, ast.Constant)
        ):
            return str(node.value.value)
    msg = f"{init} sets no __version__"
    raise ValueError(msg)


def check_metadata(name: str, raw: bytes, repository: str) -> list[str]:
    """Problems with one artifact's core metadata (PKG-INFO or METADATA)."""
    metadata = email.parser.BytesParser().parsebytes(raw)
    problems = []
    if metadata["License-Expression"] != "Apache-2.0":
        problems.append(f"{name}: License-Expression is {metadata['License-Expression']!r}")
    if "LICENSE" not in (metadata.get_all("License-File") or []):
        problems.append(f"{name}: no License-File: LICENSE")
    if not (metadata["Author"] or metadata["Author-email"]):
        problems.append(f"{name}: no author")
    urls = dict(u.split(", ", 1) for u in metadata.get_all("Project-URL") or [])
    for label in URL_LABELS:
        if not urls.get(label, "").startswith(repository):
            problems.append(f"{name}: Project-URL {label} is {urls.get(label)!r}")
    return problems


def check_package(dist: Path, package: str, license_text: bytes, repository: str) -> list[str]:
    """Problems with ``package``'s sdist and wheel in ``dist``."""
    stem = f"{package.replace('-', '_')}-{source_version(package)}"
    sdist, wheel = dist / f"{stem}.tar.gz", dist / f"{stem}-py3-none-any.whl"
    problems = [f"missing {p.name}" for p in (sdist, wheel) if not p.is_file()]
    if problems:
        return problems
    with tarfile.open(sdist) as archive:
        members = {m.name: m for m in archive.getmembers()}
        for wanted in ("LICENSE", "README.md", "CHANGELOG.md", "PKG-INFO"):
            member = members.get(f"{stem}/{wanted}")
            if member is None or not member.isfile():
                problems.append(f"{sdist.name}: no {wanted} file")
        if not problems:
            read = archive.extractfile(members[f"{stem}/LICENSE"])
            if read is None or read.read() != license_text:
                problems.append(f"{sdist.name}: LICENSE differs from the repository's")
            pkg_info = archive.extractfile(members[f"{stem}/PKG-INFO"])
            assert pkg_info is not None
            problems += check_metadata(sdist.name, pkg_info.read(), repository)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        license_path = f"{stem}.dist-info/licenses/LICENSE"
        if license_path not in names:
            problems.append(f"{wheel.name}: no {license_path}")
        elif archive.read(license_path) != license_text:
            problems.append(f"{wheel.name}: LICENSE differs from the repository's")
        problems += check_metadata(
            wheel.name, archive.read(f"{stem}.dist-info/METADATA"), repository
        )
    return problems


def check(dist: Path) -> list[str]:
    """Every problem with the artifacts in ``dist``."""
    license_text = (ROOT / "LICENSE").read_bytes()
    repository = repository_url()
    problems = []
    for package in PACKAGES:
        problems += check_package(dist, package, license_text, repository)
    problems += [f"unpublished package built: {p.name}" for p in dist.glob("api_sandbox*")]
    return problems


def main() -> int:
    """Print the problems; exit 1 if there are any."""
    dist = Path(sys.argv[1] if len(sys.argv) > 1 else "dist")
    problems = check(dist)
    for problem in problems:
        print(problem)
    if not problems:
        print(f"{dist}: {len(PACKAGES)} sdists and wheels, each with its LICENSE and metadata")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
