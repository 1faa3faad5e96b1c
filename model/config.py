"""Stack config -> LabSpec, with every problem collected and reported in one ConfigError.

Input is a flat mapping of full config keys ("gpu-lab:cluster", "gcp:project") to
values, either as Pulumi hands them to a program (structured values as JSON
strings) or as they stand in a Pulumi.<stack>.yaml file (already parsed).
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
from pathlib import Path
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, Mapping

from model.errors import MISSING, ConfigError, Problem, did_you_mean
from model import machines, names
from model.gpu_catalog import CATALOG, ZONE_TABLE_REGIONS, Accelerator
from model.frozen import FrozenDict, freeze
from model.quantity import parse_quantity
from model.reader import DNS_LABEL, QUANTITY, Fields, check_bool, check_str
from model.workloads import LABEL_KEY, LABEL_VALUE, PORT_NAME, load_workloads
from model.spec import (
    GPU_QUOTA_KEYS, GPU_RESOURCE, MIG_CAPABLE, POOL_LABEL, ACCELERATOR_LABEL, AddonsSpec,
    ClusterSpec, FirewallProtocolSpec, FirewallRuleSpec, GcpSpec, GpuOperatorSpec, GpuPoolSpec,
    LabSpec, MonitoringSpec, NetworkSpec, NodePoolSpec, RoleBindingSpec, TenantSpec,
)
import tenants as tenant_catalog
from tenants.defaults import default_role_bindings

NAMESPACE = "gpu-lab"
PLATFORMS = ("gke", "existing")
MIG_STRATEGIES = ("none", "single", "mixed")
RELEASE_CHANNELS = ("RAPID", "REGULAR", "STABLE", "EXTENDED")
DRIVER_VERSIONS = ("DEFAULT", "LATEST", "INSTALLATION_DISABLED")
GKE_NAME_MAX = 40           # cluster and node pool names
GPU_OPERATOR_CHART = "v26.3.3"
KUBE_PROMETHEUS_STACK_CHART = "88.5.3"
FAKE_GPU_OPERATOR_CHART = "0.2.0"

# Top-level gpu-lab:<key> names and whether Pulumi hands them over as JSON.
TOP_LEVEL_KEYS = {
    "platform": False, "cluster": True, "systemPool": True, "gpuPools": True,
    "tenants": True, "addons": True, "workload": True, "workloads": True,
    "expiresAt": False, "createdAt": False,
    "candidate": True,
}
REGION = re.compile(r"[a-z]+-[a-z]+\d+")
DOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+"
SECURITY_GROUP = re.compile(r"gke-security-groups@" + DOMAIN, re.IGNORECASE)
# A service account's e-mail: a user-made account (<id>@<project>.iam.gserviceaccount.com,
# the id 6-30 characters; a domain-scoped project example.com:ml gives ml.example.com) or one
# Google makes (Compute Engine's, App Engine's).
SERVICE_ACCOUNT = re.compile(r"[a-z][-a-z0-9]{4,28}[a-z0-9]@[a-z]([-a-z0-9.]*[a-z0-9])?"
                             r"\.iam\.gserviceaccount\.com"
                             r"|\d+-compute@developer\.gserviceaccount\.com"
                             r"|[a-z][-a-z0-9]{4,28}[a-z0-9]@appspot\.gserviceaccount\.com")
ZONE = re.compile(r"[a-z]+-[a-z]+\d+-[a-z]")


def load_spec(values: Mapping[str, Any], stack: str = "dev") -> LabSpec:
    """Build the LabSpec for one stack, or raise ConfigError listing every problem.

    Any other exception is a value the checks did not foresee: it still leaves as a
    ConfigError, naming the key without which the config reads (tests/test_bad_input.py
    sweeps every shipped stack so that none is left)."""
    try:
        return _load_spec(values, stack)
    except ConfigError:
        raise
    except Exception as err:  # noqa: BLE001 - the boundary: no config gets a traceback
        culprits = [key for key in values if _reads_without(values, key, stack)]
        raise ConfigError([Problem(key, values[key], f"gpu-lab cannot read it "
                                   f"({type(err).__name__}: {err}); see "
                                   "docs/configuration.md") for key in culprits]
                          or [Problem("config", "(the whole stack)", f"gpu-lab cannot read it "
                                      f"({type(err).__name__}: {err})")]) from None


def _reads_without(values: Mapping[str, Any], key: str, stack: str) -> bool:
    """Does the config read (into a spec or a ConfigError) once `key` is left out?"""
    try:
        _load_spec({k: v for k, v in values.items() if k != key}, stack)
    except ConfigError:
        return True
    except Exception:  # noqa: BLE001
        return False
    return True


def _load_spec(values: Mapping[str, Any], stack: str) -> LabSpec:
    problems: list[Problem] = []
    _check_namespaces(values, problems)
    ours = _own_keys(values, problems)

    platform = check_str(problems, f"{NAMESPACE}:platform", ours.get("platform", "gke"),
                         choices=PLATFORMS, default="gke")
    gcp = _gcp(values, platform, problems)
    cluster = _cluster(Fields(f"{NAMESPACE}:cluster", ours.get("cluster"), problems), gcp, stack,
                       platform)
    addons = _addons(Fields(f"{NAMESPACE}:addons", ours.get("addons"), problems))
    system_pool = _system_pool(Fields(f"{NAMESPACE}:systemPool", ours.get("systemPool"),
                                      problems))
    before = len(problems)
    gpu_pools = _gpu_pools(ours.get("gpuPools", MISSING), gcp, addons, platform, problems)
    _check_mig(addons, gpu_pools, problems)
    _check_time_sharing(gpu_pools, problems)
    _check_pool_names(system_pool, gpu_pools, problems)
    _check_pool_nodes(gpu_pools, problems)
    _check_firewall_rules(cluster, gpu_pools, platform, problems)
    # Tenant quotas are checked against pool capacity only when the pools are sound.
    capacity = sum(p.max_gpus for p in gpu_pools) if len(problems) == before else None
    largest_node = max((p.schedulable_gpus_per_node for p in gpu_pools), default=1)
    tenants = _tenants(ours.get("tenants", MISSING), capacity, largest_node, problems)
    workloads = load_workloads(ours.get("workload", MISSING), ours.get("workloads", MISSING),
                               tenants, gpu_pools, system_pool, problems,
                               check_fit=capacity is not None,
                               know_machines=platform == "gke")
    expires_at = _timestamp("expiresAt", ours.get("expiresAt"), problems)
    _timestamp("createdAt", ours.get("createdAt"), problems)   # recorded by `lab new`
    # The candidate's login (components/candidate_access.py): plain config, never inferred,
    # so every copy of the stack's program renders the same.
    candidate = Fields(f"{NAMESPACE}:candidate", ours.get("candidate"), problems)
    candidate_login = candidate.bool("login", False)
    candidate_tenant = candidate.str("tenant", None)
    candidate.finish()
    if candidate_tenant is not None and candidate_tenant not in {t.name for t in tenants}:
        problems.append(Problem(f"{NAMESPACE}:candidate.tenant", candidate_tenant,
                                "must be one of the stack's tenants: "
                                + ", ".join(t.name for t in tenants)))
    if candidate_login and CANDIDATE_NAMESPACE in {t.name for t in tenants}:
        problems.append(Problem(f"{NAMESPACE}:tenants", CANDIDATE_NAMESPACE,
                                "is the namespace of the candidate's login "
                                f"({NAMESPACE}:candidate.login); name the tenant otherwise"))

    if problems:
        raise ConfigError(problems)
    return LabSpec(platform=platform, stack=stack, gcp=gcp, cluster=cluster,
                   system_pool=system_pool, gpu_pools=gpu_pools, tenants=tenants,
                   priority_classes=tenant_catalog.PRIORITY_CLASSES, addons=addons,
                   workloads=workloads, expires_at=expires_at, candidate_tenant=candidate_tenant,
                   candidate_login=candidate_login)


def _timestamp(key: str, value: Any, problems: list[Problem]) -> str | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        problems.append(Problem(f"{NAMESPACE}:{key}", value,
                                "must be an ISO 8601 time such as 2026-11-24T18:00:00Z"))
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# gpu-lab:candidate.login: the candidate's identity, ServiceAccount <namespace>/<account>,
# with a ClusterRole made for the exercise. candidate.tenant: the tenant namespace their
# kubeconfig starts in (kubectl without -n).
CANDIDATE_NAMESPACE = "gpu-lab-candidate"
CANDIDATE_ACCOUNT = "candidate"


def _own_keys(values: Mapping[str, Any], problems: list[Problem]) -> dict[str, Any]:
    """The gpu-lab:* values by short name, JSON decoded; unknown keys are problems."""
    ours: dict[str, Any] = {}
    for full_key, value in values.items():
        namespace, _, name = full_key.partition(":")
        if namespace != NAMESPACE:
            continue
        if name not in TOP_LEVEL_KEYS:
            problems.append(Problem(full_key, value, "unknown gpu-lab key"
                                    + did_you_mean(name, TOP_LEVEL_KEYS)
                                    + "; known keys: " + ", ".join(TOP_LEVEL_KEYS)))
            continue
        if TOP_LEVEL_KEYS[name] and isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                pass  # a plain string where an object belongs: reported as a type problem
        ours[name] = value
    return ours


# The namespaces gpu-lab reads. Keys of other namespaces are left alone (other providers'
# settings, values a Pulumi ESC environment brings), except those that look like a
# misspelling of these (gpulab:tenants, gpc:project, google:project): they would be ignored.
READ_NAMESPACES = (NAMESPACE, "gcp")
MISSPELT = {"google": "gcp", "gke": "gcp", "gcloud": "gcp"}


def _check_namespaces(values: Mapping[str, Any], problems: list[Problem]) -> None:
    for full_key, value in values.items():
        namespace, colon, name = str(full_key).partition(":")
        if not colon or not namespace or not name:
            problems.append(Problem(str(full_key), value, "config keys have the form "
                                    "<namespace>:<name>, such as gpu-lab:tenants"))
            continue
        if namespace in READ_NAMESPACES:
            continue
        plain = re.sub(r"[^a-z0-9]", "", namespace.lower())
        meant = MISSPELT.get(plain) or next(
            (ns for ns in READ_NAMESPACES if plain == re.sub(r"[^a-z0-9]", "", ns)), None)
        hint = f" (did you mean {meant!r}?)" if meant else \
            did_you_mean(namespace.lower(), READ_NAMESPACES)
        if hint:
            problems.append(Problem(full_key, value, f"unknown config namespace "
                                    f"{namespace!r}{hint}; gpu-lab reads {NAMESPACE}:<key> and "
                                    "gcp:<key>"))


@functools.cache
def gcp_provider_keys() -> frozenset[str]:
    """The gcp provider's own config keys (model/gcp_provider_keys.txt)."""
    text = (Path(__file__).parent / "gcp_provider_keys.txt").read_text()
    return frozenset(line.strip() for line in text.splitlines()
                     if line.strip() and not line.startswith("#"))


