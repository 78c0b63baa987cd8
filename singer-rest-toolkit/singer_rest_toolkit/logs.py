"""What a run logs for the person who reads it; the SDK's METRIC lines, other libraries' INFO
lines and the SDK's per-page and set-up lines only when asked for (the toolkit README's "Logs").
The SDK lines are matched on their message templates (tests/test_quiet_logs.py pins them)."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from typing_extensions import override

METRICS_LOGGER = "singer_sdk.metrics"
MELTANO_LOG_FORMAT_ENV = "MELTANO_CLI_LOG_FORMAT"  # ``meltano --log-format``, passed to plugins
OWN_LOGGERS = ("singer_sdk", "singer_rest_toolkit")
"""Besides the tap's own logger and its children: whose INFO lines reach the console."""
SDK_CHATTER = frozenset(
    {
        # Logged by every process: twice in a `meltano run` (discovery, then the sync).
        "Skipping parse of env var settings...",
        "Parsing env var for settings config...",
        "Added '%s' as child stream to '%s'",
        "Pagination stopped after %d pages because no records were found in the last response",
        # backoff's, on the stream's logger (the SDK passes it): the retry warning says it.
        "Backing off %s(...) for %.1fs (%s)",
    }
)
PARTITION_START = "Beginning sync of '%s' in %s mode with context keys: %s"
"""Once per parent record of a child stream: only each stream's first one is shown."""


def level_number(name: object) -> int | None:
    """The logging level named ``name`` (any case), or None."""
    return logging.getLevelNamesMapping().get(str(name).strip().upper())


def sdk_config_metrics_level() -> int | None:
    """The metrics logger's level in the ``SINGER_SDK_LOG_CONFIG`` file (YAML or JSON), or None."""
    path = os.environ.get("SINGER_SDK_LOG_CONFIG")
    if not path:
        return None
    try:
        config = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):  # the SDK has said why
        return None
    loggers = config.get("loggers") if isinstance(config, dict) else None
    metrics = loggers.get(METRICS_LOGGER) if isinstance(loggers, dict) else None
    return level_number(metrics.get("level")) if isinstance(metrics, dict) else None


def debug_logging() -> bool:
    """True at the DEBUG log level (``LOGLEVEL``, ``<TAP>_LOGLEVEL``, ``meltano --log-level``)."""
    return logging.getLogger().getEffectiveLevel() <= logging.DEBUG


class MetricsFilter(logging.Filter):
    """On the metrics logger: its lines pass only when asked for."""

    shown = False

    def show_if_asked(self, config: Mapping[str, Any]) -> None:
        """Decide from the tap's settings and the environment (the README's "Logs")."""
        machine_format = os.environ.get(MELTANO_LOG_FORMAT_ENV, "").lower() in ("json", "key_value")
        asked = (
            level_number(config.get("metrics_log_level")),
            sdk_config_metrics_level(),
            logging.DEBUG if debug_logging() else None,
            logging.INFO if machine_format else None,
        )
        self.shown = any(level is not None and level <= logging.INFO for level in asked)

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        return self.shown


_METRICS_FILTER = MetricsFilter()


class ConsoleFilter(logging.Filter):
    """On the handlers that write to the console: below WARNING, only the tap's, the SDK's
    and the toolkit's lines, less the SDK's chatter (all of them at the DEBUG log level)."""

    def __init__(self, tap_name: str) -> None:
        super().__init__()
        self.own = (tap_name, *OWN_LOGGERS)
        self.first_partitions: dict[str, logging.LogRecord] = {}

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING or debug_logging():
            return True
        if not any(record.name == own or record.name.startswith(f"{own}.") for own in self.own):
            return False
        if record.msg in SDK_CHATTER:
            return False
        if record.msg == PARTITION_START and isinstance(record.args, tuple) and record.args:
            # The same record reaches each console handler: pass it to all of them.
            return self.first_partitions.setdefault(str(record.args[0]), record) is record
        return True


def quiet_console(tap_name: str) -> MetricsFilter:
    """Filter the console's handlers (writing to stderr or stdout, not a file or a test's capture)
    and the metrics logger, before the SDK's first line; the METRIC lines are decided later."""
    for handler in logging.getLogger().handlers:
        stream = getattr(handler, "stream", None)
        console = stream is not None and stream in (sys.stderr, sys.stdout, sys.__stderr__)
        if console and not any(isinstance(f, ConsoleFilter) for f in handler.filters):
            handler.addFilter(ConsoleFilter(tap_name))
    logging.getLogger(METRICS_LOGGER).addFilter(_METRICS_FILTER)  # a second add does nothing
    return _METRICS_FILTER
