"""`python -m lab preflight`: does a GCP project have the quota and the APIs a stack needs?

A fresh project has no global GPU quota (GPUS_ALL_REGIONS 0), small regional GPU, vCPU and
SSD quotas and several APIs off; `pulumi up` then fails ten minutes in. Preflight computes
what the stack needs with every pool at its MAXIMUM size (the system pool and the GPU
pools: the autoscaler may take them there at any time) and compares it with what the
project has left: limit - usage of each Compute Engine quota, and the state of each API.

What a stack draws on (Compute Engine, "Allocation quotas" and "GPU quota"):
- GPUs: the regional quota of the accelerator (NVIDIA_T4_GPUS, NVIDIA_L4_GPUS,
  NVIDIA_A100_GPUS, NVIDIA_A100_80GB_GPUS, NVIDIA_H100_GPUS: model/gpu_catalog.py), and the
  global GPUS_ALL_REGIONS for every GPU, Spot or not.
- vCPUs: the regional quota of the machine family (E2, N1 and families without a metric of
  their own: CPUS; N2_CPUS, N2D_CPUS, C2_CPUS, C2D_CPUS, C3_CPUS, A2_CPUS, ...), and the
  global CPUS_ALL_REGIONS for every vCPU. E2 draws on CPUS (Compute Engine, "Allocation
  quotas", CPU quota: E2 and N1 VMs count against the regional CPUS quota; the E2_CPUS
  metric the API also lists stays unused in most projects, whose E2 nodes show up in CPUS'
  usage); where a project lists an E2_CPUS limit, the E2 vCPUs are checked against it as
  well, so that preflight passes only if either way of counting has room.
- Spot pools: the PREEMPTIBLE_* quota (PREEMPTIBLE_CPUS, PREEMPTIBLE_NVIDIA_T4_GPUS, ...)
  only when the project HAS that quota in the region (listed with a limit above 0); without
  it Spot VMs draw on the standard quota of their family or GPU. That is the rule
  implemented here: offline the stack's Spot demand is shown against the PREEMPTIBLE_*
  metric, live it is moved to the standard metric (with a note) where the project has no
  preemptible quota.
- Boot disks: every pool uses pd-balanced (components/cluster.py, gpu_node_pool.py), which
  counts against SSD_TOTAL_GB, like pd-ssd; pd-standard would count against DISKS_TOTAL_GB.
- Addresses: nodes are private and take no external IP; Cloud NAT's automatically
  allocated address takes one IN_USE_ADDRESSES.
- The VPC: one of the project's NETWORKS (global; every candidate stack adds one).
GKE's transient default node pool (deleted while the cluster is created, before the pools
exist) is not counted.

APIs: what the components create with pulumi_gcp (compute, container, dns, iam via service
accounts, cloudresourcemanager via project IAM bindings) and what the cluster writes to
(logging, monitoring). Artifact Registry is not needed: the program creates no repository
and pulls public images; the nodes' artifactregistry.reader role only matters for private
images a project chooses to host.

Library: Google's Cloud Client Libraries for Python, google-cloud-compute (RegionsClient,
ProjectsClient: regions.get and projects.get return quotas with metric, limit and usage)
and google-cloud-service-usage (ServiceUsageClient.batch_get_services), with their REST
transport. They are the maintained libraries (google-api-python-client is in maintenance
mode and ships every API's discovery document); they add little to this venv, whose Pulumi
already brings grpcio and protobuf; and their REST transport takes an `http://` endpoint
from client_options, which is how tests point them at a fake API on loopback:
GPU_LAB_COMPUTE_ENDPOINT and GPU_LAB_SERVICEUSAGE_ENDPOINT override the endpoints.
Credentials are application-default credentials (google.auth.default()).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional

from model import machines
from model.gpu_catalog import CATALOG
from model.spec import LabSpec

COMPUTE_ENDPOINT_ENV = "GPU_LAB_COMPUTE_ENDPOINT"
SERVICEUSAGE_ENDPOINT_ENV = "GPU_LAB_SERVICEUSAGE_ENDPOINT"
SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
TIMEOUT = 60.0          # seconds for one API call
GLOBAL = "global"

# The APIs `pulumi up` calls, and what for.
REQUIRED_APIS: dict[str, str] = {
    "compute.googleapis.com": "VPC, subnet, router, Cloud NAT and firewall rules; node VMs",
    "container.googleapis.com": "the GKE cluster and its node pools",
    "dns.googleapis.com": "private DNS zones that send Google APIs to Private Google Access",
    "iam.googleapis.com": "node and tenant service accounts, Workload Identity bindings",
    "cloudresourcemanager.googleapis.com": "project IAM roles for the nodes' service account",
    "logging.googleapis.com": "the cluster's system and workload logs (Cloud Logging)",
    "monitoring.googleapis.com": "the cluster's system metrics (Cloud Monitoring)",
}

# vCPU quota of each machine family. E2 and the families without a metric of their own (N1,
# G2, A3, shared-core f1/g1) count against CPUS (Compute Engine documentation, "Allocation
# quotas" > CPU quota, https://cloud.google.com/compute/resource-usage: the regional CPUS
# quota covers E2 and N1; N2, N2D, C2, ... have quotas of their own). Projects list an
# E2_CPUS metric too, but E2 usage lands in CPUS in most of them: E2_CPUS is checked only
# where a project gives it a limit (ALSO_IF_LISTED).
CPU_QUOTA_METRICS = {
    "n2": "N2_CPUS", "n2d": "N2D_CPUS", "c2": "C2_CPUS", "c2d": "C2D_CPUS",
    "c3": "C3_CPUS", "m1": "M1_CPUS", "m2": "M2_CPUS", "m3": "M3_CPUS", "t2d": "T2D_CPUS",
    "t2a": "T2A_CPUS", "a2": "A2_CPUS",
}
DEFAULT_CPU_QUOTA = "CPUS"
ALSO_IF_LISTED = {"e2": "E2_CPUS"}
PREEMPTIBLE_CPUS = "PREEMPTIBLE_CPUS"
# Boot disks of every gpu-lab pool (components/cluster.py, components/gpu_node_pool.py).
NODE_DISK_TYPE = "pd-balanced"
DISK_QUOTA_METRICS = {"pd-balanced": "SSD_TOTAL_GB", "pd-ssd": "SSD_TOTAL_GB",
                      "pd-standard": "DISKS_TOTAL_GB"}
# Shared-core E2 types draw 2 vCPUs of quota though GKE sizes their allocatable from a
# fraction of one core (model/machines.py).
SHARED_CORE_QUOTA_VCPUS = {"e2-micro": 2, "e2-small": 2, "e2-medium": 2}
QUOTAS_PAGE = "https://console.cloud.google.com/iam-admin/quotas?project={project}"


class PreflightError(RuntimeError):
    """The stack's needs cannot be computed (one line)."""


