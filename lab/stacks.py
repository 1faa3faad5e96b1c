"""Per-candidate interview stacks with the Pulumi Automation API: new, reset, destroy, list,
reap.

State lives in a local file backend under the project (.pulumi-state/) unless
PULUMI_BACKEND_URL says otherwise. The Automation API drives the Pulumi CLI, which must
be installed; every command says so in one line when it is not.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import yaml

from model.config import CANDIDATE_ACCOUNT, CANDIDATE_NAMESPACE, cidr_problem
from model.gpu_catalog import CATALOG
from model.errors import did_you_mean
from model.source import PROJECT_DIR, read_stack_file

INSTALL_HINT = ("the Pulumi CLI is not installed (or not on PATH): install it with "
                "`curl -fsSL https://get.pulumi.com | sh` and run this again")
CANDIDATE_NAME = re.compile(r"[a-z][a-z0-9-]{0,22}[a-z0-9]")
LOCAL_STATE = PROJECT_DIR / ".pulumi-state"
# Where `lab new` keeps what it made for a candidate: their kubeconfig and the stack config
# as the interviewer set it (what `lab reset` brings the stack back to).
CANDIDATES_DIR = PROJECT_DIR / "candidates"
CONFIG_RECORD = "stack-config.json"


class LabError(RuntimeError):
    """A one-line explanation of why a command cannot go on (exit 1 unless it says)."""


@contextmanager
def _pulumi(action: str) -> Iterator[None]:
    """A failed Pulumi command is one line: what failed and its last error line. Its full
    output has streamed above already."""
    from pulumi.automation import errors

    try:
        yield
    except errors.StackNotFoundError:
        raise
    except errors.CommandError as err:
        stderr = str(err).split("stderr:", 1)[-1]
        lines = [line.strip() for line in stderr.splitlines() if line.strip()]
        reason = lines[-1] if lines else "see the output above"
        raise LabError(f"pulumi {action} failed: {reason}") from None


class BadArgument(LabError):
    """An argument or option the command cannot take: exit 2, before anything is done."""
    exit_code = 2


class CannotWrite(LabError):
    """A file of the candidate's (candidates/<name>/...) cannot be written: exit 2, like any
    path that cannot be written."""
    exit_code = 2


def require_cli() -> str:
    path = shutil.which("pulumi")
    if path is None:
        raise LabError(INSTALL_HINT)
    return path


def backend_url() -> str:
    return os.environ.get("PULUMI_BACKEND_URL") or f"file://{LOCAL_STATE}"


def check_candidate(name: str) -> str:
    if not CANDIDATE_NAME.fullmatch(name):
        raise BadArgument(f"CANDIDATE {name!r}: use 2-24 lowercase letters, digits and '-', "
                          f"starting with a letter (it names the stack and the cluster)")
    return name


def check_scenario(name: str) -> str:
    from faults import SCENARIOS

    if name not in SCENARIOS:
        raise BadArgument(f"--scenario {name!r}: no such scenario{did_you_mean(name, SCENARIOS)}"
                          f"; scenarios: {', '.join(SCENARIOS)}")
    return name


# The candidate's token lives as long as the stack: the API server issues tokens of 10 minutes
# at least (TokenRequest expirationSeconds >= 600); a year is far beyond any interview.
MIN_HOURS, MAX_HOURS = 1 / 6, 24 * 365


def check_hours(hours: float) -> float:
    if not MIN_HOURS <= hours <= MAX_HOURS:     # also refuses nan and inf
        raise BadArgument(f"--hours {hours:g}: must be between 10 minutes ({MIN_HOURS:.3g}) "
                          f"and a year ({MAX_HOURS})")
    return hours


def check_cidrs(cidrs: list[str]) -> list[str]:
    for cidr in cidrs:
        why_not = cidr_problem(cidr)       # what gpu-lab:cluster.masterAuthorizedCidrs takes
        if why_not:
            raise BadArgument(f"--authorized-cidr {cidr!r}: {why_not}")
    return cidrs


def check_config(candidate: str, config: dict[str, Any]) -> None:
    """The candidate's stack config validated offline (a --tenant the scenario does not have,
    say), before any Pulumi command runs."""
    from faults import build_spec
    from model.errors import ConfigError

    try:
        build_spec(config, stack=candidate)
    except ConfigError as err:
        raise BadArgument(str(err)) from None


def candidate_config(candidate: str, scenario: str, project: str, hours: float, tenant: str,
                     now: datetime, region: str = "us-central1",
                     authorized_cidrs: Optional[list[str]] = None) -> dict[str, Any]:
    """The stack config of a candidate's stack: the scenario's stack file (or the scenario
    itself), the project, an expiry, the candidate's login (ServiceAccount
    gpu-lab-candidate/candidate) whose kubeconfig starts in namespace `tenant`, and, when
    given, the only ranges that may reach the control plane."""
    check_scenario(scenario)
    stack_file = PROJECT_DIR / f"Pulumi.{scenario}.yaml"
    config: dict[str, Any] = {"gcp:region": region,
                              "gpu-lab:allowFaults": True, "gpu-lab:scenario": scenario}
    if stack_file.exists():
        config.update(read_stack_file(stack_file))
    config["gcp:region"] = region              # --region wins over the scenario's file
    expires = (now + timedelta(hours=hours)).astimezone(timezone.utc)
    cluster = {**(config.get("gpu-lab:cluster") or {}), "name": f"gpu-lab-{candidate}"}
    if not str(cluster.get("location", region)).startswith(region):
        # The file's zone lies in another region: a zone of this one that has T4s, or the
        # model's default.
        zones = CATALOG["nvidia-tesla-t4"].zones_in(region)
        cluster.pop("location")
        if zones:
            cluster["location"] = zones[0]
    if authorized_cidrs:
        cluster["masterAuthorizedCidrs"] = list(authorized_cidrs)
    config.update({
        "gcp:project": project,
        "gpu-lab:cluster": cluster,
        "gpu-lab:expiresAt": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "gpu-lab:createdAt": now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "gpu-lab:candidate": {"login": True, "tenant": tenant},
    })
    return config


def control_plane_hint(candidate: str, config: dict[str, Any]) -> Optional[str]:
    """How to restrict a candidate's control plane that any address may reach
    (gpu-lab:cluster.masterAuthorizedCidrs empty, the default so candidates connect from
    anywhere); None when it is restricted already or the platform has no GKE control plane."""
    cluster = config.get("gpu-lab:cluster") or {}
    if isinstance(cluster, str):
        cluster = json.loads(cluster)
    if config.get("gpu-lab:platform", "gke") != "gke" or cluster.get("masterAuthorizedCidrs"):
        return None
    # `lab new` sets gpu-lab:cluster as one value, not by path; `pulumi config set --path`
    # into it would replace that value (the cluster's name with it), so the whole value is
    # set again with the ranges added.
    value = json.dumps({**cluster, "masterAuthorizedCidrs": ["<CIDR>"]})
    # The same backend and passphrase as the Automation API's (_workspace_options).
    env = (f"PULUMI_BACKEND_URL={shlex.quote(backend_url())} "
           'PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-}"')
    return "\n".join([
        "The cluster's control plane accepts connections from any address "
        "(gpu-lab:cluster.masterAuthorizedCidrs is empty). To allow only <CIDR>:",
        f"  cd {shlex.quote(str(PROJECT_DIR))} && export {env}",
        f"  pulumi config set --stack {candidate} gpu-lab:cluster {shlex.quote(value)} "
        f"&& pulumi up --stack {candidate}",
        "`lab reset` sets the config `lab new` recorded again; for a restriction that "
        "stays, create the stack with --authorized-cidr CIDR."])


class ClusterUnreadable(LabError):
    """The cluster cannot be read or refuses a request: exit 3."""
    exit_code = 3


class PreflightUnreadable(LabError):
    """The project's quotas or APIs cannot be read (exit 3, like `lab preflight`)."""
    exit_code = 3


