"""Singer tap for Agyle Time (Playvox WFM), built with the Meltano Singer SDK."""

__version__ = "0.1.0"
