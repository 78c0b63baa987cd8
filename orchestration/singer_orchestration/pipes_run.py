"""The process Dagster Pipes starts for one tenant: it runs `meltano run`, sends its log
lines to Dagster's run log and reports the run's figures as the materialization's metadata.

Meltano does not speak Pipes; this small process does, between Dagster and Meltano.
"""

from __future__ import annotations

import resource
import subprocess
import time
from typing import Any

from dagster_pipes import PipesContext, open_dagster_pipes

from singer_orchestration.runs import RunSummary


def run(pipes: PipesContext) -> None:
    """Run the command of the ``command`` extra; raise naming the error line if it fails."""
    command: list[str] = pipes.get_extra("command")
    tenant: str = pipes.get_extra("tenant")
    extra_metadata: dict[str, Any] = pipes.get_extra("metadata")
    summary = RunSummary()
    started = time.monotonic()
    with subprocess.Popen(  # noqa: S603 - the command the asset built, no shell
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            text = summary.read(line)
            if text:
                pipes.log.info(text)
    elapsed = time.monotonic() - started
    # Meltano, the tap and the loader: descendants this process (through Meltano) waited for.
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    extra_metadata["cpu_s"] = round(usage.ru_utime + usage.ru_stime, 2)
    if process.returncode != 0:
        msg = f"meltano run failed for {tenant} (exit {process.returncode}): {summary.cause()}"
        raise RuntimeError(msg)
    pipes.report_asset_materialization(metadata={**summary.metadata(elapsed), **extra_metadata})


def main() -> None:
    """Entry point of ``python -m singer_orchestration.pipes_run``."""
    with open_dagster_pipes() as pipes:
        run(pipes)


if __name__ == "__main__":
    main()
