"""Write hub/ and the generated parts of meltano.yml: every plugin definition from `--about`.

    hub/_data/meltano/extractors/<tap>/<variant>.yml   one definition per tap
    hub/_data/default_variants.yml                     our entries of the Hub's file
    hub/_data/maintainers.yml                          our entry of the Hub's file
    hub/static/assets/logos/extractors/<vendor>.svg    a logo per tap
    meltano.yml, between its `# >>> generated` and `# <<< generated` lines: the extractors
        (the same settings, groups and select as hub/, installed from this repository) and
        the PostgreSQL loader's settings (from its own `--about`)

Everything a tap says about itself comes from `tap-x --about --format=json` (settings with
their kind, description, default, options and `sensitive`; capabilities; Python versions)
and from its catalog (`--discover` offline: the streams that are not selected by default
become `select` exclusions). What `--about` cannot say is in `HUB` below: the plugin's label,
description, domain, keywords, maintenance status and quality, the setting labels that do not
follow from the name, the option labels, and the exact `settings_group_validation` (one group
per auth mode). The repository URL, and from it the variant (its owner), is the one in the
root pyproject.toml. The files are never edited by hand: `make hub` rewrites them and
tests/release/test_hub_definitions.py fails when they differ from what this script writes
(tests/test_docs_in_sync.py does the same for meltano.yml).

    python scripts/hub_definitions.py                      # rewrite hub/ and meltano.yml
    python scripts/hub_definitions.py --check              # exit 1 if either is out of date
    python scripts/hub_definitions.py --into ../hub        # add ours to a clone of meltano/hub

`--into` copies our definition files and logos into a clone of the Hub repository and merges
our entries into its shared `_data/default_variants.yml` and `_data/maintainers.yml`: every
other line of those files stays as it was.
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from smoke_tap import OFFLINE_CONFIGS

ROOT = Path(__file__).resolve().parent.parent
HUB = ROOT / "hub"
MELTANO_YML = ROOT / "meltano.yml"
BIN = ROOT / ".venv" / "bin"
POSTGRES_LOADER = ROOT / ".meltano" / "loaders" / "target-postgres" / "venv" / "bin"
POSTGRES_EXECUTABLE = "target-postgres-typed"
# Settings of MeltanoLabs' loader that hold a secret although its --about does not say so.
POSTGRES_SECRETS = {
    "password",
    "sqlalchemy_url",
    "ssh_tunnel.private_key",
    "ssh_tunnel.private_key_password",
    "ssl_client_private_key",
}
TAPS = ("tap-amilia", "tap-amperity", "tap-agyletime")
EXTRACTORS = Path("_data") / "meltano" / "extractors"
LOGOS = Path("static") / "assets" / "logos" / "extractors"

# Words a setting label spells in capitals; labels are otherwise the name in sentence case.
ACRONYMS = {"id": "ID", "api": "API", "url": "URL"}
LABELS = {
    "request_timeout": "Request timeout (s)",
    "progress_interval_seconds": "Progress interval (s)",
}
# Settings the SDK adds from the capabilities: no stream_maps.* or __else__ sub-settings.
OPAQUE_OBJECTS = ("stream_maps", "stream_map_config")
# Labels of the SDK's own options (a tap's own are in its HubFacts).
SDK_OPTION_LABELS = {
    "batch_config.encoding.compression": {"gzip": "GZIP", "none": "None"},
    "batch_config.encoding.format": {"jsonl": "JSONL", "parquet": "Parquet"},
}


@dataclass(frozen=True)
class HubFacts:
    """What a tap's `--about` cannot say about it."""

    label: str
    description: str
    domain_url: str
    keywords: list[str]
    logo: str
    color: str
    settings_group_validation: list[list[str]]
    option_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    maintenance_status: str = "beta"
    quality: str = "silver"


