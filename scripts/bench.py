"""`make bench`: throughput, pacing, latency hiding and memory of the three taps.

A benchmark, never a test: it prints a table and writes docs/performance.md.

1. Throughput: for each tap, its largest small-record and its largest nested-record plain
   list stream, synced through the tap's CLI (a catalog selecting only that stream, stdout to
   /dev/null), against a raw loop (requests + stdlib json, one ``json.dumps`` line per record
   to /dev/null) reading the same pages with the same auth and page size. Runs interleave
   (tap, raw, tap, raw, ...) and the median of 3 is reported, with each process's peak RSS
   (``os.wait4`` rusage). The sandbox's rate limits are off, the taps' pacing is raised and
   the sandbox memoizes its records (an untimed warm-up reads every page once), so what is
   timed is the client's CPU per record, not the data generator's.
2. Pacing: the sandbox enforces each vendor's ceiling on a strict 1-second sliding window;
   the taps run at their defaults. Achieved requests/s and 429s.
3. Latency: 200 ms per response, ceilings on, per-parent streams at the taps' defaults.
4. Memory: the tap's peak RSS syncing one stream of 10k and of 1M records.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from api_sandbox.testing import SandboxProcess

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
DOC = ROOT / "docs" / "performance.md"
PAGE_SIZE = 1000
UNPACED = 100_000
"""max_requests_per_second for the throughput runs: pacing must not be what is measured."""
REPEATS = 3
VENDORS = ("amilia", "amperity", "agyletime")
CEILINGS = {"amilia": 100, "amperity": 10, "amperity.profile_api": 2000}
"""Documented requests/s of each vendor's main API, and of Amperity's Profile API."""
RUN_TIMEOUT_S = 240.0
FULL_SYNC_TIMEOUT_S = 900.0
"""A whole tenant at ten times the size is served by an unmemoized sandbox on shared cores."""
METRIC = re.compile(r"METRIC: (\{.*\})")

# --- vendor access: tap configs and the raw loop ---------------------------------------------


def midnight_days_ago(days: int) -> datetime:
    """Midnight UTC ``days`` before today."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days)