def _gcp(values: Mapping[str, Any], platform: str, problems: list[Problem]) -> GcpSpec:
    known = gcp_provider_keys()
    for full_key in values:
        namespace, _, name = str(full_key).partition(":")
        if namespace == "gcp" and name not in known:
            problems.append(Problem(full_key, values[full_key], "not a config key of the gcp "
                                    "provider" + did_you_mean(name, known)
                                    + "; gpu-lab reads gcp:project and gcp:region"))
    project = values.get("gcp:project")
    region = values.get("gcp:region", "us-central1")
    if platform == "gke" and not project:  # "existing" creates nothing in GCP
        problems.append(Problem("gcp:project", MISSING, "the gke platform needs the GCP project "
                                "to create resources in: pulumi config set gcp:project <id>"))
    if not isinstance(region, str) or not REGION.fullmatch(region):
        problems.append(Problem("gcp:region", region, "must be a GCP region such as us-central1"))
        region = "us-central1"
    return GcpSpec(project=str(project or ""), region=region)


def _cluster(f: Fields, gcp: GcpSpec, stack: str, platform: str) -> ClusterSpec:
    name = f.str("name", _default_cluster_name(stack), label=True, max_len=GKE_NAME_MAX)
    if name and not name[0].isalpha():
        f.problem(f.path("name"), name, "must start with a letter (GKE cluster names)")
    location = f.str("location", f"{gcp.region}-a")
    if location and not (REGION.fullmatch(location) or ZONE.fullmatch(location)):
        f.problem(f.path("location"), location,
                  "must be a zone (us-central1-a: zonal cluster) or a region (us-central1: "
                  "regional cluster)")
    elif location and not location.startswith(gcp.region):
        f.problem(f.path("location"), location, f"must lie in gcp:region {gcp.region}")
    net = f.obj("network")
    network = NetworkSpec(
        subnet_cidr=_cidr(net, "subnetCidr", "10.10.0.0/20"),
        pods_cidr=_cidr(net, "podsCidr", "10.20.0.0/14"),
        services_cidr=_cidr(net, "servicesCidr", "10.24.0.0/20"),
        master_cidr=_cidr(net, "masterCidr", "172.16.0.0/28"),
        # Their target tags are checked against the GPU pools once those are read.
        firewall_rules=_firewall_rules(net),
    )
    _check_network(net, network)
    net.finish()
    spec = ClusterSpec(
        name=name,
        location=location,
        release_channel=f.str("releaseChannel", "REGULAR", choices=RELEASE_CHANNELS),
        deletion_protection=f.bool("deletionProtection", False),
        network=network,
        master_authorized_cidrs=tuple(_cidr_list(f, "masterAuthorizedCidrs")),
        # GKE reads the members of one Google Group for RBAC, named so in the domain.
        rbac_security_group=f.str("rbacSecurityGroup", None, matching=(
            SECURITY_GROUP, "must be gke-security-groups@<your domain> (GKE reads Google "
            "Groups for RBAC from that group only)")),
        kube_context=f.str("kubeContext", None),
    )
    if spec.kube_context and platform != "existing":
        f.problem(f.path("kubeContext"), spec.kube_context,
                  "only applies to gpu-lab:platform existing (on gke the cluster is created)")
    f.finish()
    return spec


