"""``python -m tap_amperity``."""

from tap_amperity.tap import TapAmperity

TapAmperity.cli()