def preflight(candidate: str, config: dict[str, Any], project: str) -> None:
    """Refuse to create the stack when the project lacks the quota or the APIs it needs with
    every pool at its largest (`venv/bin/gpu-lab preflight`, read live with ADC)."""
    from faults import build_spec
    from lab import preflight as checks
    from model.errors import ConfigError

    try:
        report = checks.run(build_spec(config, stack=candidate), project)
    except (ConfigError, checks.PreflightError) as err:
        raise LabError(str(err)) from None
    except checks.Unreadable as err:
        raise PreflightUnreadable(f"preflight: {err} (or pass --skip-preflight)") from None
    if not report.ok:
        raise LabError("\n".join(
            [f"project {report.project} cannot hold stack {candidate} at its largest "
             "(venv/bin/gpu-lab preflight; or pass --skip-preflight):"]
            + [f"  - {line}" for line in checks.shortfall_lines(report)]))


def cost_estimate(candidate: str, config: dict[str, Any]):
    """What the candidate's stack costs an hour (lab/cost.py), from its config."""
    from faults import build_spec
    from lab import cost

    return cost.estimate(build_spec(config, stack=candidate))


def _workspace_options(stack: Optional[str] = None, work_dir: Optional[Path] = None):
    """The interviewer's backend and passphrase, in this project (or, for `lab apply`, in
    the candidate's handout: work_dir)."""
    from pulumi import automation as auto

    env = {"PULUMI_BACKEND_URL": backend_url(),
           # The local backend encrypts secrets with a passphrase; empty unless set.
           "PULUMI_CONFIG_PASSPHRASE": os.environ.get("PULUMI_CONFIG_PASSPHRASE", "")}
    return auto.LocalWorkspaceOptions(work_dir=str(work_dir or PROJECT_DIR), env_vars=env)