def _default_cluster_name(stack: str) -> str:
    # Long stack names keep a readable prefix and a hash, so two of them never collide.
    name = re.sub(r"[^a-z0-9-]+", "-", f"gpu-lab-{stack}".lower()).strip("-")
    return names.fit(name, GKE_NAME_MAX)


def _cidr(f: Fields, name: str, default: str) -> str:
    value = f.str(name, default)
    why_not = cidr_problem(value) if isinstance(value, str) else None
    if why_not:
        f.problem(f.path(name), value, why_not)
        return default
    return value if isinstance(value, str) else default


def cidr_problem(value: str) -> str | None:
    """Why a value is not an IPv4 network written as address/prefix (None when it is).
    GCP takes nothing else: no bare addresses, no host bits, no IPv6 here."""
    example = "an IPv4 network with its prefix length, such as 10.10.0.0/20"
    if "/" not in value:
        return f"must be {example}"
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return f"must be {example}"
    if network.version != 4:
        return f"must be {example} (IPv6 is not used here)"
    if str(network) != value:
        return f"has host bits set: the network is {network}"
    return None


def _cidr_list(f: Fields, name: str) -> list[str]:
    cidrs = []
    for value in f.str_list(name):
        why_not = cidr_problem(value)
        if why_not:
            f.problem(f.path(name), value, why_not)
        else:
            cidrs.append(value)
    return cidrs


FIREWALL_DIRECTIONS = ("INGRESS", "EGRESS")
# The protocol names a firewall rule takes (or an IP protocol number, 0-255).
FIREWALL_PROTOCOLS = ("all", "tcp", "udp", "icmp", "esp", "ah", "sctp", "ipip")
FIREWALL_PORTED = ("tcp", "udp", "sctp")
PORT_RANGE = re.compile(r"(\d{1,5})(-(\d{1,5}))?")


def _firewall_rules(net: Fields) -> tuple[FirewallRuleSpec, ...]:
    """firewallRules: VPC firewall rules, with the arguments of a compute.Firewall."""
    rules: list[FirewallRuleSpec] = []
    seen: set[str] = set()
    for key, item in net.items("firewallRules"):
        r = Fields(key, item, net.problems)
        name = r.str("name", None, max_len=63, matching=(
            names.GCP_NAME, "must be a GCP name: lowercase letters, digits and '-', starting "
            "with a letter and not ending with '-'"))
        if name is None and not r.has("name"):
            r.problem(r.path("name"), MISSING, "every firewall rule needs a name")
        priority = r.int("priority", 1000, minimum=0)
        if priority > 65535:
            r.problem(r.path("priority"), priority, "must be an integer from 0 to 65535")
            priority = 1000
        before = len(r.problems)
        rule = FirewallRuleSpec(
            name=name or "",
            direction=r.str("direction", "INGRESS", choices=FIREWALL_DIRECTIONS),
            priority=priority,
            allows=_firewall_protocols(r, "allows"),
            denies=_firewall_protocols(r, "denies"),
            source_ranges=tuple(_cidr_list(r, "sourceRanges")),
            destination_ranges=tuple(_cidr_list(r, "destinationRanges")),
            target_tags=r.str_list("targetTags"),
            description=r.str("description", None),
        )
        r.finish()
        if len(r.problems) == before and isinstance(item, dict) and \
                bool(rule.allows) == bool(rule.denies):
            r.problem(key, item, "must have allows or denies (one of them, not both)")
        if name in seen:
            r.problem(r.path("name"), name, "must be unique")
        seen.add(name)
        rules.append(rule)
    return tuple(rules)


def _firewall_protocols(r: Fields, name: str) -> tuple[FirewallProtocolSpec, ...]:
    """allows / denies: [{protocol, ports}]."""
    found = []
    for key, item in r.items(name):
        p = Fields(key, item, r.problems)
        protocol = p.str("protocol", None)
        if protocol is None and not p.has("protocol"):
            p.problem(p.path("protocol"), MISSING, "name the protocol: "
                      + ", ".join(FIREWALL_PROTOCOLS) + " or an IP protocol number")
        elif isinstance(protocol, str) and protocol not in FIREWALL_PROTOCOLS and not (
                protocol.isdigit() and int(protocol) <= 255):
            p.problem(p.path("protocol"), protocol, "must be one of "
                      + ", ".join(FIREWALL_PROTOCOLS) + " or an IP protocol number (0-255)"
                      + did_you_mean(protocol, FIREWALL_PROTOCOLS))
        ports = p.str_list("ports")
        for port in ports:
            match = PORT_RANGE.fullmatch(port)
            if not match or not all(1 <= int(n) <= 65535 for n in match.group(1, 3) if n):
                p.problem(p.path("ports"), port, "every entry must be a port (443) or a range "
                          "(8000-8100) of ports 1-65535")
        if ports and protocol not in FIREWALL_PORTED:
            p.problem(p.path("ports"), list(ports), "only tcp, udp and sctp have ports")
        p.finish()
        found.append(FirewallProtocolSpec(protocol=protocol or "", ports=ports))
    return tuple(found)


# GKE's private-cluster control plane takes exactly a /28 (masterIpv4CidrBlock).
MASTER_PREFIX = 28


