"""The code location ``dagster dev -m singer_orchestration.project`` loads: the definitions
of ``TENANTS_FILE`` (default: the project's tenants.yml)."""

from singer_orchestration.definitions import default_definitions

defs = default_definitions()