class Unreadable(RuntimeError):
    """The project's quotas or services cannot be read: no credentials, no such project,
    an API disabled, no permission (one line)."""


@dataclass(frozen=True)
class Demand:
    """One pool's (or the network's) draw on one quota."""
    metric: str
    scope: str                        # "global" or "region:<region>"
    amount: int
    fallback: Optional[str] = None    # the standard quota Spot demand uses without PREEMPTIBLE_*
    if_listed: bool = False           # checked only where the project gives it a limit


@dataclass
class Requirement:
    metric: str
    scope: str
    required: int
    available: Optional[int] = None   # None: offline, or the project lists no such quota
    note: str = ""

    @property
    def short(self) -> bool:
        return self.available is not None and self.required > self.available

    def to_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {"metric": self.metric, "scope": self.scope,
                               "required": self.required, "available": self.available}
        if self.note:
            row["note"] = self.note
        return row


@dataclass(frozen=True)
class ApiStatus:
    name: str
    enabled: Optional[bool]           # None: offline or not reported
    purpose: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "enabled": self.enabled}


@dataclass(frozen=True)
class ProjectState:
    """What the project has: scope -> metric -> (limit, usage), and API -> enabled."""
    project: str
    quotas: Mapping[str, Mapping[str, tuple[float, float]]]
    services: Mapping[str, bool]


