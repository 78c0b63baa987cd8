"""Dagster definitions that run `meltano run` for every tenant of the three taps."""