def iso_z(value: datetime) -> str:
    """``2026-06-19T04:00:18.764Z``."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


START_DAYS = {"amilia": 40, "amperity": 61, "agyletime": 91}
"""start_date of every run: the whole sandbox history of the dated streams."""


def tap_config(vendor: str, base: str, **overrides: Any) -> dict[str, Any]:
    """Sandbox credentials (docs/CONVENTIONS.md) and URLs; ``None`` drops a setting."""
    start = midnight_days_ago(START_DAYS[vendor]).isoformat()
    config: dict[str, Any]
    if vendor == "amilia":
        config = {
            "organization": "8008",
            "api_url": f"{base}/api/v3",
            "api_key": "sandbox-api-key",
            "api_secret": "sandbox-api-secret",
            "start_date": start[:10],
        }
    elif vendor == "amperity":
        config = {
            "tenant_id": "acme-sandbox",
            "api_url": f"{base}/api",
            "client_id": "sandbox-client-id",
            "client_secret": "sandbox-client-secret",
            "start_date": start,
        }
    else:
        config = {
            "subdomain": "acme",
            "region": "eu",
            "access_key_id": "sandbox-access-key-id",
            "access_key_secret": "sandbox-access-key-secret",
            "tenant_url": f"{base}/tenant/api",
            "regional_url": f"{base}/regional",
            "start_date": start,
        }
    config["metrics_log_level"] = "INFO"  # the counts and times below come from METRIC lines
    config.update(overrides)
    return {k: v for k, v in config.items() if v is not None}


Pages = Iterator[list[Any]]


def amilia_pages(session: requests.Session, base: str, stream: str, page_size: int) -> Pages:
    """``Items`` of each page, following ``Paging.Next`` (API key pair auth)."""
    session.headers.update(
        {"X-AMILIA-APIKEY": "sandbox-api-key", "X-AMILIA-APISECRET": "sandbox-api-secret"}
    )
    query = {
        "programs": {"showHidden": "true", "showArchived": "true"},
        "accounts": {"showArchived": "true"},
    }[stream]
    url: str | None = f"{base}/api/v3/en/org/8008/{stream}"
    params: dict[str, Any] | None = {**query, "perPage": page_size}
    while url:
        body = json.loads(session.get(url, params=params, timeout=60).content)
        yield body["Items"]
        url, params = body["Paging"].get("Next") or None, None


def amperity_pages(session: requests.Session, base: str, stream: str, page_size: int) -> Pages:
    """``data`` of each page (``next_token`` paging, or one request per 7-day window)."""
    token = session.post(
        f"{base}/api/v0/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "sandbox-client-id",
            "client_secret": "sandbox-client-secret",
        },
        headers={"X-Amperity-Tenant": "acme-sandbox"},
        timeout=60,
    ).json()["access_token"]
    session.headers.update(
        {
            "Authorization": f"Bearer {token}",
            "Amperity-Tenant": "acme-sandbox",
            "api-version": "2024-04-01",
        }
    )
    start = midnight_days_ago(START_DAYS["amperity"])
    if stream == "ingest_jobs":
        now = datetime.now(UTC)
        while start < now:
            stop = min(start + timedelta(days=7), now)
            params = {"created_from": iso_z(start), "created_to": iso_z(stop)}
            yield json.loads(session.get(f"{base}/api/ingest/jobs", params=params).content)["data"]
            start = stop
        return
    next_token = None
    while True:
        params = {"happened_from": iso_z(start), "limit": str(page_size)}
        if next_token:
            params["next_token"] = next_token
        body = json.loads(session.get(f"{base}/api/audit-events", params=params).content)
        yield body["data"]
        next_token = body.get("next_token")
        if not next_token:
            return


def agyletime_pages(session: requests.Session, base: str, stream: str, page_size: int) -> Pages:
    """``data`` of each page, following ``nextPageToken`` (JWT from the token endpoint)."""
    token = session.post(
        f"{base}/tenant/api/authority/token",
        auth=("sandbox-access-key-id", "sandbox-access-key-secret"),
        timeout=60,
    ).json()["data"]["accessToken"]
    session.headers["Authorization"] = f"Bearer {token}"
    path = {
        "contacts": "/regional/workactivity/contacts",
        "published_shifts": "/regional/schedule/shifts/published",
    }[stream]
    window = {
        "startTime": iso_z(midnight_days_ago(START_DAYS["agyletime"])),
        "endTime": iso_z(datetime.now(UTC)),
    }
    next_token = None
    while True:
        params = {**window, "pageLimit": str(page_size)}
        if next_token:
            params["nextPageToken"] = next_token
        body = json.loads(session.get(base + path, params=params, timeout=60).content)
        yield body["data"]
        next_token = body.get("nextPageToken")
        if not next_token:
            return


RAW_PAGES: dict[str, Callable[[requests.Session, str, str, int], Pages]] = {
    "amilia": amilia_pages,
    "amperity": amperity_pages,
    "agyletime": agyletime_pages,
}


def raw_worker(vendor: str, base: str, stream: str, page_size: int) -> int:
    """The raw loop: one JSON line per record to /dev/null; prints records and loop seconds."""
    count = 0
    started = time.perf_counter()
    with requests.Session() as session, open(os.devnull, "w", encoding="utf-8") as out:
        for page in RAW_PAGES[vendor](session, base, stream, page_size):
            for record in page:
                out.write(json.dumps(record) + "\n")
            count += len(page)
    print(count, time.perf_counter() - started)
    return 0


# --- running a process and measuring it ------------------------------------------------------


@dataclass
class Run:
    """One child process: wall and sync time, peak RSS, records and how it ended."""

    seconds: float
    peak_rss_mb: float
    records: int
    ok: bool
    note: str = ""
    sync_seconds: float = 0.0
    """Time spent syncing: the SDK's sync_duration metric, or the raw loop's own clock."""

    @property
    def per_second(self) -> float:
        """Records per second of sync time (no interpreter start-up, imports or discovery)."""
        return self.records / self.sync_seconds if self.sync_seconds else 0.0

    @property
    def wall_per_second(self) -> float:
        """Records per second of wall time (process start to exit)."""
        return self.records / self.seconds if self.seconds else 0.0


def peak_rss_kb(pid: int) -> int:
    """The process's resident-set high-water mark (VmHWM), 0 once it has exited."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def run_child(command: list[str], timeout_s: float = RUN_TIMEOUT_S) -> tuple[Run, str, str]:
    """Run ``command`` (output to temporary files); its Run, stdout and stderr.

    Peak RSS is the child's own high-water mark, read from /proc while it runs: the
    ``ru_maxrss`` that ``os.wait4`` reports also counts this (larger) process's memory,
    which the child inherits at fork and Linux keeps in the figure across exec.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, cwd=ROOT)
        deadline = started + timeout_s
        peak_kb = 0
        timed_out = False
        while True:
            peak_kb = max(peak_kb, peak_rss_kb(process.pid))
            pid, status, _ = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                timed_out = True
                process.kill()
                pid, status, _ = os.wait4(process.pid, 0)
                break
            time.sleep(0.005)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    run = Run(
        seconds=seconds,
        peak_rss_mb=peak_kb / 1024,
        records=0,
        ok=process.returncode == 0 and not timed_out,
        note="timed out" if timed_out else ("" if process.returncode == 0 else stderr[-300:]),
    )
    return run, stdout, stderr


def metric_points(stderr: str) -> Iterator[tuple[str, str | None, float]]:
    """(metric, stream, value) of each of the SDK's METRIC lines."""
    for match in METRIC.finditer(stderr):
        try:
            point = json.loads(match.group(1))
        except ValueError:
            continue
        tags = point.get("tags", {})
        yield point.get("metric"), tags.get("stream"), float(point.get("value", 0))


def metric_sum(stderr: str, metric: str, stream: str | None) -> float:
    """Sum of the SDK's ``metric`` points for ``stream`` (None: every stream)."""
    return sum(
        value
        for name, tagged, value in metric_points(stderr)
        if name == metric and (stream is None or tagged == stream)
    )


def limit_key(vendor: str, family: str) -> str:
    """The sandbox's name of an API family's rate limit: the vendor for its main API."""
    return vendor if family == "api" else f"{vendor}.{family}"