HUB_FACTS = {
    "tap-amilia": HubFacts(
        label="Amilia",
        description=(
            "Programs, activities, schedules, registrations, accounts, memberships and "
            "bookings from the Amilia (SmartRec) v3 API"
        ),
        domain_url="https://www.amilia.com",
        keywords=["amilia", "api", "meltano_sdk", "recreation", "registration"],
        logo="amilia",
        color="#1f7a5a",
        settings_group_validation=[
            ["organization", "username", "password"],
            ["organization", "api_key", "api_secret"],
            ["organization", "token"],
        ],
        option_labels={"language": {"en": "English", "fr": "French"}},
    ),
    "tap-amperity": HubFacts(
        label="Amperity",
        description=(
            "Audit events, campaigns, segments, workflow runs, ingest jobs and Profile API "
            "data from the Amperity customer data platform"
        ),
        domain_url="https://amperity.com",
        keywords=["amperity", "api", "cdp", "customer-data", "meltano_sdk"],
        logo="amperity",
        color="#3b4cc0",
        settings_group_validation=[
            ["tenant_id", "client_id", "client_secret"],
            ["tenant_id", "access_token"],
        ],
    ),
    "tap-agyletime": HubFacts(
        label="Agyle Time",
        description=(
            "Users, roles, work activity, schedules and metrics from Agyle Time (Playvox WFM) "
            "workforce management"
        ),
        domain_url="https://www.agyletime.com",
        keywords=["agyletime", "api", "meltano_sdk", "playvox", "workforce-management"],
        logo="agyletime",
        color="#c2410c",
        # `region` only names the regional host: regional_url replaces it.
        settings_group_validation=[
            ["subdomain", "region", "access_key_id", "access_key_secret"],
            ["subdomain", "regional_url", "access_key_id", "access_key_secret"],
        ],
        option_labels={
            "region": {"eu": "Europe", "us": "United States", "au": "Australia / New Zealand"}
        },
    ),
}


def repository_url() -> str:
    """The public repository, named once in the root pyproject.toml."""
    root = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    url: str = root["tool"]["release"]["repository"]
    return url.rstrip("/")


def variant() -> str:
    """The Hub variant: the repository's owner, as the Hub names maintainers."""
    return repository_url().split("/")[-2].lower()


def tap_json(tap: str, *args: str, bin_dir: Path = BIN) -> dict[str, Any]:
    """What the plugin ``tap`` of ``bin_dir`` (the workspace's .venv) prints as JSON for ``args``."""
    result = subprocess.run(
        [str(bin_dir / tap), *args], capture_output=True, text=True, timeout=120, check=True
    )
    output: dict[str, Any] = json.loads(result.stdout)
    return output


@functools.cache
def about(tap: str) -> dict[str, Any]:
    """`tap --about --format=json`, run once per process."""
    return tap_json(tap, "--about", "--format=json")


def opt_in_streams(tap: str) -> list[str]:
    """Streams of the catalog that are not selected by default, in catalog order.

    Discovered with a configuration whose hosts do not answer: the catalog's metadata is
    the tap's own, whatever the API says.
    """
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.json"
        config.write_text(json.dumps(OFFLINE_CONFIGS[tap]), encoding="utf-8")
        catalog = tap_json(tap, "--config", str(config), "--discover")
    streams = []
    for entry in catalog["streams"]:
        root = next(m["metadata"] for m in entry["metadata"] if not m["breadcrumb"])
        if not root.get("selected-by-default", False):
            streams.append(entry["tap_stream_id"])
    return streams


def label_of(name: str) -> str:
    """``api_url`` -> ``API URL``; ``lookback_days`` -> ``Lookback days``."""
    if name in LABELS:
        return LABELS[name]
    words = [ACRONYMS.get(word, word) for word in name.split("_")]
    first = words[0] if words[0] in ACRONYMS.values() else words[0].capitalize()
    return " ".join([first, *words[1:]])


def types_of(schema: dict[str, Any]) -> set[str]:
    """The JSON types a property schema allows (``oneOf``/``anyOf`` included), less null."""
    declared = schema.get("type", [])
    types = {declared} if isinstance(declared, str) else set(declared)
    for option in schema.get("oneOf", []) + schema.get("anyOf", []):
        if isinstance(option, dict):
            types |= types_of(option)
    return types - {"null"}