def _check_network(f: Fields, network: NetworkSpec) -> None:
    """The control plane's range is a /28, and the four ranges of the VPC-native cluster
    (nodes, pods, services, control plane) do not overlap: GKE refuses the cluster."""
    ranges = {"subnetCidr": network.subnet_cidr, "podsCidr": network.pods_cidr,
              "servicesCidr": network.services_cidr, "masterCidr": network.master_cidr}
    master = ipaddress.ip_network(network.master_cidr)
    if master.prefixlen != MASTER_PREFIX:
        f.problem(f.path("masterCidr"), network.master_cidr,
                  f"must be a /{MASTER_PREFIX} (GKE's control plane range), such as 172.16.0.0/28")
    names = list(ranges)
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            a, b = ipaddress.ip_network(ranges[first]), ipaddress.ip_network(ranges[second])
            if a.overlaps(b):
                f.problem(f.path(second), ranges[second],
                          f"overlaps {f.path(first)} ({ranges[first]}); the node, pod, service "
                          "and control plane ranges must be disjoint")


def _system_pool(f: Fields) -> NodePoolSpec:
    spec = NodePoolSpec(
        name=f.str("name", "system", label=True, max_len=GKE_NAME_MAX),
        machine_type=_machine_type(f, "e2-standard-4"),
        min_nodes=f.int("minNodes", 1, minimum=1),
        max_nodes=f.int("maxNodes", 3, minimum=1),
        disk_size_gb=f.int("diskSizeGb", 50, minimum=10),
        spot=f.bool("spot", False),
    )
    _check_min_max(f, spec.min_nodes, spec.max_nodes)
    f.finish()
    return spec


def _machine_type(f: Fields, default: str | None) -> str | None:
    """A Compute Engine machine type that exists (model/machines.py)."""
    value = f.str("machineType", default)
    if not isinstance(value, str):
        return default
    try:
        machines.machine(value)
    except ValueError as err:
        f.problem(f.path("machineType"), value, str(err))
        return default
    return value


def _check_min_max(f: Fields, low: int, high: int) -> None:
    if low > high:
        f.problem(f.path("minNodes"), low, f"must be <= maxNodes ({high})")


DEFAULT_GPU_POOLS = [{"name": "t4", "accelerator": "nvidia-tesla-t4",
                      "machineType": "n1-standard-4", "gpusPerNode": 1,
                      "minNodes": 0, "maxNodes": 2, "spot": True}]


def _gpu_pools(raw: Any, gcp: GcpSpec, addons: AddonsSpec, platform: str,
               problems: list[Problem]) -> tuple[GpuPoolSpec, ...]:
    key = f"{NAMESPACE}:gpuPools"
    if raw is MISSING:
        raw = DEFAULT_GPU_POOLS
    if not isinstance(raw, list):
        problems.append(Problem(key, raw, "must be a list of GPU node pools"))
        return ()
    pools = []
    for i, item in enumerate(raw):
        f = Fields(f"{key}[{i}]", item, problems)
        pools.append(_gpu_pool(f, gcp, addons, platform))
        f.finish()
    return tuple(pools)


def _gpu_pool(f: Fields, gcp: GcpSpec, addons: AddonsSpec, platform: str) -> GpuPoolSpec:
    name = f.str("name", None, label=True, max_len=GKE_NAME_MAX)
    if name is None and not f.has("name"):
        f.problem(f.path("name"), MISSING, "every GPU pool needs a name (a DNS-1123 label)")
    accelerator = f.str("accelerator", "nvidia-tesla-t4")
    machine_type = _machine_type(f, None)
    catalog_entry = CATALOG.get(accelerator) if accelerator else None
    if accelerator and catalog_entry is None:
        f.problem(f.path("accelerator"), accelerator, "must be one of "
                  + ", ".join(CATALOG) + did_you_mean(accelerator, CATALOG))
    default_count = 1
    if catalog_entry and machine_type is None:
        machine_type = _default_machine_type(accelerator)
    if catalog_entry and machine_type:
        default_count = catalog_entry.gpus_for(machine_type) or 1
    gpus = f.int("gpusPerNode", default_count, minimum=1)
    if catalog_entry and machine_type:
        why_not = catalog_entry.check(machine_type, gpus)
        if why_not:
            f.problem(f.path("machineType"), machine_type, why_not)
    # On an existing cluster the pool is the nodes it lists, all of them always there:
    # nothing adds or removes nodes, so both limits default to how many it lists.
    nodes = _pool_nodes(f, platform)
    listed = len(nodes) if platform == "existing" else 0
    min_nodes = f.int("minNodes", listed, minimum=0)
    max_nodes = f.int("maxNodes", listed or 1, minimum=1)
    _check_min_max(f, min_nodes, max_nodes)
    _check_listed(f, nodes, max_nodes)
    zones = _pool_zones(f, gcp, platform, catalog_entry)
    operator = addons.gpu_operator
    # Whether the GPU Operator serves this pool, or GKE's own GPU stack does.
    pool_operator = f.bool("gpuOperator", operator.enabled)
    if pool_operator and not operator.enabled:
        f.problem(f.path("gpuOperator"), True, "the GPU Operator add-on is off "
                  "(gpu-lab:addons.gpuOperator.enabled)")
        pool_operator = False
    spec = GpuPoolSpec(
        name=name or "",
        accelerator=accelerator or "",
        gpus_per_node=gpus,
        machine_type=machine_type or "",
        min_nodes=min_nodes,
        max_nodes=max_nodes,
        disk_size_gb=f.int("diskSizeGb", 100, minimum=10),
        spot=f.bool("spot", False),
        zones=zones,
        driver_version=_driver_version(f, operator, pool_operator),
        gke_device_plugin=_gke_device_plugin(f, operator, pool_operator),
        gpu_operator=pool_operator,
        nodes=nodes,
        gpu_replicas=max(1, operator.time_slicing_replicas),
    )
    return replace(spec, node_labels=_node_labels(f, spec.derived_labels))


# Label prefixes Kubernetes keeps for its own components (GKE refuses them in a node pool's
# labels).
RESERVED_LABEL_PREFIXES = ("kubernetes.io/", "k8s.io/")


def _node_labels(f: Fields, derived: dict[str, str]) -> FrozenDict:
    """labels: Kubernetes labels for the pool's nodes (the node pool's node_config.labels),
    besides those gpu-lab sets from the pool's settings."""
    labels = f.obj("labels")
    pairs = []
    for key in labels.names():
        value = labels.raw(key)
        if value is MISSING:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"     # YAML reads an unquoted true as a bool
        if not isinstance(value, str) or not LABEL_KEY.fullmatch(key) or len(key) > 316 \
                or not LABEL_VALUE.fullmatch(value) or len(value) > 63:
            labels.problem(labels.path(key), value, "must be a Kubernetes label (key: value, "
                           "e.g. team: vision)")
            continue
        domain = key.rpartition("/")[0] + "/"
        if domain.endswith(RESERVED_LABEL_PREFIXES) or key in (POOL_LABEL, ACCELERATOR_LABEL):
            labels.problem(labels.path(key), value, "is a label Kubernetes or gpu-lab sets "
                           "itself (kubernetes.io/, k8s.io/, " + POOL_LABEL + ", "
                           + ACCELERATOR_LABEL + ")")
            continue
        if key in derived and derived[key] != value:
            labels.problem(labels.path(key), value, f"the pool's settings set it to "
                           f"{derived[key]!r} (gkeDevicePlugin, gpuOperator)")
            continue
        pairs.append((key, value))
    labels.finish()
    return FrozenDict(tuple(pairs))