class TapRunner:
    """Writes configs and catalogs for one tap and runs its CLI."""

    def __init__(self, vendor: str, workdir: Path) -> None:
        self.vendor = vendor
        self.executable = str(BIN / f"tap-{vendor}")
        self.workdir = workdir
        self._catalog: dict[str, Any] | None = None

    def _write(self, name: str, content: dict[str, Any]) -> str:
        path = self.workdir / f"{self.vendor}-{name}.json"
        path.write_text(json.dumps(content), encoding="utf-8")
        return str(path)

    def catalog(self, config_path: str, streams: tuple[str, ...]) -> str:
        """The discovered catalog with only ``streams`` selected."""
        if self._catalog is None:
            result = subprocess.run(
                [self.executable, "--config", config_path, "--discover"],
                capture_output=True,
                check=True,
                cwd=ROOT,
            )
            self._catalog = json.loads(result.stdout)
        catalog = json.loads(json.dumps(self._catalog))
        for entry in catalog["streams"]:
            for item in entry["metadata"]:
                if item["breadcrumb"] == []:
                    item["metadata"]["selected"] = entry["tap_stream_id"] in streams
        selection = hashlib.sha256("-".join(sorted(streams)).encode()).hexdigest()[:12]
        return self._write(f"catalog-{selection}", catalog)

    def default_streams(self, config: dict[str, Any]) -> tuple[str, ...]:
        """The streams the tap selects by default (what Meltano's `select` keeps)."""
        self.catalog(self._write("config", config), ())
        assert self._catalog is not None
        return tuple(
            entry["tap_stream_id"]
            for entry in self._catalog["streams"]
            for item in entry["metadata"]
            if item["breadcrumb"] == [] and item["metadata"].get("selected-by-default")
        )

    def command(self, config: dict[str, Any], streams: tuple[str, ...]) -> list[str]:
        """The CLI call that syncs ``streams`` (discovering first, once)."""
        config_path = self._write("config", config)
        return [
            self.executable,
            "--config",
            config_path,
            "--catalog",
            self.catalog(config_path, streams),
        ]

    def sync(
        self,
        config: dict[str, Any],
        streams: tuple[str, ...],
        count: str | None,
        timeout_s: float = RUN_TIMEOUT_S,
    ) -> Run:
        """Sync ``streams`` with stdout to /dev/null; records counted for ``count`` (None: all)."""
        run, _, stderr = run_child(self.command(config, streams), timeout_s)
        run.records = int(metric_sum(stderr, "record_count", count))
        run.sync_seconds = metric_sum(stderr, "sync_duration", count)
        return run


def raw_run(vendor: str, base: str, stream: str) -> Run:
    """The raw loop in its own process (so its RSS and start-up are measured like the tap's)."""
    command = [
        sys.executable,
        __file__,
        "--raw-worker",
        json.dumps({"vendor": vendor, "base": base, "stream": stream, "page_size": PAGE_SIZE}),
    ]
    run, stdout, _ = run_child(command)
    if run.ok:
        records, seconds = stdout.split()
        run.records, run.sync_seconds = int(records), float(seconds)
    return run


# --- the four measurements --------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One throughput case: a tap's stream at a sandbox scale."""

    vendor: str
    stream: str
    shape: str
    scale: float


CASES = (
    Case("amilia", "programs", "small", 1000.0),  # 60 per unit of scale, ~330 B
    Case("amilia", "accounts", "nested", 30.0),  # 600 per unit, ~1.9 KB, nested arrays
    Case("amperity", "audit_events", "small", 30.0),  # 2000 per unit, ~430 B
    Case("amperity", "ingest_jobs", "nested", 30.0),  # 600 per unit, ~1 KB, tables[].files[]
    Case("agyletime", "contacts", "small", 6.0),  # ~10,900 per unit, ~350 B
    Case("agyletime", "published_shifts", "nested", 12.0),  # ~1,500 per unit, ~2.3 KB, tasks[]
)


@dataclass
class Throughput:
    """Median tap and raw runs of one case."""

    case: Case
    tap: list[Run] = field(default_factory=list)
    raw: list[Run] = field(default_factory=list)

    @staticmethod
    def _median(runs: list[Run]) -> float:
        return statistics.median(r.per_second for r in runs) if runs else 0.0

    @property
    def wall_ratio(self) -> float:
        """tap / raw in records per second of wall time (start-up included)."""
        tap = statistics.median(r.wall_per_second for r in self.tap) if self.tap else 0.0
        raw = statistics.median(r.wall_per_second for r in self.raw) if self.raw else 0.0
        return tap / raw if raw else 0.0

    @property
    def tap_rate(self) -> float:
        """Median records/s of the tap."""
        return self._median(self.tap)

    @property
    def raw_rate(self) -> float:
        """Median records/s of the raw loop."""
        return self._median(self.raw)

    @property
    def ratio(self) -> float:
        """tap / raw."""
        return self.tap_rate / self.raw_rate if self.raw_rate else 0.0

    @property
    def problems(self) -> list[str]:
        """Failed runs and record counts that differ between the tap and the raw loop."""
        issues = [f"tap: {r.note}" for r in self.tap if not r.ok]
        issues += [f"raw: {r.note}" for r in self.raw if not r.ok]
        counts = {r.records for r in self.tap + self.raw if r.ok}
        if len(counts) > 1:
            issues.append(f"record counts differ: {sorted(counts)}")
        return issues