def kind_of(schema: dict[str, Any]) -> str:
    """The Meltano setting kind of a property schema."""
    types = types_of(schema)
    if schema.get("secret"):
        return "password"
    if "enum" in schema:
        return "options"
    if schema.get("format") in {"date-time", "date"}:
        return "date_iso8601"
    for json_type, kind in (
        ("object", "object"),
        ("array", "array"),
        ("string", "string"),  # a string or anything else: typed as text
        ("boolean", "boolean"),
        ("integer", "integer"),
        ("number", "decimal"),
    ):
        if json_type in types:
            return kind
    return "string"


def settings_of(
    properties: dict[str, Any],
    option_labels: dict[str, dict[str, str]],
    prefix: str = "",
    secrets: frozenset[str] = frozenset(),
) -> list[dict[str, Any]]:
    """Hub settings for the properties of `--about`; nested objects as dotted names."""
    settings: list[dict[str, Any]] = []
    for key, schema in properties.items():
        name = f"{prefix}{key}"
        nested = schema.get("properties")
        if nested and name not in OPAQUE_OBJECTS:
            settings += settings_of(nested, option_labels, f"{name}.", secrets)
            continue
        secret = bool(schema.get("secret")) or name in secrets
        setting: dict[str, Any] = {
            "name": name,
            "kind": "password" if secret else kind_of(schema),
            "label": schema.get("title") or label_of(key),
        }
        if schema.get("description"):
            setting["description"] = schema["description"]
        if secret:
            setting["sensitive"] = True
        if "default" in schema and schema["default"] is not None:
            setting["value"] = schema["default"]
        if "enum" in schema:
            labels = option_labels.get(name, {})
            setting["options"] = [
                {"label": labels.get(value, str(value)), "value": value}
                for value in schema["enum"]
                if value is not None
            ]
        settings.append(setting)
    return sorted(settings, key=lambda s: str(s["name"]))


def tap_settings(tap: str) -> list[dict[str, Any]]:
    """Every setting of ``tap`` (the SDK's included), as Meltano declares settings."""
    return settings_of(
        about(tap)["settings"]["properties"],
        {**SDK_OPTION_LABELS, **HUB_FACTS[tap].option_labels},
    )


def default_select(tap: str) -> list[str] | None:
    """Every stream but the opt-in ones, or None when every stream is selected by default."""
    opt_in = opt_in_streams(tap)
    return ["*.*", *(f"!{stream}.*" for stream in opt_in)] if opt_in else None


def definition(tap: str) -> dict[str, Any]:
    """The Hub definition of ``tap``."""
    facts = HUB_FACTS[tap]
    repository = repository_url()
    plugin: dict[str, Any] = {
        "name": tap,
        "namespace": tap.replace("-", "_"),
        "variant": variant(),
        "label": facts.label,
        "description": facts.description,
        "logo_url": f"/assets/logos/extractors/{facts.logo}.svg",
        "pip_url": tap,
        "executable": tap,
        "repo": repository,
        "docs": f"{repository}/blob/main/{tap}/README.md",
        "domain_url": facts.domain_url,
        "keywords": sorted(facts.keywords),
        "maintenance_status": facts.maintenance_status,
        "quality": facts.quality,
        "capabilities": sorted(about(tap)["capabilities"]),
        "supported_python_versions": about(tap)["supported_python_versions"],
        "settings": tap_settings(tap),
        "settings_group_validation": facts.settings_group_validation,
    }
    select = default_select(tap)
    if select:
        # Meltano selects every stream unless told otherwise: keep the opt-in ones opt-in.
        plugin["select"] = select
    return plugin


def flow(value: Any) -> str:
    """``value`` as one line of YAML (flow style)."""
    text: str = yaml.safe_dump(
        value, default_flow_style=True, sort_keys=False, width=1_000_000, allow_unicode=True
    )
    return text.removesuffix("\n").removesuffix("\n...").strip()


def settings_lines(settings: list[dict[str, Any]]) -> list[str]:
    """A `settings:` list, one setting a line."""
    return ["settings:", *(f"- {flow(setting)}" for setting in settings)]


