"""Singer tap for the Amperity API and Profile API, built with the Meltano Singer SDK."""

__version__ = "0.1.0"