def throughput(case: Case, quick: bool, workdir: Path) -> Throughput:
    """Interleaved tap/raw runs of one case (after an untimed warm-up of the sandbox)."""
    scale = case.scale / 5 if quick else case.scale
    result = Throughput(case)
    with SandboxProcess("--memoize-records", scale=scale) as sandbox:
        sandbox.configure(rate_limits=dict.fromkeys(VENDORS, 0))
        base = sandbox.url(case.vendor)
        runner = TapRunner(case.vendor, workdir)
        config = tap_config(case.vendor, base, page_size=PAGE_SIZE, max_requests_per_second=UNPACED)
        raw_run(case.vendor, base, case.stream)  # warm-up: the sandbox builds every record once
        for _ in range(REPEATS):
            result.tap.append(runner.sync(config, (case.stream,), case.stream))
            result.raw.append(raw_run(case.vendor, base, case.stream))
    return result


@dataclass
class Paced:
    """A run against the sandbox's rate limit or latency."""

    vendor: str
    streams: tuple[str, ...]
    requests: int
    span_s: float
    peak_window: int
    """The most requests the sandbox saw in any 1-second window."""
    rate_limited: int
    run: Run
    ceiling: int

    @property
    def per_second(self) -> float:
        """Achieved rate: requests/span, but never more than the busiest 1-second window.

        Over a short run requests/span alone overstates a client that saturates the
        window: a strict 1-second window admits ``ceiling x (span + 1)`` requests in
        ``span`` seconds. The busiest window is the rate actually sustained. A run shorter
        than a second has no full window to compare with: its average stands.
        """
        average = self.requests / self.span_s if self.span_s else 0.0
        return min(average, float(self.peak_window)) if self.span_s > 1.0 else average


def paced_run(
    sandbox: SandboxProcess,
    vendor: str,
    streams: tuple[str, ...],
    workdir: Path,
    family: str = "api",
    **overrides: Any,
) -> Paced:
    """Sync ``streams`` at the tap's default pacing; read the sandbox's request statistics of
    the API ``family`` they use (the vendor's main API by default)."""
    runner = TapRunner(vendor, workdir)
    config = tap_config(vendor, sandbox.url(vendor), **overrides)
    runner.catalog(runner._write("config", config), streams)  # discover before the reset
    sandbox.reset()
    run = runner.sync(config, streams, streams[-1])
    stats = sandbox.stats()[vendor]
    counted = stats["families"][family]
    return Paced(
        vendor,
        streams,
        counted["requests"],
        stats["span_s"],
        counted["peak_per_second"],
        counted["rate_limited"],
        run,
        CEILINGS[limit_key(vendor, family)],
    )


def rate_limited(workdir: Path) -> list[Paced]:
    """Amilia (>= 300 requests) and Amperity (>= 60) against their ceilings, taps at defaults."""
    with SandboxProcess(scale=1.0) as sandbox:
        sandbox.configure(rate_limits=CEILINGS)
        return [
            paced_run(sandbox, "amilia", ("accounts",), workdir, page_size=2),
            paced_run(sandbox, "amperity", ("audit_events",), workdir, page_size=25),
        ]


PER_PARENT = (
    ("amilia", ("programs", "activities", "activity_occurrences"), "api"),
    ("amilia", ("accounts", "account_contacts"), "api"),
    ("amilia", ("memberships", "membership_persons"), "api"),
    ("amperity", ("profile_indexes", "index_profiles"), "profile_api"),
)


def latency(quick: bool, workdir: Path) -> list[Paced]:
    """Per-parent streams with 200 ms per response and the ceilings on, taps at defaults."""
    results = []
    for vendor, scale in (("amilia", 1.0), ("amperity", 3.0)):
        with SandboxProcess(scale=scale / 3 if quick else scale, latency_ms=200) as sandbox:
            sandbox.configure(rate_limits=CEILINGS)
            results += [
                paced_run(sandbox, vendor, streams, workdir, family)
                for name, streams, family in PER_PARENT
                if name == vendor
            ]
    return results


PROFILES_SCALE = 10.0
"""40 indexes of 2,500 profiles: 100,000 profiles."""
PROFILES_BEFORE_PER_S = 949.0
"""index_profiles' records/s by this method at commit 8ed0346, before the worker pools."""


@dataclass
class ProfilesRun:
    """index_profiles at 200 ms per response, both Amperity ceilings on."""

    run: Run
    requests: int
    families: dict[str, dict[str, int]]

    @property
    def per_second(self) -> float:
        """index_profiles' records over profile_indexes' sync time (its timer spans its
        children; start-up and imports are not counted)."""
        return self.run.per_second

    @property
    def rate_limited(self) -> int:
        """429s, both families."""
        return sum(f["rate_limited"] for f in self.families.values())