def meltano_extractors() -> list[str]:
    """meltano.yml's `extractors:`: each tap as hub/ defines it, installed from this repository."""
    lines = ["extractors:"]
    for tap in TAPS:
        facts = HUB_FACTS[tap]
        lines += [
            f"- name: {tap}",
            f"  namespace: {tap.replace('-', '_')}",
            f"  label: {flow(facts.label)}",
            f"  description: {flow(facts.description)}",
            f"  pip_url: -e ./singer-rest-toolkit -e ./{tap}",
            f"  executable: {tap}",
            f"  capabilities: {flow(sorted(about(tap)['capabilities']))}",
        ]
        select = default_select(tap)
        if select:
            lines += [
                "  # Meltano selects every stream unless told otherwise: keep the opt-in ones opt-in.",
                f"  select: {flow(select)}",
            ]
        lines += ["  settings_group_validation:"]
        lines += [f"  - {flow(group)}" for group in facts.settings_group_validation]
        lines += [f"  {line}" for line in settings_lines(tap_settings(tap))]
    return lines


def postgres_loader_settings() -> list[str]:
    """The PostgreSQL loader's settings, from its own --about (installed by `make install`)."""
    loader = tap_json(POSTGRES_EXECUTABLE, "--about", "--format=json", bin_dir=POSTGRES_LOADER)
    return settings_lines(
        settings_of(
            loader["settings"]["properties"], SDK_OPTION_LABELS, secrets=frozenset(POSTGRES_SECRETS)
        )
    )


GENERATED = re.compile(
    r"^(?P<indent>[ ]*)# >>> generated: (?P<part>[a-z-]+)[^\n]*\n"
    r"(?P<body>.*?)"
    r"^(?P=indent)# <<< generated: (?P=part)\n",
    re.MULTILINE | re.DOTALL,
)
"""A generated part of meltano.yml: the lines between its two markers, at their indentation."""


def meltano_yml(current: str) -> str:
    """``current`` (meltano.yml) with every generated part rewritten."""
    makers = {
        "extractors": meltano_extractors,
        "target-postgres-settings": postgres_loader_settings,
    }
    seen: set[str] = set()

    def rewrite(match: re.Match[str]) -> str:
        part, indent = match["part"], match["indent"]
        if part not in makers:
            msg = f"meltano.yml: unknown generated part {part!r}"
            raise ValueError(msg)
        seen.add(part)
        body = "".join(f"{indent}{line}\n" for line in makers[part]())
        head, tail = match.group(0).splitlines(keepends=True)[0], match.group(0).splitlines()[-1]
        return f"{head}{body}{tail}\n"

    text = GENERATED.sub(rewrite, current)
    if missing := sorted(set(makers) - seen):
        msg = f"meltano.yml has no `# >>> generated: {missing[0]}` ... `# <<< generated` block"
        raise ValueError(msg)
    return text


def dump(data: dict[str, Any]) -> str:
    """YAML as the Hub writes it: keys sorted, block style, sequences not indented."""
    text: str = yaml.safe_dump(data, sort_keys=True, default_flow_style=False, allow_unicode=True)
    return text


def logo(facts: HubFacts) -> str:
    """A plain square logo: the tap's initials on its colour."""
    initials = "".join(word[0] for word in facts.label.split()).upper()[:2]
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" '
        'viewBox="0 0 256 256">\n'
        f"  <title>{facts.label}</title>\n"
        f'  <rect width="256" height="256" rx="48" fill="{facts.color}"/>\n'
        '  <text x="128" y="128" dy="0.35em" text-anchor="middle" fill="#ffffff" '
        'font-family="Helvetica, Arial, sans-serif" font-size="112" font-weight="700">'
        f"{initials}</text>\n"
        "</svg>\n"
    )


def files() -> dict[Path, str]:
    """Every file of hub/, relative to hub/, with its content."""
    name = variant()
    owner_url = repository_url().rsplit("/", 1)[0]
    out: dict[Path, str] = {
        Path("_data") / "default_variants.yml": dump({"extractors": dict.fromkeys(TAPS, name)}),
        Path("_data") / "maintainers.yml": dump(
            {name: {"label": "singer-taps maintainers", "name": name, "url": owner_url}}
        ),
    }
    for tap in TAPS:
        out[EXTRACTORS / tap / f"{name}.yml"] = dump(definition(tap))
        facts = HUB_FACTS[tap]
        out[LOGOS / f"{facts.logo}.svg"] = logo(facts)
    return out