def _pool_zones(f: Fields, gcp: GcpSpec, platform: str,
                entry: Accelerator | None) -> tuple[str, ...]:
    """The zones a GPU pool's nodes come from. By default every zone of gcp:region that offers
    the pool's GPU (ZONE_TABLE in model/gpu_catalog.py), so one zone's stockout does not block
    the pool and Spot pools (location policy ANY) go where there is capacity. Explicit `zones`
    win, but each must offer the GPU."""
    key = f.path("zones")
    zones = f.str_list("zones")
    if platform == "existing":          # nothing is created in GCP: the pool is its `nodes`
        if zones:
            f.problem(key, list(zones), "only applies to gpu-lab:platform gke; on existing "
                      "the pool is the nodes listed under nodes")
        return ()
    in_region = [z for z in zones if ZONE.fullmatch(z) and z.startswith(gcp.region + "-")]
    for zone in zones:
        if zone not in in_region:
            f.problem(key, zone, f"every entry must be a zone of {gcp.region}")
    if entry is None:                   # an unknown accelerator is reported already
        return zones
    offered = entry.zones_in(gcp.region)
    elsewhere = "regions that have it: " + ", ".join(entry.regions)
    if gcp.region not in ZONE_TABLE_REGIONS:
        if not zones:
            f.problem(key, MISSING, f"gpu-lab's zone table (model/gpu_catalog.py) does not "
                      f"cover gcp:region {gcp.region}: list the zones of {gcp.region} that offer "
                      f"{entry.type}, or use one of the {elsewhere}")
        return zones                    # explicit zones of an uncovered region: taken as given
    if not zones:
        if not offered:
            f.problem(f.path("accelerator"), entry.type,
                      f"no zone of gcp:region {gcp.region} offers it; {elsewhere}")
        return offered
    for zone in in_region:
        if zone in offered:
            continue
        if offered:
            f.problem(key, zone, f"does not offer {entry.type}; zones of {gcp.region} that "
                      "do: " + ", ".join(offered))
        else:
            f.problem(key, zone, f"no zone of gcp:region {gcp.region} offers {entry.type}; "
                      f"{elsewhere}")
    return zones


def _driver_version(f: Fields, operator: GpuOperatorSpec, pool_operator: bool) -> str:
    """Who installs the driver. GKE always does: with the GPU Operator, NVIDIA's GKE guide
    disables GKE's automatic install and runs Google's driver installer DaemonSet
    (the operator then runs with driver.enabled=false); without it, GKE installs LATEST."""
    default = "INSTALLATION_DISABLED" if pool_operator else "LATEST"
    version = f.str("driverVersion", default, choices=DRIVER_VERSIONS)
    if version == "INSTALLATION_DISABLED" and not pool_operator:
        f.problem(f.path("driverVersion"), version, "nothing would install the NVIDIA driver: "
                  "without the GPU Operator on this pool use DEFAULT or LATEST")
        return "LATEST"
    return version


def _gke_device_plugin(f: Fields, operator: GpuOperatorSpec, pool_operator: bool) -> bool:
    """Exactly one device plugin advertises nvidia.com/gpu: GKE's, or the GPU Operator's."""
    operator_plugin = pool_operator and operator.device_plugin
    value = f.bool("gkeDevicePlugin", not operator_plugin)
    if value and operator_plugin:
        f.problem(f.path("gkeDevicePlugin"), value, "the GPU Operator's device plugin is on "
                  "(gpu-lab:addons.gpuOperator.devicePlugin); two plugins would fight over the "
                  "GPUs: set gkeDevicePlugin false or turn the operator's plugin off")
    if not value and not operator_plugin:
        f.problem(f.path("gkeDevicePlugin"), value, "no device plugin would advertise "
                  "nvidia.com/gpu (the GPU Operator's is off): set gkeDevicePlugin true")
    return value


def _pool_nodes(f: Fields, platform: str) -> tuple[str, ...]:
    nodes = f.str_list("nodes")
    if platform == "existing" and not nodes:
        f.problem(f.path("nodes"), MISSING, "on gpu-lab:platform existing, name the nodes that "
                  "simulate this pool (e.g. [kind-worker]); the fake GPU operator labels them")
    if nodes and platform != "existing":
        f.problem(f.path("nodes"), list(nodes), "only applies to gpu-lab:platform existing; "
                  "on gke the node pool creates its nodes")
        return ()
    for node in nodes:
        if not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", node):
            f.problem(f.path("nodes"), node, "every entry must be a Kubernetes node name")
    if len(set(nodes)) != len(nodes):
        f.problem(f.path("nodes"), list(nodes), "must not repeat a node")
    return nodes


def _check_listed(f: Fields, nodes: tuple[str, ...], max_nodes: int) -> None:
    """On an existing cluster maxNodes is the nodes listed: the twin, the quotas' capacity
    checks and the room checks all count them, and nothing brings up more."""
    if not nodes:
        return
    if len(nodes) > max_nodes:
        f.problem(f.path("maxNodes"), max_nodes, f"must be at least the {len(nodes)} nodes listed")
    elif len(nodes) < max_nodes:
        f.problem(f.path("maxNodes"), max_nodes, f"on gpu-lab:platform existing nothing adds "
                  f"nodes to a pool: list {max_nodes} nodes under nodes ({len(nodes)} listed), "
                  "or leave maxNodes out")


def _check_mig(addons: AddonsSpec, pools: tuple[GpuPoolSpec, ...],
               problems: list[Problem]) -> None:
    strategy = addons.gpu_operator.mig_strategy
    if strategy != "none" and not any(p.accelerator in MIG_CAPABLE for p in pools):
        problems.append(Problem(f"{NAMESPACE}:addons.gpuOperator.migStrategy", strategy,
                                "MIG needs an A100 or H100 pool (" + ", ".join(MIG_CAPABLE)
                                + "); use none"))


# GKE's limit on max_shared_clients_per_gpu (GPU time-sharing).
GKE_MAX_SHARED_CLIENTS = 48