def profiles_run(quick: bool, workdir: Path) -> ProfilesRun:
    """profile_indexes + index_profiles through the CLI, after an untimed warm-up."""
    streams = ("profile_indexes", "index_profiles")
    scale = PROFILES_SCALE / (4 if quick else 1)
    with SandboxProcess("--memoize-records", scale=scale, latency_ms=200) as sandbox:
        runner = TapRunner("amperity", workdir)
        command = runner.command(tap_config("amperity", sandbox.url("amperity")), streams)
        run_child(command)  # warm-up: the sandbox then serves memoized records
        sandbox.reset()
        run, _, stderr = run_child(command)
        stats = sandbox.stats()["amperity"]
    run.records = int(metric_sum(stderr, "record_count", "index_profiles"))
    run.sync_seconds = metric_sum(stderr, "sync_duration", "profile_indexes")
    requests = int(metric_sum(stderr, "http_request_count", "index_profiles"))
    return ProfilesRun(run, requests, stats["families"])


@dataclass
class FullSync:
    """A tap's default-selected sync of a whole sandbox tenant at one scale."""

    vendor: str
    scale: float
    streams: int
    run: Run


FULL_SCALES = {"amilia": 4.0, "amperity": 2.0, "agyletime": 1.0}
"""The smaller tenant of each tap's full sync; the larger one is ten times this."""


def full_syncs(quick: bool, workdir: Path) -> list[FullSync]:
    """Every default stream, limits off: records/s of a whole tenant, and memory at 10x the size."""
    results = []
    for vendor in VENDORS:
        for factor in (1, 10):
            scale = FULL_SCALES[vendor] * factor / (4 if quick else 1)
            with SandboxProcess(scale=scale) as sandbox:
                sandbox.configure(rate_limits=dict.fromkeys(VENDORS, 0))
                runner = TapRunner(vendor, workdir)
                config = tap_config(vendor, sandbox.url(vendor), max_requests_per_second=UNPACED)
                streams = runner.default_streams(config)
                run = runner.sync(config, streams, None, FULL_SYNC_TIMEOUT_S)
            results.append(FullSync(vendor, scale, len(streams), run))
    return results


def full_paced(workdir: Path) -> Paced:
    """Amperity's whole default sync against its 10/s ceiling (goal: >= 90%, zero 429s)."""
    with SandboxProcess(scale=1.0) as sandbox:
        sandbox.configure(rate_limits=CEILINGS)
        runner = TapRunner("amperity", workdir)
        streams = runner.default_streams(tap_config("amperity", sandbox.url("amperity")))
        return paced_run(sandbox, "amperity", streams, workdir)


FLOOR_SCALES = {"amilia": 3.0, "amperity": 2.0, "agyletime": 1.0}
"""A realistic tenant per tap: a whole default sync of a minute or more at its ceilings."""
FAMILY_CEILINGS: dict[str, dict[str, int]] = {
    "amilia": {"api": 100},  # no documented limit: the sandbox's and the tap's 100/s
    "amperity": {"api": 10, "profile_api": 2000},  # documented
    "agyletime": {"api": 3},  # no documented limit: the tap's own pace (a public tap's 100/30 s)
}
"""Each API family's ceiling (requests/s), as the sandbox enforces it in this run."""


@dataclass
class FloorRun:
    """A tap's whole default sync at its ceilings with 200 ms per response."""

    vendor: str
    scale: float
    run: Run
    span_s: float
    """First request to last, as the sandbox saw them."""
    families: dict[str, dict[str, int]]
    per_stream: dict[str, tuple[int, int]]
    """Stream -> (requests, records)."""

    @property
    def floor_s(self) -> float:
        """The least time the ceilings allow: each family's requests / its ceiling, the
        families side by side (the taps fetch the next streams while one is written)."""
        ceilings = FAMILY_CEILINGS[self.vendor]
        return max(f["requests"] / ceilings[name] for name, f in self.families.items())

    @property
    def ratio(self) -> float:
        """Span / floor."""
        return self.span_s / self.floor_s if self.floor_s else 0.0

    @property
    def rate_limited(self) -> int:
        """429s, every family."""
        return sum(f["rate_limited"] for f in self.families.values())


def metric_counts(stderr: str) -> dict[str, tuple[int, int]]:
    """Per stream: requests (``http_request_duration`` points) and records (``record_count``)."""
    calls: dict[str, int] = {}
    records: dict[str, int] = {}
    for metric, stream, value in metric_points(stderr):
        if stream is None:
            continue
        if metric == "http_request_duration":
            calls[stream] = calls.get(stream, 0) + 1
        elif metric == "record_count":
            records[stream] = records.get(stream, 0) + int(value)
    return {s: (calls.get(s, 0), records.get(s, 0)) for s in sorted({*calls, *records})}


def floor_runs(quick: bool, workdir: Path) -> list[FloorRun]:
    """Each tap's default selection, ceilings on, 200 ms latency, taps at their defaults."""
    results = []
    for vendor in VENDORS:
        scale = FLOOR_SCALES[vendor] / (4 if quick else 1)
        with SandboxProcess("--memoize-records", scale=scale, latency_ms=200) as sandbox:
            limits = {
                limit_key(vendor, name): ceiling
                for name, ceiling in FAMILY_CEILINGS[vendor].items()
            }
            sandbox.configure(rate_limits=limits)
            runner = TapRunner(vendor, workdir)
            config = tap_config(vendor, sandbox.url(vendor))
            command = runner.command(config, runner.default_streams(config))  # discovers
            run_child(command, timeout_s=1800)  # warm-up: the sandbox then serves memoized records
            sandbox.reset()
            run, _, stderr = run_child(command, timeout_s=1800)
            run.records = int(metric_sum(stderr, "record_count", None))
            stats = sandbox.stats()[vendor]
        results.append(
            FloorRun(vendor, scale, run, stats["span_s"], stats["families"], metric_counts(stderr))
        )
    return results