def merged_entries(current: str, section: str | None, entries: dict[str, str]) -> str:
    """``current`` (one of the Hub's shared YAML files) with ``entries`` merged in.

    ``entries`` maps a top-level key (or, with ``section``, a key of that top-level mapping) to
    its YAML block (its own line and the lines under it, as we write them). An entry already
    there is replaced; a new one goes in at its place in the file's sorted order. Every other
    line is kept as it was: the file is never rewritten from a parse.
    """
    lines = current.splitlines(keepends=True)
    start, end, indent = 0, len(lines), ""
    if section is not None:
        start = next(i for i, line in enumerate(lines) if line.rstrip("\n") == f"{section}:") + 1
        end = next(
            (i for i in range(start, len(lines)) if lines[i][:1] not in {" ", "\n", "#"}),
            len(lines),
        )
        indent = "  "
    for key, block in sorted(entries.items()):
        key_line = re.compile(rf"^{indent}(?P<key>[^\s:#][^:]*):")
        keys = [
            (i, m["key"].strip("'\"")) for i in range(start, end) if (m := key_line.match(lines[i]))
        ]
        new = [f"{indent}{line}\n" for line in block.splitlines()]
        at = next((i for i, name in keys if name == key), None)
        if at is None:
            at = next((i for i, name in keys if name > key), end)
            stop = at
        else:
            stop = next((i for i, _ in keys if i > at), end)
        lines[at:stop] = new
        end += len(new) - (stop - at)
    return "".join(lines)


def merge_into(hub_clone: Path) -> list[str]:
    """Add our definitions and logos to a clone of meltano/hub, merging our entries into its
    shared files; returns the paths written, relative to the clone."""
    written = []
    shared = {Path("_data") / "default_variants.yml", Path("_data") / "maintainers.yml"}
    for path, content in files().items():
        if path in shared:
            continue
        (hub_clone / path).parent.mkdir(parents=True, exist_ok=True)
        (hub_clone / path).write_text(content, encoding="utf-8")
        written.append(str(path))
    name = variant()
    owner_url = repository_url().rsplit("/", 1)[0]
    merges: list[tuple[Path, str | None, dict[str, str]]] = [
        (
            Path("_data") / "default_variants.yml",
            "extractors",
            {tap: f"{tap}: {name}" for tap in TAPS},
        ),
        (
            Path("_data") / "maintainers.yml",
            None,
            {
                name: dump(
                    {name: {"label": "singer-taps maintainers", "name": name, "url": owner_url}}
                )
            },
        ),
    ]
    for path, section, entries in merges:
        target = hub_clone / path
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if section is not None and not current:
            current = f"{section}:\n"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(merged_entries(current, section, entries), encoding="utf-8")
        written.append(str(path))
    return written


def main() -> int:
    """Rewrite hub/ and meltano.yml (or with --check, report what differs; with --into DIR,
    add ours to a clone of the Hub repository)."""
    if "--into" in sys.argv:
        clone = Path(sys.argv[sys.argv.index("--into") + 1])
        if not (clone / "_data" / "meltano").is_dir():
            print(
                f"--into {clone}: not a clone of meltano/hub (no _data/meltano/)", file=sys.stderr
            )
            return 2
        print("written: " + ", ".join(merge_into(clone)))
        return 0
    check = "--check" in sys.argv
    wanted = files()
    present = {p.relative_to(HUB) for p in HUB.rglob("*") if p.is_file()} if HUB.exists() else set()
    stale = sorted(
        str(path)
        for path in present | set(wanted)
        if path not in wanted
        or path not in present
        or (HUB / path).read_text(encoding="utf-8") != wanted[path]
    )
    current_yml = MELTANO_YML.read_text(encoding="utf-8")
    wanted_yml = meltano_yml(current_yml)
    if wanted_yml != current_yml:
        stale.append("meltano.yml")
    if not check:
        for path in present - set(wanted):
            (HUB / path).unlink()
        for path, content in wanted.items():
            (HUB / path).parent.mkdir(parents=True, exist_ok=True)
            (HUB / path).write_text(content, encoding="utf-8")
        MELTANO_YML.write_text(wanted_yml, encoding="utf-8")
    if stale:
        print(("out of date: " if check else "updated: ") + ", ".join(stale))
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