def _check_time_sharing(pools: tuple[GpuPoolSpec, ...], problems: list[Problem]) -> None:
    """addons.gpuOperator.timeSlicing on a pool the operator does not serve is GKE's GPU
    time-sharing, which takes at most 48 clients per GPU."""
    for i, pool in enumerate(pools):
        if pool.gke_time_sharing and pool.gpu_replicas > GKE_MAX_SHARED_CLIENTS:
            problems.append(Problem(f"{NAMESPACE}:addons.gpuOperator.timeSlicing",
                                    pool.gpu_replicas, f"pool {pool.name} "
                                    f"(gpu-lab:gpuPools[{i}]) uses GKE's GPU time-sharing, which "
                                    f"shares a GPU among at most {GKE_MAX_SHARED_CLIENTS} "
                                    "containers"))


def _default_machine_type(accelerator: str) -> str:
    entry = CATALOG[accelerator]
    if entry.fixed_counts:
        return min(entry.fixed_counts, key=lambda m: (entry.fixed_counts[m], len(m), m))
    return f"{entry.machine_prefixes[0]}4"


def _check_pool_names(system: NodePoolSpec, pools: tuple[GpuPoolSpec, ...],
                      problems: list[Problem]) -> None:
    seen = {system.name: f"{NAMESPACE}:systemPool.name"}
    for i, pool in enumerate(pools):
        if not pool.name:
            continue
        if pool.name in seen:
            problems.append(Problem(f"{NAMESPACE}:gpuPools[{i}].name", pool.name,
                                    f"must be unique; {seen[pool.name]} has it already"))
        seen.setdefault(pool.name, f"{NAMESPACE}:gpuPools[{i}].name")


def _check_pool_nodes(pools: tuple[GpuPoolSpec, ...], problems: list[Problem]) -> None:
    """platform existing: a node plays one pool (its labels say which)."""
    seen: dict[str, int] = {}
    for i, pool in enumerate(pools):
        for node in dict.fromkeys(pool.nodes):
            if node in seen:
                problems.append(Problem(f"{NAMESPACE}:gpuPools[{i}].nodes", node,
                                        f"is listed by gpu-lab:gpuPools[{seen[node]}] "
                                        f"({pools[seen[node]].name}) too; a node plays one pool"))
            seen.setdefault(node, i)


def _check_firewall_rules(cluster: ClusterSpec, pools: tuple[GpuPoolSpec, ...],
                          platform: str, problems: list[Problem]) -> None:
    """cluster.network.firewallRules exist on gke only, and target the nodes of its pools."""
    key = f"{NAMESPACE}:cluster.network.firewallRules"
    rules = cluster.network.firewall_rules
    if rules and platform != "gke":
        problems.append(Problem(key, [rule.name for rule in rules], "only applies to "
                                "gpu-lab:platform gke (VPC firewall rules); on existing nothing "
                                "is created in GCP"))
        return
    tags = [pool.network_tag for pool in pools]
    for i, rule in enumerate(rules):
        for tag in rule.target_tags:
            if tag not in tags:
                problems.append(Problem(f"{key}[{i}].targetTags", tag, "every entry must be "
                                        "the network tag of a GPU pool's nodes: "
                                        + (", ".join(tags) or "none") + did_you_mean(tag, tags)))


def _addons(f: Fields) -> AddonsSpec:
    op = f.obj("gpuOperator")
    replicas = op.int("timeSlicing", 0, minimum=0)
    if replicas == 1:
        op.problem(op.path("timeSlicing"), replicas, "must be 0 (off) or at least 2 "
                   "(pods sharing one GPU)")
        replicas = 0
    gpu_operator = GpuOperatorSpec(
        enabled=op.bool("enabled", True),
        chart_version=op.str("version", GPU_OPERATOR_CHART),
        device_plugin=op.bool("devicePlugin", True),
        dcgm_exporter=op.bool("dcgmExporter", True),
        service_monitor=op.bool("serviceMonitor", True),
        time_slicing_replicas=replicas,
        mig_strategy=op.str("migStrategy", "none", choices=MIG_STRATEGIES),
        fake_chart_version=op.str("fakeVersion", FAKE_GPU_OPERATOR_CHART),
    )
    op.finish()
    mon = f.obj("monitoring")
    retention = mon.str("retention", "3d")
    if retention and not re.fullmatch(r"\d+(ms|s|m|h|d|w|y)", retention):
        mon.problem(mon.path("retention"), retention, "must be a Prometheus duration such as 3d")
    monitoring = MonitoringSpec(
        enabled=mon.bool("enabled", True),
        chart_version=mon.str("version", KUBE_PROMETHEUS_STACK_CHART),
        retention=retention,
        alertmanager=mon.bool("alertmanager", False),
    )
    mon.finish()
    f.finish()
    return AddonsSpec(gpu_operator=gpu_operator, monitoring=monitoring)


def _tenants(raw: Any, capacity: int | None, largest_node: int,
             problems: list[Problem]) -> tuple[TenantSpec, ...]:
    key = f"{NAMESPACE}:tenants"
    if raw is MISSING:
        raw = list(tenant_catalog.DEFAULT_TENANTS)
    if not isinstance(raw, list):
        problems.append(Problem(key, raw, "must be a list of tenant names or objects"))
        return ()
    tenants, seen = [], set()
    for i, item in enumerate(raw):
        item_key = f"{key}[{i}]"
        if isinstance(item, str):
            item = {"name": item}
        f = Fields(item_key, item, problems)
        tenant = _tenant(f, capacity, largest_node)
        f.finish()
        if tenant is None:
            continue
        if tenant.name in seen:
            problems.append(Problem(f"{item_key}.name", tenant.name, "must be unique"))
            continue
        seen.add(tenant.name)
        tenants.append(tenant)
    return tuple(tenants)