def _as_config(values: dict[str, Any]):
    from pulumi import automation as auto

    return {key: auto.ConfigValue(value=value if isinstance(value, str) else json.dumps(value))
            for key, value in values.items()}


def new_stack(candidate: str, config: dict[str, Any], on_output: Callable[[str], None]):
    """Create and select the candidate's stack, set its config and run `pulumi up`."""
    require_cli()
    from pulumi import automation as auto

    # The record first: a candidates/ that cannot be written stops before any stack exists.
    record_config(candidate, config)
    LOCAL_STATE.mkdir(exist_ok=True)
    with _pulumi(f"up of stack {candidate}"):
        stack = auto.create_or_select_stack(stack_name=candidate, work_dir=str(PROJECT_DIR),
                                            opts=_workspace_options())
        stack.set_all_config(_as_config(config), path=False)
        return stack.up(on_output=on_output)


def _write_candidate_file(path: Path, text: str, mode: Optional[int] = None) -> Path:
    """Write one of a candidate's files under candidates/; CannotWrite (one line) if not."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if mode is not None:        # restricted before the secret is in it
            path.touch(mode=mode)
            path.chmod(mode)
        path.write_text(text)
    except OSError as err:
        raise CannotWrite(f"cannot write {err.filename or path}: {err.strerror or err} "
                          f"(candidates/ keeps what `lab new` makes for each candidate)") from None
    return path


def record_config(candidate: str, config: dict[str, Any]) -> Path:
    """Keep the interviewer's config of a candidate's stack, for `lab reset`."""
    return _write_candidate_file(CANDIDATES_DIR / candidate / CONFIG_RECORD,
                                 json.dumps(config, indent=2, sort_keys=True) + "\n")


def recorded_config(candidate: str) -> dict[str, Any]:
    path = CANDIDATES_DIR / candidate / CONFIG_RECORD
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise LabError(f"stack {candidate} has no recorded interviewer config ({path}): only "
                       f"stacks made by `venv/bin/gpu-lab new` can be reset") from None
    except ValueError as err:
        raise LabError(f"{path} is not JSON ({err}); restore it or recreate the stack") from None


def login_settings(config: dict[str, Any]) -> tuple[bool, Optional[str]]:
    """(does the stack create the candidate's login, the namespace their kubeconfig starts in)"""
    value = config.get("gpu-lab:candidate") or {}
    if isinstance(value, str):
        value = json.loads(value)
    return bool(value.get("login")), value.get("tenant")


def _select_stack(name: str):
    from pulumi import automation as auto

    try:
        return auto.select_stack(stack_name=name, work_dir=str(PROJECT_DIR),
                                 opts=_workspace_options())
    except auto.StackNotFoundError:
        raise LabError(f"no stack {name!r} in {backend_url()} "
                       f"(`venv/bin/gpu-lab list` shows the stacks)") from None


def _login_urn(stack) -> Optional[str]:
    """The URN of the candidate's ServiceAccount in the stack's state, if it has one."""
    for resource in (stack.export_stack().deployment or {}).get("resources") or []:
        if resource.get("type") != "kubernetes:core/v1:ServiceAccount":
            continue
        meta = (resource.get("outputs") or resource.get("inputs") or {}).get("metadata") or {}
        if (meta.get("namespace"), meta.get("name")) == (CANDIDATE_NAMESPACE, CANDIDATE_ACCOUNT):
            return resource["urn"]
    return None


@dataclass(frozen=True)
class ResetResult:
    up: Any                       # the Automation API's UpResult
    config: dict[str, Any]        # the interviewer's config the stack is back to
    login_replaced: bool          # the candidate's ServiceAccount (and every token) is new
    removed: tuple[str, ...] = ()  # what was deleted from the tenant namespaces (Kind ns/name)


def reset_stack(name: str, on_output: Callable[[str], None], on_step: Callable[[str], None],
                replace_login: bool = True) -> ResetResult:
    """Bring a candidate's stack back to the interviewer's configuration: the recorded config
    set again (keys added since removed), `pulumi refresh` to learn what the candidate
    changed in the cluster, then `pulumi up` with this program. With replace_login, the
    candidate's ServiceAccount is replaced, which revokes every token issued for it."""
    require_cli()
    stack = _select_stack(name)
    config = recorded_config(name)
    on_step(f"Restoring the interviewer's config of stack {name} ({len(config)} keys)")
    with _pulumi(f"config of stack {name}"):
        added = sorted(set(stack.get_all_config()) - set(config))
        if added:
            stack.remove_all_config(added, path=False)
        stack.set_all_config(_as_config(config), path=False)
    on_step("Refreshing: reading what changed in the cloud and the cluster")
    with _pulumi(f"refresh of stack {name}"):
        stack.refresh(on_output=on_output)
    # Before `up`: what the candidate made (their GPU pods among it) would hold the quota the
    # stack's own workloads need to roll out.
    deployment = stack.export_stack().deployment or {}
    api_client = admin_client(deployment, config)
    removed: list[str] = []
    if api_client is None:
        on_step("No cluster credentials in the stack's state: the tenant namespaces are left "
                "as they are")
    else:
        on_step("Removing from the tenant namespaces what the stack does not manage")
        removed = clean_namespaces(api_client, managed_in_state(deployment))
        for item in removed:
            on_output(f"  deleted {item}\n")
    login_urn = _login_urn(stack) if replace_login and login_settings(config)[0] else None
    on_step("Updating the stack back to the interviewer's configuration"
            + (" (and replacing the candidate's ServiceAccount)" if login_urn else ""))
    with _pulumi(f"up of stack {name}"):
        result = stack.up(on_output=on_output, replace=[login_urn] if login_urn else None)
    return ResetResult(up=result, config=config, login_replaced=login_urn is not None,
                       removed=tuple(removed))


# -- reset: the tenant namespaces back to exactly what the stack manages ----------------------
# What the stack's components make carries one of these labels (a tenant's objects and the
# login's: managed-by; a workload's: part-of). A label can be copied onto anything the
# candidate makes, so an object is kept only when the stack's state holds it too; what
# Kubernetes makes itself in every namespace stays, and so does what a kept object owns
# (a Deployment's ReplicaSets and their pods, a Job's pods).
MANAGED_LABELS = (("app.kubernetes.io/managed-by", "gpu-lab"),
                  ("app.kubernetes.io/part-of", "gpu-lab"))
TENANT_SELECTOR = "gpu-lab/tenant=true"
KUBERNETES_MADE = {("ServiceAccount", "default"), ("ConfigMap", "kube-root-ca.crt")}
OWNERS = {"ReplicaSet": {"Deployment"}, "Job": {"CronJob"},
          "Pod": {"ReplicaSet", "Job", "StatefulSet", "ReplicationController"}}
# Everything anyone bound in a tenant namespace (the login, the tenants' groups and service
# accounts) may create there: (kind, API class, list method, delete method), controllers
# before what they own. tests/test_escalation.py checks the list against the roles.
CLEANED_KINDS = (
    ("RoleBinding", "RbacAuthorizationV1Api", "list_namespaced_role_binding",
     "delete_namespaced_role_binding"),
    ("Role", "RbacAuthorizationV1Api", "list_namespaced_role", "delete_namespaced_role"),
    ("CronJob", "BatchV1Api", "list_namespaced_cron_job", "delete_namespaced_cron_job"),
    ("Deployment", "AppsV1Api", "list_namespaced_deployment", "delete_namespaced_deployment"),
    ("StatefulSet", "AppsV1Api", "list_namespaced_stateful_set",
     "delete_namespaced_stateful_set"),
    ("ReplicaSet", "AppsV1Api", "list_namespaced_replica_set", "delete_namespaced_replica_set"),
    ("Job", "BatchV1Api", "list_namespaced_job", "delete_namespaced_job"),
    ("ReplicationController", "CoreV1Api", "list_namespaced_replication_controller",
     "delete_namespaced_replication_controller"),
    ("Pod", "CoreV1Api", "list_namespaced_pod", "delete_namespaced_pod"),
    ("HorizontalPodAutoscaler", "AutoscalingV1Api",
     "list_namespaced_horizontal_pod_autoscaler", "delete_namespaced_horizontal_pod_autoscaler"),
    ("Service", "CoreV1Api", "list_namespaced_service", "delete_namespaced_service"),
    ("ConfigMap", "CoreV1Api", "list_namespaced_config_map", "delete_namespaced_config_map"),
    ("Secret", "CoreV1Api", "list_namespaced_secret", "delete_namespaced_secret"),
    ("PersistentVolumeClaim", "CoreV1Api", "list_namespaced_persistent_volume_claim",
     "delete_namespaced_persistent_volume_claim"),
    ("ServiceAccount", "CoreV1Api", "list_namespaced_service_account",
     "delete_namespaced_service_account"),
    ("NetworkPolicy", "NetworkingV1Api", "list_namespaced_network_policy",
     "delete_namespaced_network_policy"),
)
# The Prometheus Operator's kinds (absent without it): (kind, group, version, plural).
CLEANED_CUSTOM_KINDS = (
    ("PodMonitor", "monitoring.coreos.com", "v1", "podmonitors"),
    ("ServiceMonitor", "monitoring.coreos.com", "v1", "servicemonitors"),
    ("PrometheusRule", "monitoring.coreos.com", "v1", "prometheusrules"),
)


def managed_in_state(deployment: dict) -> set[tuple[str, str, str]]:
    """(kind, namespace, name) of every namespaced Kubernetes object in a stack's state."""
    found = set()
    for resource in deployment.get("resources") or []:
        kind_type = resource.get("type") or ""
        if not kind_type.startswith("kubernetes:") or "helm.sh" in kind_type:
            continue
        meta = (resource.get("outputs") or resource.get("inputs") or {}).get("metadata") or {}
        if meta.get("namespace") and meta.get("name"):
            found.add((kind_type.rsplit(":", 1)[-1], meta["namespace"], meta["name"]))
    return found


def is_managed(obj: dict, managed: Optional[set[tuple[str, str, str]]] = None) -> bool:
    """Does the stack manage this object: one of its labels, and (given the state's
    objects) held by the state?"""
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    if not any(labels.get(key) == value for key, value in MANAGED_LABELS):
        return False
    return managed is None or (obj.get("kind"), meta.get("namespace"), meta.get("name")) \
        in managed


def to_remove(objects: list[dict],
              managed: Optional[set[tuple[str, str, str]]] = None) -> list[dict]:
    """Of the objects in the cleaned namespaces, those `lab reset` deletes: neither the
    stack's, nor Kubernetes' own, nor owned (as their controller) by an object that stays."""
    kept = {id(o) for o in objects if is_managed(o, managed)
            or (o.get("kind"), (o.get("metadata") or {}).get("name")) in KUBERNETES_MADE}
    changed = True
    while changed:
        uids = {(o.get("kind"), (o.get("metadata") or {}).get("uid")) for o in objects
                if id(o) in kept and (o.get("metadata") or {}).get("uid")}
        changed = False
        for obj in objects:
            if id(obj) in kept:
                continue
            for owner in (obj.get("metadata") or {}).get("ownerReferences") or []:
                if owner.get("controller") and owner.get("kind") in OWNERS.get(
                        obj.get("kind"), ()) and (owner.get("kind"), owner.get("uid")) in uids:
                    kept.add(id(obj))
                    changed = True
                    break
    return [o for o in objects if id(o) not in kept]


def clean_namespaces(api_client: Any, managed: Optional[set[tuple[str, str, str]]] = None,
                     namespaces: Optional[list[str]] = None) -> list[str]:
    """Delete, from the tenant namespaces (labelled gpu-lab/tenant=true) and the login's,
    every object the stack does not manage (to_remove), with the official Kubernetes client;
    returns what went, as "Kind namespace/name". A Kubernetes error is a LabError."""
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    removed = []
    try:
        core = client.CoreV1Api(api_client)
        if namespaces is None:
            namespaces = sorted({n.metadata.name for n in core.list_namespace(
                label_selector=TENANT_SELECTOR).items})
            if core.list_namespace(field_selector=f"metadata.name={CANDIDATE_NAMESPACE}").items:
                namespaces.append(CANDIDATE_NAMESPACE)
        custom = client.CustomObjectsApi(api_client)
        for namespace in namespaces:
            found: list[tuple[dict, Callable[[], Any]]] = []
            for kind, api_name, list_method, delete_method in CLEANED_KINDS:
                api = getattr(client, api_name)(api_client)
                for item in getattr(api, list_method)(namespace).items:
                    obj = {**api_client.sanitize_for_serialization(item), "kind": kind}
                    name = obj["metadata"]["name"]
                    found.append((obj, lambda api=api, method=delete_method, name=name:
                                  getattr(api, method)(name, namespace,
                                                       propagation_policy="Background")))
            for kind, group, version, plural in CLEANED_CUSTOM_KINDS:
                try:
                    listed = custom.list_namespaced_custom_object(group, version, namespace,
                                                                  plural)
                except ApiException as err:
                    if err.status == 404:      # no Prometheus operator here
                        continue
                    raise
                for obj in listed.get("items", []):
                    name = obj["metadata"]["name"]
                    found.append(({**obj, "kind": kind},
                                  lambda g=group, v=version, p=plural, name=name:
                                  custom.delete_namespaced_custom_object(
                                      g, v, namespace, p, name,
                                      propagation_policy="Background")))
            objects = [obj for obj, _ in found]
            doomed = {id(o) for o in to_remove(objects, managed)}
            for obj, delete in found:
                if id(obj) not in doomed:
                    continue
                try:
                    delete()
                except ApiException as err:
                    if err.status != 404:      # gone already: its owner took it
                        raise
                removed.append(f"{obj['kind']} {namespace}/{obj['metadata']['name']}")
    except ApiException as err:
        raise LabError(f"cannot clean the tenant namespaces: the API server answered "
                       f"{err.status} {err.reason}") from None
    except (OSError, ValueError) as err:
        raise LabError(f"cannot clean the tenant namespaces: {type(err).__name__}: "
                       f"{(str(err).splitlines() or [''])[0]}") from None
    return removed


def admin_client(deployment: dict, config: dict[str, Any]) -> Any:
    """A Kubernetes client with the interviewer's credentials, or None: on GKE the kubeconfig
    the stack exports, rebuilt from the cluster in its state (name, endpoint and CA are not
    secret); on an existing cluster, its kubeconfig context."""
    from kubernetes import config as kube_config

    cluster = config.get("gpu-lab:cluster") or {}
    if isinstance(cluster, str):
        cluster = json.loads(cluster)
    if config.get("gpu-lab:platform") == "existing":
        return kube_config.new_client_from_config(context=cluster.get("kubeContext"))
    for resource in deployment.get("resources") or []:
        if resource.get("type") != "gcp:container/cluster:Cluster":
            continue
        outputs = resource.get("outputs") or {}
        ca = (outputs.get("masterAuth") or {}).get("clusterCaCertificate")
        if not (outputs.get("endpoint") and ca and outputs.get("name")):
            return None
        from components.cluster import kubeconfig
        from model.spec import GcpSpec

        text = kubeconfig(GcpSpec(project=outputs.get("project", ""), region=""),
                          outputs["name"], outputs["endpoint"], ca)
        return kube_config.new_client_from_config_dict(yaml.safe_load(text))
    return None


def destroy_stack(candidate: str, on_output: Callable[[str], None]) -> None:
    require_cli()
    from pulumi import automation as auto

    with _pulumi(f"destroy of stack {candidate}"):
        try:
            stack = auto.select_stack(stack_name=candidate, work_dir=str(PROJECT_DIR),
                                      opts=_workspace_options())
        except auto.StackNotFoundError:
            raise LabError(f"no stack {candidate!r} in {backend_url()}") from None
        stack.destroy(on_output=on_output)
        stack.workspace.remove_stack(candidate)
    stack_file = PROJECT_DIR / f"Pulumi.{candidate}.yaml"
    if stack_file.exists():
        stack_file.unlink()


@dataclass(frozen=True)
class StackRow:
    name: str
    scenario: str
    age: str
    expires_at: str
    expired: bool
    resources: int
    # USD the stack has cost so far at its idle rate (every pool at minNodes), None when it
    # cannot be told; cost_since says from when: "created" (gpu-lab:createdAt), "last update"
    # (a lower bound, for stacks `lab new` did not make) or why there is no figure.
    cost_usd: Optional[float] = None
    cost_since: str = ""
    cost_upper_bound: bool = False    # a Spot price the table lacks counted at on-demand


def _parse_time(text: str) -> Optional[datetime]:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _age(since: Optional[datetime], now: datetime) -> str:
    if since is None:
        return "-"
    if since.tzinfo is None:
        since = since.replace(tzinfo=timezone.utc)
    hours = (now - since).total_seconds() / 3600
    return f"{hours:.1f}h" if hours < 48 else f"{hours / 24:.1f}d"


def list_stacks(now: Optional[datetime] = None) -> list[StackRow]:
    require_cli()
    from pulumi import automation as auto

    now = now or datetime.now(timezone.utc)
    options = _workspace_options()
    workspace = auto.LocalWorkspace(work_dir=options.work_dir, env_vars=options.env_vars)
    rows = []
    with _pulumi("stack ls"):
        for summary in workspace.list_stacks():
            config = {key: value.value for key, value in
                      workspace.get_all_config(summary.name).items()}
            rows.append(stack_row(summary.name, config, summary.last_update,
                                  summary.resource_count or 0, now))
    return rows


def stack_row(name: str, config: dict[str, str], last_update: Optional[datetime],
              resources: int, now: datetime) -> StackRow:
    expires = _parse_time(config.get("gpu-lab:expiresAt", ""))
    recorded = _parse_time(config.get("gpu-lab:createdAt", ""))
    created = recorded or last_update
    cost, since, upper = _cost_so_far(name, config, recorded, last_update, resources, now)
    return StackRow(name=name, scenario=config.get("gpu-lab:scenario", "-"),
                    age=_age(created, now),
                    expires_at=expires.strftime("%Y-%m-%dT%H:%M:%SZ") if expires else "-",
                    expired=bool(expires and expires < now), resources=resources,
                    cost_usd=cost, cost_since=since, cost_upper_bound=upper)


def _cost_so_far(name: str, config: dict[str, str], created: Optional[datetime],
                 last_update: Optional[datetime], resources: int,
                 now: datetime) -> tuple[Optional[float], str, bool]:
    """(USD, since when or why not, upper bound) at the stack's idle rate (lab/cost.py)."""
    from faults import build_spec
    from lab import cost
    from model.errors import ConfigError

    if not resources:
        return None, "no resources", False
    since, label = (created, "created") if created else (last_update, "last update")
    if since is None:
        return None, "no creation time", False
    if since.tzinfo is None:
        since = since.replace(tzinfo=timezone.utc)
    try:
        estimate = cost.estimate(build_spec(config, stack=name))
    except ConfigError:
        return None, "config not readable", False
    if not estimate.in_table:
        return None, f"region {estimate.region} not in the price table", False
    amount = cost.accrued(estimate, since, now)
    if amount.missing:
        return None, "a price not in the table", False
    return amount.usd, label, bool(amount.ceilings)


@dataclass(frozen=True)
class Reaped:
    name: str
    expires_at: str
    error: Optional[str] = None       # why it could not be destroyed; None: destroyed


def reap_stacks(on_result: Callable[[Reaped], None], dry_run: bool = False,
                now: Optional[datetime] = None) -> list[Reaped]:
    """Destroy (and remove) every stack past its gpu-lab:expiresAt, one after the other; a
    stack that fails is reported and the others still go. With dry_run, only say which."""
    rows = [row for row in list_stacks(now) if row.expired]
    results = []
    for row in rows:
        if dry_run:
            result = Reaped(row.name, row.expires_at)
        else:
            try:
                destroy_stack(row.name, lambda line: None)
                result = Reaped(row.name, row.expires_at)
            except LabError as err:
                result = Reaped(row.name, row.expires_at, str(err))
            except Exception as err:  # noqa: BLE001 - one stack's failure must not stop the rest
                reason = (str(err).splitlines() or [""])[0]
                result = Reaped(row.name, row.expires_at, f"{type(err).__name__}: {reason}")
        results.append(result)
        on_result(result)
    return results


def candidate_kubeconfig(admin_kubeconfig: str, namespace: str, token: str,
                         account: str = "candidate") -> str:
    """A kubeconfig that logs in with a ServiceAccount token, defaulting to its namespace."""
    admin = yaml.safe_load(admin_kubeconfig)
    cluster = admin["clusters"][0]
    context = f"{account}@{cluster['name']}"
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [cluster],
        "users": [{"name": context, "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": cluster["name"], "user": context,
                                                   "namespace": namespace}}],
        "current-context": context,
    }, sort_keys=False)


