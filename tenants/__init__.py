"""The teams that share the GPU cluster, as data: who they are and what they may use."""

from tenants.definitions import DEFINITIONS, DEFAULT_TENANTS, TenantDefinition
from tenants.defaults import (PRIORITY_CLASSES, QUOTA_DEFAULTS, RESERVED_NAMESPACES,
                              TENANT_DEFAULTS)

__all__ = ["DEFINITIONS", "DEFAULT_TENANTS", "TenantDefinition", "PRIORITY_CLASSES",
           "QUOTA_DEFAULTS", "RESERVED_NAMESPACES", "TENANT_DEFAULTS"]
