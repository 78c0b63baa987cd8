"""``python -m tap_agyletime``."""

from tap_agyletime.tap import TapAgyleTime

TapAgyleTime.cli()
