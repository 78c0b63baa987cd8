"""The accounts each vendor stand-in serves at once, each addressed the vendor's own way.

A customer rarely has one account: the sandbox serves several per vendor, all from the same
seed, so that their record ids overlap (index ``i`` of a kind has the same id in every
tenant) while their sizes differ (each has its own share of ``--scale``) and every record
carries its own tenant's identity. The first tenant of each vendor is the one the sandbox
always served (``meltano.yml``'s sandbox environment): its data is unchanged.

- Amilia: an organization number (or URL slug) in the path; one user administers all of
  them, as an Amilia account can be an administrator of several organizations.
- Amperity: a tenant id in the ``Amperity-Tenant``/``X-Amperity-Tenant`` headers; each
  tenant has its own API key (client id and secret).
- Agyle Time: a subdomain, i.e. its own tenant host (``/agyletime/tenants/{subdomain}/api``;
  ``/agyletime/tenant/api`` is the first tenant's); each has its own access key, and the
  regional host serves the tenant the token was issued for.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SandboxTenant:
    """One account of one vendor in the sandbox."""

    key: str
    """How the vendor addresses it: organization number, tenant id or subdomain."""
    number: int
    """The numeric id its records carry (Amilia's OrganizationId, Agyle Time's
    organisationId); Amperity's records carry ``key``."""
    share: float
    """Its size, as a share of the sandbox's ``--scale``."""
    client_id: str
    client_secret: str
    alias: str = ""
    """A second way to address it: Amilia's URL slug."""


TENANTS: dict[str, tuple[SandboxTenant, ...]] = {
    "amilia": (
        SandboxTenant(
            "8008", 8008, 1.0, "sandbox@example.com", "sandbox-password", "forest-explorers"
        ),
        SandboxTenant(
            "8012", 8012, 0.5, "sandbox@example.com", "sandbox-password", "lakeside-recreation"
        ),
        SandboxTenant(
            "8016", 8016, 0.25, "sandbox@example.com", "sandbox-password", "river-valley-parks"
        ),
    ),
    "amperity": (
        SandboxTenant("acme-sandbox", 0, 1.0, "sandbox-client-id", "sandbox-client-secret"),
        SandboxTenant("globex", 0, 0.5, "globex-client-id", "globex-client-secret"),
        SandboxTenant("initech", 0, 0.25, "initech-client-id", "initech-client-secret"),
    ),
    "agyletime": (
        SandboxTenant("acme", 4242, 1.0, "sandbox-access-key-id", "sandbox-access-key-secret"),
        SandboxTenant(
            "umbrella", 4343, 0.5, "umbrella-access-key-id", "umbrella-access-key-secret"
        ),
        SandboxTenant("hooli", 4444, 0.25, "hooli-access-key-id", "hooli-access-key-secret"),
    ),
}
"""Every vendor's tenants, the first being the default one."""


def default_tenant(vendor: str) -> SandboxTenant:
    """The tenant the sandbox always served (its data unchanged)."""
    return TENANTS[vendor][0]


def find_tenant(vendor: str, key: str) -> SandboxTenant | None:
    """``vendor``'s tenant addressed as ``key`` (or its alias), case-insensitively."""
    wanted = key.lower()
    for tenant in TENANTS[vendor]:
        if wanted in (tenant.key.lower(), tenant.alias.lower()) and wanted:
            return tenant
    return None


def tenant_numbered(vendor: str, number: int) -> SandboxTenant | None:
    """``vendor``'s tenant whose records carry ``number``."""
    return next((t for t in TENANTS[vendor] if t.number == number), None)


ADDRESS_SETTINGS = {"amilia": "organization", "amperity": "tenant_id", "agyletime": "subdomain"}
"""The tap setting that addresses a tenant of each vendor."""
FIRST_SECRETS = frozenset({"username", "client_id", "access_key_id", "api_key"})
"""Settings that hold a tenant's ``client_id`` (the others its ``client_secret``)."""


def credential(vendor: str, settings: dict[str, object], setting: str) -> str | None:
    """The sandbox's public fake value of ``setting`` for the tenant ``settings`` address."""
    tenant = find_tenant(vendor, str(settings.get(ADDRESS_SETTINGS[vendor], "")))
    if tenant is None:
        return None
    return tenant.client_id if setting in FIRST_SECRETS else tenant.client_secret
