"""Singer tap for the Amilia v3 organization API."""