def request_token(api_client: Any, namespace: str, hours: float,
                  account: str = "candidate") -> str:
    """A bound token for the candidate's ServiceAccount (TokenRequest API), valid `hours`."""
    from kubernetes import client

    request = client.AuthenticationV1TokenRequest(
        api_version="authentication.k8s.io/v1", kind="TokenRequest",
        spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=int(hours * 3600)))
    response = client.CoreV1Api(api_client).create_namespaced_service_account_token(
        account, namespace, request)
    return response.status.token


def context_kubeconfig(text: str, context: Optional[str]) -> str:
    """The kubeconfig cut down to one context (its cluster and user), as `kubectl config view
    --minify --context` would: the admin's way into a cluster the interviewer runs."""
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise LabError(f"the kubeconfig is not YAML: {err}") from None
    config = config if isinstance(config, dict) else {}
    name = context or config.get("current-context")

    def named(kind: str, wanted: Any) -> Optional[dict]:
        return next((e for e in config.get(kind) or []
                     if isinstance(e, dict) and e.get("name") == wanted), None)
    found = named("contexts", name)
    cluster = named("clusters", (found or {}).get("context", {}).get("cluster"))
    user = named("users", (found or {}).get("context", {}).get("user"))
    if not (found and cluster and user):
        names = [e.get("name") for e in config.get("contexts") or [] if isinstance(e, dict)]
        raise LabError(f"the kubeconfig has no complete context {name or '(none is current)'}"
                       + (f"; its contexts: {', '.join(map(str, names))}" if names else ""))
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "clusters": [cluster],
                           "users": [user], "contexts": [found], "current-context": name},
                          sort_keys=False)