@dataclass
class Report:
    project: Optional[str]
    requirements: list[Requirement]
    apis: list[ApiStatus]
    offline: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def shortfalls(self) -> list[Requirement]:
        return [r for r in self.requirements if r.short]

    @property
    def disabled_apis(self) -> list[ApiStatus]:
        return [a for a in self.apis if a.enabled is False]

    @property
    def ok(self) -> bool:
        return not self.shortfalls and not self.disabled_apis

    def to_json(self) -> dict[str, Any]:
        return {"requirements": [r.to_json() for r in self.requirements],
                "apis": [a.to_json() for a in self.apis]}


# -- what the stack needs ----------------------------------------------------------------

def vcpus(machine_type: str) -> int:
    """vCPUs a node of this type draws from the CPU quota (the model has refused types it
    does not know; PreflightError guards direct calls)."""
    if machine_type in SHARED_CORE_QUOTA_VCPUS:
        return SHARED_CORE_QUOTA_VCPUS[machine_type]
    try:
        return machines.machine(machine_type).vcpus
    except ValueError as err:
        raise PreflightError(f"cannot tell the vCPUs of machine type {machine_type!r}: "
                             f"{err}") from None


def cpu_quota_metric(machine_type: str) -> str:
    return CPU_QUOTA_METRICS.get(machine_type.split("-", 1)[0], DEFAULT_CPU_QUOTA)


def demands(spec: LabSpec) -> list[Demand]:
    """Every quota the stack draws on with each pool at its maxNodes."""
    if spec.platform != "gke":
        return []
    region = f"region:{spec.gcp.region}"
    disk_metric = DISK_QUOTA_METRICS[NODE_DISK_TYPE]
    out: list[Demand] = []
    system = spec.system_pool
    pools = [(system.machine_type, system.max_nodes, system.disk_size_gb, system.spot, None, 0)]
    pools += [(p.machine_type, p.max_nodes, p.disk_size_gb, p.spot, CATALOG[p.accelerator],
               p.gpus_per_node) for p in spec.gpu_pools]
    for machine_type, nodes, disk_gb, spot, accelerator, gpus_per_node in pools:
        cpus = nodes * vcpus(machine_type)
        family_metric = cpu_quota_metric(machine_type)
        out.append(Demand(PREEMPTIBLE_CPUS, region, cpus, family_metric) if spot
                   else Demand(family_metric, region, cpus))
        also = ALSO_IF_LISTED.get(machine_type.split("-", 1)[0])
        if also and not spot:
            out.append(Demand(also, region, cpus, if_listed=True))
        out.append(Demand("CPUS_ALL_REGIONS", GLOBAL, cpus))
        out.append(Demand(disk_metric, region, nodes * disk_gb))
        if accelerator is not None:
            gpus = nodes * gpus_per_node
            out.append(Demand(accelerator.preemptible_quota_metric, region, gpus,
                              accelerator.quota_metric) if spot
                       else Demand(accelerator.quota_metric, region, gpus))
            out.append(Demand("GPUS_ALL_REGIONS", GLOBAL, gpus))
    out.append(Demand("IN_USE_ADDRESSES", region, 1))     # Cloud NAT's address
    out.append(Demand("NETWORKS", GLOBAL, 1))             # the lab's VPC
    return out


def required_apis(spec: LabSpec) -> list[str]:
    return sorted(REQUIRED_APIS) if spec.platform == "gke" else []


def _has_quota(state: ProjectState, scope: str, metric: str) -> bool:
    quota = state.quotas.get(scope, {}).get(metric)
    return quota is not None and quota[0] > 0


