"""``python -m tap_amilia``."""

from tap_amilia.tap import TapAmilia

TapAmilia.cli()