def _tenant(f: Fields, gpu_capacity: int | None, largest_node: int) -> TenantSpec | None:
    name = f.str("name", None, label=True, max_len=63)
    if name is None:
        if not f.has("name"):
            f.problem(f.path("name"), MISSING, "every tenant needs a name (a DNS-1123 label)")
        return None
    if name in tenant_catalog.RESERVED_NAMESPACES or name.startswith("kube-"):
        f.problem(f.path("name"), name, "is a namespace the platform owns; reserved: kube-*, "
                  + ", ".join(n for n in tenant_catalog.RESERVED_NAMESPACES
                              if not n.startswith("kube-")))
        return None
    base = tenant_catalog.DEFINITIONS.get(name)
    defaults = tenant_catalog.TENANT_DEFAULTS
    default_admins, default_devs = (base or tenant_catalog.DEFINITIONS["tenant-a"]).groups(name)
    quota_hard = _quota(f, base, gpu_capacity)
    priority_names = [pc.name for pc in tenant_catalog.PRIORITY_CLASSES]
    admin_groups = f.str_list("adminGroups", default_admins)
    developer_groups = f.str_list("developerGroups", default_devs)
    return TenantSpec(
        name=name,
        team=f.str("team", base.team if base else name, max_len=63,
                   matching=LABEL_VALUE_RULE),
        cost_center=f.str("costCenter", base.cost_center if base else "unassigned",
                          max_len=63, matching=LABEL_VALUE_RULE),
        quota_hard=quota_hard,
        egress=_egress(f, defaults["egress"]),
        # A pod cannot span nodes: by default it may take every GPU of the largest node.
        max_gpus_per_pod=f.int("maxGpusPerPod", largest_node, minimum=0),
        admin_groups=admin_groups,
        developer_groups=developer_groups,
        priority_class=f.str("priorityClass",
                             base.priority_class if base else defaults["priorityClass"],
                             choices=priority_names),
        gcp_service_account=f.str("gcpServiceAccount", None, matching=(
            SERVICE_ACCOUNT, "must be a GCP service account's e-mail, such as "
            "inference@<project>.iam.gserviceaccount.com")),
        role_bindings=_role_bindings(f, default_role_bindings(admin_groups, developer_groups)),
        gpu_priority_quotas=_priority_quotas(f, priority_names),
        pod_security=f.str("podSecurity", "restricted",
                           choices=("restricted", "baseline", "privileged")),
    )


LABEL_VALUE_RULE = (LABEL_VALUE, "must be a Kubernetes label value: letters, digits, '-', '_' "
                    "and '.', starting and ending with a letter or digit")


# The Roles every tenant namespace has (components/tenant_rbac.py ROLES): what a binding
# with roleKind Role may name.
TENANT_ROLES = ("tenant-admin", "tenant-developer", "job-submitter")
ROLE_KINDS = ("Role", "ClusterRole")


# The tenant keys that stand for entries of its quota.hard: (key, the entries it sets, every
# entry of the same resource).
QUOTA_SHORTHANDS = (
    ("gpus", (f"requests.{GPU_RESOURCE}",), GPU_QUOTA_KEYS),
    ("cpu", ("requests.cpu", "limits.cpu"), ("requests.cpu", "limits.cpu", "cpu")),
    ("memory", ("requests.memory", "limits.memory"), ("requests.memory", "limits.memory",
                                                      "memory")),
    ("maxPods", ("pods",), ("pods", "count/pods")),
)
# The ResourceQuota resource names without a domain that the API server takes
# (IsStandardQuotaResourceName), besides hugepages-<size> and requests.hugepages-<size>.
STANDARD_QUOTA_KEYS = (
    "pods", "services", "replicationcontrollers", "resourcequotas", "secrets", "configmaps",
    "persistentvolumeclaims", "services.nodeports", "services.loadbalancers",
    "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory", "requests.storage",
    "requests.ephemeral-storage", "limits.cpu", "limits.memory", "limits.ephemeral-storage")


def _quota(f: Fields, base: Any, gpu_capacity: int | None) -> FrozenDict:
    """quota.hard: the spec.hard of the tenant's ResourceQuota `compute`. gpus, cpu, memory
    and maxPods stand for its entries of those resources; an entry neither sets takes its
    default (tenants/)."""
    defaults = tenant_catalog.TENANT_DEFAULTS
    fallback = {"gpus": base.gpus if base else defaults["gpus"],
                "cpu": base.cpu if base else defaults["cpu"],
                "memory": base.memory if base else defaults["memory"],
                "maxPods": defaults["maxPods"]}
    quota = f.obj("quota")
    hard_fields = quota.obj("hard")
    hard = _quota_hard(hard_fields)
    quota.finish()
    entries: dict[str, str] = {}
    for shorthand, sets, same in QUOTA_SHORTHANDS:
        given = [key for key in hard if key in same]
        if given:
            if f.has(shorthand):
                f.problem(f.path(shorthand), f.raw(shorthand), f"{hard_fields.path(given[0])} "
                          "sets the same quota: give one of the two")
            f.raw(shorthand)
            entries.update((key, hard[key]) for key in given)
            continue
        if shorthand == "gpus":
            gpus = f.int("gpus", fallback["gpus"], minimum=0)
            _check_gpu_capacity(f, f.path("gpus"), gpus, gpu_capacity)
            value = str(gpus)
        elif shorthand == "maxPods":
            value = str(f.int("maxPods", fallback["maxPods"], minimum=1))
        else:
            value = f.quantity(shorthand, fallback[shorthand])
        entries.update((key, value) for key in sets)
    for key, value in tenant_catalog.QUOTA_DEFAULTS.items():
        entries[key] = hard.get(key, value)
    for key, value in hard.items():
        entries.setdefault(key, value)
        if key in GPU_QUOTA_KEYS:
            _check_gpu_capacity(f, hard_fields.path(key), value, gpu_capacity)
    return FrozenDict(tuple(entries.items()))


def _check_gpu_capacity(f: Fields, key: str, gpus: Any, gpu_capacity: int | None) -> None:
    if gpu_capacity is not None and int(gpus) > gpu_capacity:
        f.problem(key, gpus, f"exceeds what the GPU pools can ever supply: {gpu_capacity} GPUs "
                  "(maxNodes x gpusPerNode summed over gpuPools)")


def _quota_hard(h: Fields) -> dict[str, str]:
    """A ResourceQuota's spec.hard: resource name -> quantity (strings, as the API has them)."""
    hard: dict[str, str] = {}
    for key in h.names():
        value = h.raw(key)
        if value is MISSING:
            continue
        path = h.path(key)
        if GPU_RESOURCE in key and key not in GPU_QUOTA_KEYS:
            h.problem(path, value, f"a quota entry for {GPU_RESOURCE} is one of "
                      + ", ".join(GPU_QUOTA_KEYS) + did_you_mean(key, GPU_QUOTA_KEYS))
            continue
        if "/" in key:
            known = bool(LABEL_KEY.fullmatch(key))
        else:
            known = key in STANDARD_QUOTA_KEYS or key.startswith(("hugepages-",
                                                                 "requests.hugepages-"))
        if not known:
            h.problem(path, value, "must be a ResourceQuota resource name: one of "
                      + ", ".join(STANDARD_QUOTA_KEYS) + did_you_mean(key, STANDARD_QUOTA_KEYS)
                      + ", or a name with a domain such as requests.nvidia.com/gpu or "
                      "count/jobs.batch")
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
            text = str(int(value)) if float(value).is_integer() else str(value)
        elif isinstance(value, str) and QUANTITY.fullmatch(value):
            text = value
        else:
            h.problem(path, value, "must be a Kubernetes quantity such as 500m, 4, 16Gi")
            continue
        if key in GPU_QUOTA_KEYS and parse_quantity(text) != int(parse_quantity(text)):
            h.problem(path, value, "must be a whole number of GPUs")
            continue
        hard[key] = text
    h.finish()
    return hard