def requirements(stack_demands: Iterable[Demand],
                 state: Optional[ProjectState] = None) -> list[Requirement]:
    """Demands summed per (metric, scope); with the project's state, Spot demand moved to
    the standard quota where the project has no preemptible quota, and `available` set."""
    rows: dict[tuple[str, str], Requirement] = {}
    for demand in stack_demands:
        if demand.if_listed and (state is None or not _has_quota(state, demand.scope,
                                                                 demand.metric)):
            continue
        metric, note = demand.metric, ""
        if state is not None and demand.fallback and not _has_quota(state, demand.scope,
                                                                     demand.metric):
            metric = demand.fallback
            note = (f"includes Spot demand: the project has no {demand.metric} quota in "
                    f"{demand.scope.removeprefix('region:')}")
        row = rows.setdefault((metric, demand.scope), Requirement(metric, demand.scope, 0))
        row.required += demand.amount
        if note:
            row.note = note
    if state is not None:
        for (metric, scope), row in rows.items():
            quota = state.quotas.get(scope, {}).get(metric)
            if quota is not None:
                row.available = max(0, math.floor(quota[0] - quota[1]))
            elif not row.note:
                row.note = "the project lists no such quota here"
    return sorted(rows.values(), key=lambda r: (r.scope != GLOBAL, r.scope, r.metric))


def check(spec: LabSpec, state: Optional[ProjectState] = None) -> Report:
    """The stack's requirements and APIs, against the project's state when given."""
    apis = [ApiStatus(name, state.services.get(name) if state else None, REQUIRED_APIS[name])
            for name in required_apis(spec)]
    report = Report(project=state.project if state else None,
                    requirements=requirements(demands(spec), state), apis=apis,
                    offline=state is None)
    if spec.platform != "gke":
        report.notes.append(f"gpu-lab:platform {spec.platform} creates nothing in GCP: "
                            "nothing to check")
    return report


def run(spec: LabSpec, project: Optional[str], offline: bool = False) -> Report:
    """Preflight for a stack: offline, or against the project read with ADC."""
    demands(spec)                                      # unknown machine types fail first
    if offline or spec.platform != "gke":
        return check(spec)
    return check(spec, read_project(project, [spec.gcp.region], required_apis(spec)))


# -- what the project has ----------------------------------------------------------------

def _client_options(env: str):
    from google.api_core.client_options import ClientOptions

    endpoint = os.environ.get(env)
    return ClientOptions(api_endpoint=endpoint) if endpoint else None


def _first_line(text: Any) -> str:
    lines = str(text).strip().splitlines()
    return lines[0] if lines else ""


def _why(err: Exception, project: str, service: str) -> str:
    """One line saying why `project` cannot be read."""
    from google.api_core import exceptions as api
    from google.auth import exceptions as auth

    relogin = "run `gcloud auth application-default login`"
    if isinstance(err, auth.RefreshError):
        return f"the application-default credentials were refused ({_first_line(err)}): {relogin}"
    if isinstance(err, api.GoogleAPICallError):
        message = re.sub(r"^[A-Z]+ \S+: ", "", _first_line(err.message))   # drop "GET <url>: "
        metadata = err.metadata or {}
        if err.reason in ("SERVICE_DISABLED", "accessNotConfigured") or \
                "has not been used in project" in message:
            name = metadata.get("service") or service
            consumer = metadata.get("consumer", "").removeprefix("projects/") or project
            return (f"the {name} API is disabled in project {consumer}: "
                    f"gcloud services enable {name} --project {consumer}")
        if err.code == 401:
            return f"the credentials were rejected ({message}): {relogin}"
        if err.code == 403:
            return (f"no permission to read project {project} ({message}): roles/compute.viewer "
                    "and roles/serviceusage.serviceUsageViewer are enough")
        if err.code == 404:
            return f"no such project {project} (or these credentials cannot see it)"
        return f"cannot read project {project} from {service}: {err.code} {message}"
    if isinstance(err, auth.TransportError) or type(err).__module__.startswith("requests"):
        return f"cannot reach {service}: {_first_line(err)}"
    return f"cannot read project {project} from {service}: {type(err).__name__}: {_first_line(err)}"


def _quota_map(quotas) -> dict[str, tuple[float, float]]:
    return {q.metric: (float(q.limit), float(q.usage)) for q in quotas}