def write_candidate_access(candidate: str, admin_kubeconfig: str, tenant: Optional[str],
                           hours: float, again: str = "") -> Path:
    """Ask the cluster for a token of the candidate's ServiceAccount (gpu-lab-candidate/
    candidate) and write their kubeconfig, starting in namespace `tenant`."""
    from kubernetes import config as kube_config

    try:
        api_client = kube_config.new_client_from_config_dict(yaml.safe_load(admin_kubeconfig))
        token = request_token(api_client, CANDIDATE_NAMESPACE, hours, CANDIDATE_ACCOUNT)
    except Exception as err:  # noqa: BLE001 - the API server's refusal or an unreachable one
        reason = (str(err).splitlines() or [type(err).__name__])[0]
        raise ClusterUnreadable(f"stack {candidate} is up, but the cluster gave no token for "
                                f"the candidate's login ({type(err).__name__}: {reason}); "
                                + (again or f"`venv/bin/gpu-lab reset {candidate}` writes a new "
                                            "one")) from None
    return _write_candidate_file(
        CANDIDATES_DIR / candidate / "kubeconfig",
        candidate_kubeconfig(admin_kubeconfig, tenant or CANDIDATE_NAMESPACE, token,
                             CANDIDATE_ACCOUNT), mode=0o600)