def _egress(f: Fields, default: list[dict]) -> tuple[FrozenDict, ...]:
    """egress: NetworkPolicy egress rules ({to: [{ipBlock: {cidr, except}}], ports:
    [{protocol, port}]}) for the tenant's pods besides DNS and their own namespace; unset:
    the defaults (tenants/defaults.py); set: exactly the ones listed."""
    if not f.has("egress"):
        f.raw("egress")
        return freeze(default)
    rules = []
    for key, item in f.items("egress"):
        r = Fields(key, item, f.problems)
        rule: dict[str, Any] = {}
        peers = [_ip_block_peer(Fields(peer_key, peer, f.problems))
                 for peer_key, peer in r.items("to")]
        if peers:
            rule["to"] = [peer for peer in peers if peer]
        ports = [_egress_port(Fields(port_key, port, f.problems))
                 for port_key, port in r.items("ports")]
        if ports:
            rule["ports"] = ports
        r.finish()
        rules.append(rule)
    return freeze(rules)


NETWORK_PROTOCOLS = ("TCP", "UDP", "SCTP")


def _ip_block_peer(p: Fields) -> dict:
    """A NetworkPolicyPeer with an ipBlock (the CIDR, and the ranges inside it excluded)."""
    if not p.has("ipBlock"):
        p.problem(p.path("ipBlock"), MISSING, "every peer is an ipBlock: {cidr, except}")
    block = p.obj("ipBlock")
    cidr = block.str("cidr", None)
    if cidr is None and p.has("ipBlock") and not block.has("cidr"):
        block.problem(block.path("cidr"), MISSING, "an ipBlock needs a cidr, such as 0.0.0.0/0")
    elif isinstance(cidr, str) and cidr_problem(cidr):
        block.problem(block.path("cidr"), cidr, cidr_problem(cidr))
        cidr = None
    excepted = block.str_list("except")
    for value in excepted:
        why_not = cidr_problem(value)
        if not why_not and cidr and not (
                ipaddress.ip_network(value).subnet_of(ipaddress.ip_network(cidr))
                and value != cidr):
            why_not = f"must lie inside {cidr} and be smaller"
        if why_not:
            block.problem(block.path("except"), value, why_not)
    block.finish()
    p.finish()
    if cidr is None:
        return {}
    return {"ipBlock": {"cidr": cidr, **({"except": list(excepted)} if excepted else {})}}


def _egress_port(p: Fields) -> dict:
    """A NetworkPolicyPort: {protocol, port}, the port a number or a named container port."""
    port = p.raw("port")
    entry: dict[str, Any] = {"protocol": p.str("protocol", "TCP", choices=NETWORK_PROTOCOLS)}
    if port is not MISSING:
        if isinstance(port, float) and port.is_integer():
            port = int(port)
        if isinstance(port, bool) or not (
                (isinstance(port, int) and 1 <= port <= 65535)
                or (isinstance(port, str) and PORT_NAME.fullmatch(port))):
            p.problem(p.path("port"), port, "must be a port number (1-65535) or a container "
                      "port name")
        else:
            entry["port"] = port
    p.finish()
    return entry


def _role_bindings(f: Fields, default: tuple[RoleBindingSpec, ...]
                   ) -> tuple[RoleBindingSpec, ...]:
    """roleBindings: every RoleBinding in the tenant's namespace. Unset: its admins, its
    developers and its CI identity (tenants/defaults.py); set: exactly the ones listed."""
    if not f.has("roleBindings"):
        f.raw("roleBindings")
        return default
    bindings: list[RoleBindingSpec] = []
    seen: set[str] = set()
    for key, item in f.items("roleBindings"):
        b = Fields(key, item, f.problems)
        name = b.str("name", None, label=True, max_len=63)
        if name is None and not b.has("name"):
            b.problem(b.path("name"), MISSING, "every role binding needs a name")
        before = len(b.problems)
        kind = b.str("roleKind", "Role", choices=ROLE_KINDS)
        role = b.str("role", None)
        if role is None and not b.has("role"):
            b.problem(b.path("role"), MISSING, "name the Role (or ClusterRole) it grants")
        elif kind == "Role" and role is not None and role not in TENANT_ROLES \
                and len(b.problems) == before:
            b.problem(b.path("role"), role, "must be a Role of the tenant's namespace: "
                      + ", ".join(TENANT_ROLES) + did_you_mean(role, TENANT_ROLES)
                      + " (or set roleKind ClusterRole)")
        binding = RoleBindingSpec(name=name or "", role=role or "", role_kind=kind or "Role",
                                  groups=b.str_list("groups"), users=b.str_list("users"),
                                  service_accounts=b.str_list("serviceAccounts"))
        for account in binding.service_accounts:
            if not all(DNS_LABEL.fullmatch(part) for part in account.split("/", 1)):
                b.problem(b.path("serviceAccounts"), account, "every entry must be <name> (in "
                          "the tenant's namespace) or <namespace>/<name>")
        before = len(b.problems)
        b.finish()
        if len(b.problems) == before and not (binding.groups or binding.users
                                              or binding.service_accounts):
            b.problem(key, item, "must name at least one of groups, users, serviceAccounts")
        if name in seen:
            b.problem(b.path("name"), name, "must be unique within the tenant")
        seen.add(name)
        bindings.append(binding)
    return tuple(bindings)


def _priority_quotas(f: Fields, priority_names: list[str]) -> tuple[tuple[str, int], ...]:
    """priorityGpuQuotas: {<priority class>: <GPUs>}: GPU quotas scoped to one priority."""
    scoped = f.obj("priorityGpuQuotas")
    quotas = []
    for name in scoped.names():
        gpus = scoped.int(name, 0, minimum=0)
        if name not in priority_names:
            f.problem(scoped.path(name), name, "must be a priority class: "
                      + ", ".join(priority_names) + did_you_mean(name, priority_names))
            continue
        quotas.append((name, gpus))
    scoped.finish()
    return tuple(quotas)


__all__ = ["load_spec", "ConfigError", "check_bool", "DNS_LABEL"]