def read_project(project: Optional[str], regions: Iterable[str],
                 apis: Iterable[str]) -> ProjectState:
    """The project's global and regional quotas and the state of `apis`, read with
    application-default credentials. Raises Unreadable with one line on any failure."""
    import google.auth
    from google.auth import exceptions as auth

    try:
        credentials, default_project = google.auth.default(scopes=SCOPES)
    except auth.DefaultCredentialsError:
        raise Unreadable("no application-default credentials: run `gcloud auth "
                         "application-default login` (or use --offline)") from None
    project = project or default_project
    if not project:
        raise Unreadable("no GCP project: pass --project, set gcp:project in the stack file "
                         "or GOOGLE_CLOUD_PROJECT")
    if getattr(credentials, "quota_project_id", None) is None:
        # User credentials from `gcloud auth application-default login` carry no quota
        # project, and Service Usage refuses calls without one: bill the checked project.
        try:
            credentials = credentials.with_quota_project(project)
        except (AttributeError, NotImplementedError):
            pass

    from google.cloud.compute_v1.services.projects import ProjectsClient
    from google.cloud.compute_v1.services.regions import RegionsClient
    from google.cloud.service_usage_v1.services.service_usage import ServiceUsageClient
    from google.cloud.service_usage_v1.types import State

    service = "compute.googleapis.com"
    try:
        options = _client_options(COMPUTE_ENDPOINT_ENV)
        projects = ProjectsClient(credentials=credentials, transport="rest",
                                  client_options=options)
        regions_client = RegionsClient(credentials=credentials, transport="rest",
                                       client_options=options)
        quotas = {GLOBAL: _quota_map(projects.get(project=project, timeout=TIMEOUT).quotas)}
        for region in regions:
            quotas[f"region:{region}"] = _quota_map(
                regions_client.get(project=project, region=region, timeout=TIMEOUT).quotas)
        service = "serviceusage.googleapis.com"
        usage = ServiceUsageClient(credentials=credentials, transport="rest",
                                   client_options=_client_options(SERVICEUSAGE_ENDPOINT_ENV))
        wanted = list(apis)
        response = usage.batch_get_services(request={
            "parent": f"projects/{project}",
            "names": [f"projects/{project}/services/{api}" for api in wanted]}, timeout=TIMEOUT)
    except Exception as err:  # noqa: BLE001 - the clients raise many kinds; one line is enough
        raise Unreadable(_why(err, project, service)) from None
    services = {s.name.rsplit("/", 1)[-1]: s.state == State.ENABLED for s in response.services}
    return ProjectState(project=project, quotas=quotas, services=services)


# -- output ----------------------------------------------------------------------------

def shortfall_lines(report: Report) -> list[str]:
    """What is missing, one line each, and how to get it."""
    project = report.project or "<project>"
    lines = [f"{r.metric} ({r.scope}): needs {r.required}, {r.available} available"
             for r in report.shortfalls]
    if report.shortfalls:
        lines.append("request more quota at " + QUOTAS_PAGE.format(project=project))
    if report.disabled_apis:
        names = " ".join(a.name for a in report.disabled_apis)
        lines.append(f"APIs disabled: gcloud services enable {names} --project {project}")
    return lines


def table(report: Report) -> str:
    out = []
    if report.requirements:
        out.append(f"{'QUOTA':34} {'SCOPE':22} {'REQUIRED':>8} {'AVAILABLE':>9}")
        for r in report.requirements:
            available = "-" if r.available is None else str(r.available)
            flag = "  SHORT" if r.short else ""
            note = f"  ({r.note})" if r.note else ""
            out.append(f"{r.metric:34} {r.scope:22} {r.required:>8} {available:>9}{flag}{note}")
    if report.apis:
        out.append("")
        out.append(f"{'API':40} ENABLED")
        for a in report.apis:
            state = {True: "yes", False: "NO", None: "-"}[a.enabled]
            out.append(f"{a.name:40} {state:7}  {a.purpose}")
    out.extend(report.notes)
    if report.offline and report.requirements:
        out.append("\noffline: nothing read from GCP; drop --offline to check a project")
    elif not report.offline:
        out.append("")
        if report.ok:
            out.append(f"project {report.project} has what the stack needs at its largest")
        else:
            out.append(f"project {report.project} cannot hold the stack at its largest:")
            out.extend(f"  - {line}" for line in shortfall_lines(report))
    return "\n".join(out)
