"""MeltanoLabs' target-postgres with `timestamptz` for date-times and `jsonb` for arrays."""

__version__ = "0.1.0"