@dataclass
class Memory:
    """Peak RSS of one stream at two sizes."""

    vendor: str
    stream: str
    small: Run
    large: Run

    @property
    def ratio(self) -> float:
        """Large / small peak RSS."""
        return self.large.peak_rss_mb / self.small.peak_rss_mb if self.small.peak_rss_mb else 0.0


MEMORY_CASES = (
    ("amilia", "programs", 60.0),  # records per unit of scale
    ("amperity", "audit_events", 2000.0),
    ("agyletime", "contacts", 120.0 * 91),
)


def memory(quick: bool, workdir: Path) -> list[Memory]:
    """Each tap's largest small-record stream at 10k and 1M records (100k quick)."""
    results = []
    for vendor, stream, per_unit in MEMORY_CASES:
        runs = []
        for records in (10_000, 100_000 if quick else 1_000_000):
            with SandboxProcess(scale=records / per_unit) as sandbox:
                sandbox.configure(rate_limits=dict.fromkeys(VENDORS, 0))
                runner = TapRunner(vendor, workdir)
                config = tap_config(
                    vendor,
                    sandbox.url(vendor),
                    page_size=PAGE_SIZE,
                    max_requests_per_second=UNPACED,
                )
                runs.append(runner.sync(config, (stream,), stream))
        results.append(Memory(vendor, stream, runs[0], runs[1]))
    return results


# --- the report --------------------------------------------------------------------------------


def previous_ratios(previous: str) -> dict[tuple[str, str], str]:
    """(vendor, stream) -> tap/raw of the throughput table of the previous report."""
    ratios = {}
    for line in previous.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) > 6 and cells[0].startswith("tap-") and cells[2] in ("small", "nested"):
            ratios[cells[0].removeprefix("tap-"), cells[1]] = cells[6]
    return ratios


def mark(ok: bool) -> str:
    """A pass/fail mark for the table."""
    return "yes" if ok else "**NO**"


