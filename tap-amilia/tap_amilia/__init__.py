"""Singer tap for the Amilia v3 organization API."""

__version__ = "0.1.0"
