"""Singer tap for the Amperity API and Profile API, built with the Meltano Singer SDK."""