def report(
    *,
    results: list[Throughput],
    paced: list[Paced],
    hidden: list[Paced],
    mem: list[Memory],
    full: list[FullSync],
    floors: list[FloorRun],
    profiles: ProfilesRun | None,
    previous: str,
    command: str,
    elapsed: float,
) -> str:
    """The markdown of docs/performance.md (``previous``: the last round's, for comparison)."""
    last_ratios = previous_ratios(previous)
    lines = [
        "# Performance",
        "",
        "Written by `scripts/bench.py` (`make bench`); do not edit by hand.",
        "",
        f"- Command: `{command}`",
        f"- Machine: {os.cpu_count()} cores, {platform.machine()}, "
        f"{platform.system()} {platform.release()}; Python {platform.python_version()}",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; the whole run took {elapsed:.0f} s",
        "",
        "## Throughput (CPU per record)",
        "",
        f"Sandbox rate limits off, taps' `max_requests_per_second` {UNPACED}, page size "
        f"{PAGE_SIZE}, sandbox records memoized and warmed. Tap: the CLI syncing only the stream, "
        "stdout to /dev/null, records from its `record_count` metric. Raw: requests + stdlib "
        "json, one `json.dumps` line per record to /dev/null, same auth, pages and page size. "
        f"Interleaved tap/raw runs, median of {REPEATS}. Records/s are over sync time: the "
        "SDK's `sync_duration` metric for the tap, the loop's own clock for raw (token request "
        "and every page included, interpreter start-up and imports not); the wall column "
        "is the same ratio over whole-process wall time, start-up included (the tap's "
        "imports and catalog parsing cost about 0.8 s, the raw loop's about 0.1 s). Peak RSS "
        "is the child's own high-water mark (VmHWM), the largest of its runs. "
        "Target: tap/raw >= 1.0. Last round: the tap/raw of the previous docs/performance.md.",
        "",
        "| tap | stream | shape | records | tap rec/s | raw rec/s | tap/raw | last round | >= 1.0 "
        "| tap/raw wall | tap peak RSS MB | raw peak RSS MB |",
        "|---|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for r in results:
        records = max((x.records for x in r.tap + r.raw), default=0)
        lines.append(
            f"| tap-{r.case.vendor} | {r.case.stream} | {r.case.shape} | {records:,} "
            f"| {r.tap_rate:,.0f} | {r.raw_rate:,.0f} | {r.ratio:.2f} "
            f"| {last_ratios.get((r.case.vendor, r.case.stream), '')} | {mark(r.ratio >= 1.0)} "
            f"| {r.wall_ratio:.2f} "
            f"| {max((x.peak_rss_mb for x in r.tap), default=0):.0f} "
            f"| {max((x.peak_rss_mb for x in r.raw), default=0):.0f} |"
        )
    problems = [f"- {r.case.vendor} {r.case.stream}: {p}" for r in results for p in r.problems]
    lines += [
        "",
        "## Pacing (sandbox ceilings on a strict 1-second sliding window, taps at defaults)",
        "",
        "Achieved req/s: requests / span of the run, capped at the busiest 1-second window "
        "when the run lasts over a second (a strict window admits ceiling x (span + 1) "
        "requests in a span).",
        "",
        "| tap | stream | requests | span s | busiest 1 s | achieved req/s | ceiling "
        "| % of ceiling | 429s | >= 95%, no 429 |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for p in paced:
        share = p.per_second / p.ceiling * 100
        lines.append(
            f"| tap-{p.vendor} | {', '.join(p.streams)} | {p.requests} | {p.span_s:.1f} "
            f"| {p.peak_window} | {p.per_second:.1f} | {p.ceiling} | {share:.0f}% | {p.rate_limited} "
            f"| {mark(p.run.ok and share >= 95 and p.rate_limited == 0)} |"
        )
    lines += [
        "",
        "## Latency hiding (200 ms per response, ceilings on, taps at defaults)",
        "",
        "Per-parent streams: one request per parent record; requests count the parents' "
        "pages too. Achieved req/s as above. Target: >= 80 req/s against Amilia's 100/s "
        "ceiling; no 429 from Amperity's Profile API (its 2000/s is never the limit: records/s "
        "of index_profiles below).",
        "",
        "| tap | streams synced | requests | achieved req/s | ceiling | 429s | wall s | target met |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for p in hidden:
        target = 80.0 if p.vendor == "amilia" else 0.0
        lines.append(
            f"| tap-{p.vendor} | {', '.join(p.streams)} | {p.requests} | {p.per_second:.1f} "
            f"| {p.ceiling} | {p.rate_limited} | {p.run.seconds:.1f} "
            f"| {mark(p.run.ok and p.per_second >= target and p.rate_limited == 0)} |"
        )
    if profiles is not None:
        speedup = profiles.per_second / PROFILES_BEFORE_PER_S
        lines += [
            "",
            "### Amperity Profile API (200 ms per response, 10/s and 2000/s ceilings on)",
            "",
            "profile_indexes + index_profiles through the CLI over 40 indexes of 2,500 profiles "
            "(scale 10; a quarter with --quick), sandbox records memoized and warmed: "
            "index_profiles' records over profile_indexes' sync time. Before: "
            f"{PROFILES_BEFORE_PER_S:,.0f} records/s by the same method at the code before "
            "this round (commit 8ed0346). Target: >= 20x, no 429.",
            "",
            "| records | requests | records/s | x before | 429s | target met |",
            "|---:|---:|---:|---:|---:|---|",
            f"| {profiles.run.records:,} | {profiles.requests} | {profiles.per_second:,.0f} "
            f"| {speedup:.1f} | {profiles.rate_limited} "
            f"| {mark(profiles.run.ok and speedup >= 20 and profiles.rate_limited == 0)} |",
        ]
    lines += [
        "",
        "## Memory (peak RSS as a stream grows)",
        "",
        "| tap | stream | records | peak RSS MB | x of smallest | <= 1.2x |",
        "|---|---|---:|---:|---:|---|",
    ]
    for m in mem:
        lines += [
            f"| tap-{m.vendor} | {m.stream} | {m.small.records:,} | {m.small.peak_rss_mb:.0f} "
            "| 1.00 | |",
            f"| tap-{m.vendor} | {m.stream} | {m.large.records:,} | {m.large.peak_rss_mb:.0f} "
            f"| {m.ratio:.2f} | {mark(m.small.ok and m.large.ok and m.ratio <= 1.2)} |",
        ]
    lines += [
        "",
        "## Full syncs (every default stream, limits off)",
        "",
        "The tap's default selection over a whole sandbox tenant, unpaced, at its default page "
        "size; then a tenant ten times larger. Records/s over wall time (start-up included). "
        "Target: peak RSS of the larger tenant <= 1.2x the smaller.",
        "",
        "| tap | scale | streams | records | wall s | records/s | peak RSS MB | x of smaller | <= 1.2x |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for small, large in zip(full[::2], full[1::2], strict=True):
        growth = large.run.peak_rss_mb / small.run.peak_rss_mb if small.run.peak_rss_mb else 0.0
        for f, ratio in ((small, None), (large, growth)):
            verdict = "" if ratio is None else mark(f.run.ok and small.run.ok and ratio <= 1.2)
            lines.append(
                f"| tap-{f.vendor} | {f.scale:g} | {f.streams} | {f.run.records:,} "
                f"| {f.run.seconds:.1f} | {f.run.wall_per_second:,.0f} | {f.run.peak_rss_mb:.0f} "
                f"| {'1.00' if ratio is None else f'{ratio:.2f}'} | {verdict} |"
            )
    lines += [
        "",
        "## Whole sync against the floor (default selection, ceilings on, 200 ms per response)",
        "",
        "Each tap's default selection over a realistic sandbox tenant, at its defaults, every "
        "API family's ceiling enforced by the sandbox on a strict 1-second window (counted as "
        "requests arrive), each response 200 ms late; sandbox records memoized and warmed, so "
        "that a response takes the latency, not the sandbox's time to build a page. Floor: for "
        "each API family, the requests the sync made at its page sizes divided by the family's "
        "ceiling; the largest of these (the taps fetch the next streams, of any family, while one "
        "is written). Sync: the sandbox's first request to its last. Ceilings: "
        + "; ".join(
            f"{v} " + ", ".join(f"{n} {c}/s" for n, c in FAMILY_CEILINGS[v].items())
            for v in VENDORS
        )
        + " (Amilia and Agyle Time document none: the tap's own default). "
        "Target: sync <= 1.15x the floor, no 429.",
        "",
        "| tap | scale | records | requests by family | floor s | sync s | sync / floor "
        "| 429s | wall s | <= 1.15x, no 429 |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for w in floors:
        by_family = ", ".join(f"{name} {x['requests']}" for name, x in w.families.items())
        lines.append(
            f"| tap-{w.vendor} | {w.scale:g} | {w.run.records:,} | {by_family} | {w.floor_s:.1f} "
            f"| {w.span_s:.1f} | {w.ratio:.2f} | {w.rate_limited} | {w.run.seconds:.1f} "
            f"| {mark(w.run.ok and w.ratio <= 1.15 and w.rate_limited == 0)} |"
        )
    lines += [
        "",
        "### Requests per 10,000 records, by stream (the runs above)",
        "",
        "A per-parent stream makes one request per parent at least, however few its records.",
        "",
        "| tap | stream | records | requests | requests per 10k records |",
        "|---|---|---:|---:|---:|",
    ]
    for w in floors:
        for stream, (calls, records) in w.per_stream.items():
            per_10k = f"{calls / records * 10_000:,.1f}" if records else "n/a (no records)"
            lines.append(f"| tap-{w.vendor} | {stream} | {records:,} | {calls:,} | {per_10k} |")
    failed = [
        f"- {p.vendor} {', '.join(p.streams)}: {p.run.note}" for p in paced + hidden if not p.run.ok
    ]
    failed += [f"- floor run {w.vendor}: {w.run.note}" for w in floors if not w.run.ok]
    failed += [
        f"- full sync {f.vendor} at scale {f.scale:g}: {f.run.note}" for f in full if not f.run.ok
    ]
    failed += [
        f"- memory {m.vendor} {m.stream}: {r.note}"
        for m in mem
        for r in (m.small, m.large)
        if not r.ok
    ]
    if problems or failed:
        lines += ["", "## Problems in this run", "", *problems, *failed]
    return "\n".join(lines) + "\n"


def throughputs(quick: bool, taps: list[str] | None, workdir: Path) -> list[Throughput]:
    """Every throughput case (of ``taps`` only, when given), printed as it ends."""
    results: list[Throughput] = []
    for case in CASES:
        if taps and case.vendor not in taps:
            continue
        print(f"bench: throughput {case.vendor} {case.stream} ...", flush=True)
        results.append(throughput(case, quick, workdir))
        r = results[-1]
        print(
            f"  tap {r.tap_rate:,.0f}/s raw {r.raw_rate:,.0f}/s ratio {r.ratio:.2f}"
            f" (wall {r.wall_ratio:.2f})" + (f" PROBLEMS {r.problems}" if r.problems else ""),
            flush=True,
        )
    return results


def main() -> int:
    """Run every measurement, print the table and write docs/performance.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller data (a few minutes)")
    parser.add_argument(
        "--only",
        choices=("throughput", "pacing", "latency", "memory", "full", "floor"),
        action="append",
        help="run only these parts (docs/performance.md is written only by a full run)",
    )
    parser.add_argument(
        "--tap", choices=VENDORS, action="append", help="throughput of these taps only"
    )
    parser.add_argument("--raw-worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.raw_worker:
        spec = json.loads(args.raw_worker)
        return raw_worker(spec["vendor"], spec["base"], spec["stream"], int(spec["page_size"]))
    parts = set(args.only or ("throughput", "pacing", "latency", "memory", "full", "floor"))
    started = time.monotonic()
    command = "make bench" if not args.quick else "make bench BENCH_ARGS=--quick"
    results: list[Throughput] = []
    paced: list[Paced] = []
    hidden: list[Paced] = []
    full: list[FullSync] = []
    mem: list[Memory] = []
    floors: list[FloorRun] = []
    profiles: ProfilesRun | None = None
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if "throughput" in parts:
            results = throughputs(args.quick, args.tap, workdir)
        if "pacing" in parts:
            print("bench: pacing ...", flush=True)
            paced = [*rate_limited(workdir), full_paced(workdir)]
        if "latency" in parts:
            print("bench: latency ...", flush=True)
            hidden = latency(args.quick, workdir)
            profiles = profiles_run(args.quick, workdir)
        if "memory" in parts:
            print("bench: memory ...", flush=True)
            mem = memory(args.quick, workdir)
        if "full" in parts:
            print("bench: full syncs ...", flush=True)
            full = full_syncs(args.quick, workdir)
        if "floor" in parts:
            print("bench: whole syncs against the floor ...", flush=True)
            floors = floor_runs(args.quick, workdir)
    text = report(
        results=results,
        paced=paced,
        hidden=hidden,
        mem=mem,
        full=full,
        floors=floors,
        profiles=profiles,
        previous=DOC.read_text(encoding="utf-8") if DOC.exists() else "",
        command=command,
        elapsed=time.monotonic() - started,
    )
    print()
    print(text)
    if args.only or args.tap:
        print(f"bench: partial run ({', '.join(sorted(parts))}); {DOC} left unchanged")
    else:
        DOC.write_text(text, encoding="utf-8")
        print(f"bench: wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
