"""`lab apply`: the candidate's change reaches the cluster through the interviewer, as through
review and CI in a real team.

The candidate edits their handout (a git repository, lab/handout.py) and asks for an apply;
the interviewer runs `gpu-lab apply STACK --handout DIR`:

1. the handout is checked: made for STACK (the stack its Pulumi.<stack>.yaml records, as
   `verify --handout` checks it), no interviewer's key in its config (gpu-lab:faults,
   gpu-lab:scenario, gpu-lab:allowFaults) and no other GCP project than the stack's, a
   Pulumi.yaml of project gpu-lab that names no backend and sets no config, and a program
   that renders and exports no `faults` output;
2. the preview: with the Pulumi CLI, the engine's own (`pulumi preview` of the handout's
   program on the interviewer's stack); without it, one computed offline: the interviewer's
   stack and the handout rendered under mocks (lab/render.py), diffed by URN and inputs, each
   change classed create, update, replace or delete by the providers' own rules (below);
3. when confirmed (--yes, or y at the prompt), `pulumi up` through the Automation API: a
   workspace whose work_dir is the handout, with the interviewer's backend and passphrase
   (lab/stacks.py) and a config file written outside the handout: the handout's config, the
   stack's project and secrets settings as the interviewer holds them. Neither the handout's
   files nor the interviewer's Pulumi.<stack>.yaml are written; the engine's output streams
   as in `lab new`, without the `faults` output;
4. every apply that gets to a preview is recorded (time, the handout's diff against its
   first commit, the preview, the result) in candidates/<stack>/applies.jsonl (stacks
   `lab new` made) or reports/<stack>/applies.jsonl in the project; `lab report` carries
   the list.

Before the preview the command prints the whole diff, says when it touches the program's
code, and names the rights the change grants that the stack does not (verify's access-gained
collateral); a change that widens the candidate's own login is refused. The candidate's
program runs in the interviewer's process for the offline checks, as for `verify --handout`,
without this project's other packages or the credentials in the environment
(lab/render.py): a guard, not a sandbox; the diff is what the interviewer reviews.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional

import yaml

from lab import stacks
from lab.stacks import LabError
from model.source import PROJECT_DIR, StackFileError, read_stack_file

INTERVIEWER_KEYS = ("gpu-lab:faults", "gpu-lab:scenario", "gpu-lab:allowFaults",
                    "gpu-lab:variation")
PROJECT_KEY = "gcp:project"
# The output only the interviewer's program exports (the list of what was baked in).
FAULTS_OUTPUT = "faults"
# Where applies of stacks `lab new` did not make are recorded: reports/<stack>/applies.jsonl.
APPLIES_DIR = PROJECT_DIR / "reports"
APPLIES_FILE = "applies.jsonl"
# Where the interviewer's workspace keeps Pulumi.<stack>.yaml (`lab new` runs there), and
# the stack file's secrets settings it holds.
STACK_FILES_DIR = PROJECT_DIR
SECRETS_FIELDS = ("secretsprovider", "encryptedkey", "encryptionsalt")
DIFF_LIMIT = 200_000          # characters of the handout's diff kept in a record


class Refused(LabError):
    """The handout cannot be applied to this stack (exit 2)."""
    exit_code = 2


class Unreadable(LabError):
    """The handout cannot be read or does not render (exit 3)."""
    exit_code = 3


# -- the handout ----------------------------------------------------------------------------

@dataclass(frozen=True)
class HandoutSource:
    directory: Path
    stack: str
    stack_file: Path
    values: dict[str, Any]         # its config, as Pulumi reads the stack file


def read_handout(directory: Path, stack: str) -> HandoutSource:
    """The handout in `directory` for `stack`: Refused when it was made for another stack,
    Unreadable when it is no handout or its stack file cannot be read."""
    from lab import grading

    directory = Path(directory).resolve()
    if not (directory / "__main__.py").is_file():
        raise Unreadable(f"--handout {directory} is not a handout: it has no __main__.py")
    try:
        path = grading._handout_stack_file(directory, stack)
    except grading.WrongStack as err:
        raise Refused(str(err)) from None
    except grading.SourceError as err:
        raise Unreadable(str(err)) from None
    try:
        values = read_stack_file(path)
    except StackFileError as err:
        raise Unreadable(str(err)) from None
    _check_project_file(directory)
    return HandoutSource(directory, stack, path, values)


def _check_project_file(directory: Path) -> None:
    """The handout's Pulumi.yaml: project gpu-lab (the stack's URNs and state are that
    project's), no backend of its own, no config beside the stack file's."""
    path = directory / "Pulumi.yaml"
    try:
        project = yaml.safe_load(path.read_text()) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise Unreadable(f"{path}: cannot read it: {' '.join(str(err).split())}") from None
    if not isinstance(project, dict) or project.get("name") != "gpu-lab":
        name = project.get("name") if isinstance(project, dict) else None
        raise Refused(f"{path}: project {name!r}: the stack belongs to project gpu-lab; "
                      "keep `name: gpu-lab`")
    for key, why in (("backend", "the stack's state stays in the interviewer's backend"),
                     ("config", "configuration goes in the stack file, where the preview "
                                "reads it")):
        if project.get(key):
            raise Refused(f"{path}: sets {key!r}: {why}; remove it")


def check_keys(handout: HandoutSource, interviewer: Mapping[str, Any]) -> None:
    """Refused when the handout's config sets an interviewer's key or another project."""
    found = [key for key in INTERVIEWER_KEYS if key in handout.values]
    if found:
        raise Refused(f"{handout.stack_file}: sets {', '.join(found)}: only the interviewer's "
                      "stack sets these; remove them")
    theirs, ours = handout.values.get(PROJECT_KEY), interviewer.get(PROJECT_KEY)
    if theirs is not None and theirs != ours:
        raise Refused(f"{handout.stack_file}: {PROJECT_KEY} is {theirs!r}, the stack's is "
                      f"{ours!r}: the stack stays in its project; remove {PROJECT_KEY}")


def render_handout(handout: HandoutSource):
    """The handout's program rendered offline with its config. Unreadable (its ConfigError
    whole) when it does not render; Refused when it exports the `faults` output."""
    from lab import grading
    from lab.render import PLACEHOLDER_PROJECT, render

    values = dict(handout.values)
    values.setdefault(PROJECT_KEY, PLACEHOLDER_PROJECT)
    try:
        rendering = render(values, stack=handout.stack,
                           program=handout.directory / "__main__.py")
    except Exception as err:  # noqa: BLE001 - whatever the candidate's program raises
        raise Unreadable(grading.handout_failure(err)) from None
    if FAULTS_OUTPUT in rendering.outputs:
        raise Refused(f"the handout's program exports {FAULTS_OUTPUT!r}: only the "
                      "interviewer's program writes that output; remove the export")
    return rendering


# -- rights the change grants ----------------------------------------------------------------

def rights_gained(values: Mapping[str, Any], stack: str, handout: HandoutSource,
                  rendering) -> list:
    """What anyone may do under the handout that the stack as made does not allow, as
    `verify --handout` reports it: its access-gained collateral."""
    from faults import build_spec
    from lab import grading
    from lab.render import PLACEHOLDER_PROJECT

    values = {PROJECT_KEY: PLACEHOLDER_PROJECT, **values}
    spec = build_spec(values, stack=stack)
    state = grading.handout_state(spec, {PROJECT_KEY: PLACEHOLDER_PROJECT, **handout.values},
                                  handout.stack, handout.directory, rendering)
    return [c for c in grading.collateral(state.context, grading.reference(values, stack))
            if c.check == "access-gained"]


def login_gains(gained: Iterable) -> list:
    """What the candidate's own login (components/candidate_access.py) gains: a change that
    widens it is never applied."""
    from kube.rbac import Subject
    from model.config import CANDIDATE_ACCOUNT, CANDIDATE_NAMESPACE

    login = Subject.service_account(CANDIDATE_NAMESPACE, CANDIDATE_ACCOUNT).user
    return [c for c in gained if c.subject == login]


def code_files(diff: "HandoutDiff", stack: str) -> list[str]:
    """The changed files that are the program's code, not its stack file or the brief."""
    config = {f"Pulumi.{stack}.yaml", "README.md"}
    return [line.split(" ", 1)[1] for line in diff.files
            if line.split(" ", 1)[1].split(" ")[-1] not in config]


# -- the handout's diff ---------------------------------------------------------------------

@dataclass(frozen=True)
class HandoutDiff:
    base: str                  # what it is compared with (the first commit, or why not)
    head: Optional[str]        # the commit checked out, None without git
    uncommitted: bool          # changes in the working tree beyond HEAD (they are applied)
    files: tuple[str, ...]     # "M path", "A path", "D path"
    text: str                  # the unified diff

    def to_json(self) -> dict[str, Any]:
        text = self.text if len(self.text) <= DIFF_LIMIT else \
            self.text[:DIFF_LIMIT] + f"\n... ({len(self.text) - DIFF_LIMIT} more characters)\n"
        return {"base": self.base, "head": self.head, "uncommitted": self.uncommitted,
                "files": list(self.files), "diff": text}


def _git(directory: Path, *args: str, env: Optional[dict] = None,
         check: bool = True) -> subprocess.CompletedProcess:
    """git in the candidate's repository, with nothing of its own config that runs
    commands (fsmonitor, hooks, external diff and textconv drivers)."""
    return subprocess.run(
        ["git", "-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null",
         "-c", f"safe.directory={directory}", "-C", str(directory), *args],
        capture_output=True, text=True, check=check, env=env, timeout=120)


def handout_diff(directory: Path, fresh: Callable[[Path], None]) -> HandoutDiff:
    """What the candidate changed: the working tree (untracked files included, ignored ones
    not) against the handout's first commit. Without git history, against a fresh handout
    of the stack that `fresh(path)` writes."""
    directory = Path(directory).resolve()
    if (directory / ".git").exists():
        try:
            head = _git(directory, "rev-parse", "HEAD").stdout.strip()
            roots = _git(directory, "rev-list", "--max-parents=0", "--reverse",
                         "HEAD").stdout.split()
            with tempfile.TemporaryDirectory() as scratch:
                # A scratch index holds the working tree as `git add -A` sees it; the
                # candidate's own index is not touched.
                env = {**os.environ, "GIT_INDEX_FILE": str(Path(scratch) / "index")}
                _git(directory, "add", "-A", env=env)
                options = ("--cached", "--no-ext-diff", "--no-textconv", "--no-color")
                text = _git(directory, "diff", *options, roots[0], env=env).stdout
                files = _git(directory, "diff", *options, "--name-status", roots[0],
                             env=env).stdout.splitlines()
                uncommitted = _git(directory, "diff", *options, "--quiet", "HEAD", env=env,
                                   check=False).returncode != 0
            return HandoutDiff(f"first commit {roots[0][:12]}", head, uncommitted,
                               tuple(" ".join(f.split("\t")) for f in files), text)
        except (subprocess.SubprocessError, OSError, IndexError):
            pass                  # no commit yet, or git missing: compared as below
    with tempfile.TemporaryDirectory() as scratch:
        given = Path(scratch) / "handout"
        fresh(given)
        files, text = _tree_diff(given, directory)
    return HandoutDiff("a fresh handout of the stack (the directory has no git history)",
                       None, bool(files), tuple(files), text)


def _tree_files(root: Path) -> dict[str, Path]:
    skip = {".git", "venv", "__pycache__"}
    return {str(p.relative_to(root)): p for p in sorted(root.rglob("*"))
            if p.is_file() and not skip.intersection(p.relative_to(root).parts)
            and p.suffix != ".pyc"}


def _tree_diff(before: Path, after: Path) -> tuple[list[str], str]:
    old, new = _tree_files(before), _tree_files(after)
    files, chunks = [], []
    for name in sorted(set(old) | set(new)):
        a = _text(old[name]) if name in old else []
        b = _text(new[name]) if name in new else []
        if a == b:
            continue
        files.append(f"{'A' if name not in old else 'D' if name not in new else 'M'} {name}")
        chunks += difflib.unified_diff(a, b, f"a/{name}", f"b/{name}")
    return files, "".join(chunks)


def _text(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines(keepends=True)
    except (OSError, UnicodeDecodeError):
        return ["(not text)\n"]


# -- the preview ----------------------------------------------------------------------------

CREATE, UPDATE, REPLACE, DELETE = "create", "update", "replace", "delete"
OPS = (CREATE, UPDATE, REPLACE, DELETE)
SYMBOL = {CREATE: "+", UPDATE: "~", REPLACE: "+-", DELETE: "-"}


@dataclass
class Change:
    op: str
    type: str
    name: str
    urn: str
    # changed inputs ("a.b[0].c", "a.b: x -> y"), each marked when it forces the replacement
    keys: list[str] = field(default_factory=list)
    replace_keys: list[str] = field(default_factory=list)  # the paths that force it
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Preview:
    mode: str                      # "offline" or "engine"
    changes: list[Change]
    unchanged: int
    outputs: list[str] = field(default_factory=list)    # stack outputs that change

    def count(self, op: str) -> int:
        return sum(c.op == op for c in self.changes)

    def summary(self) -> dict[str, int]:
        return {**{op: self.count(op) for op in OPS}, "same": self.unchanged}

    def summary_line(self) -> str:
        if not self.changes:
            return f"no changes ({self.unchanged} resources unchanged)"
        return ", ".join(f"{self.count(op)} to {op}" for op in OPS if self.count(op)) + \
            f", {self.unchanged} unchanged"

    def to_json(self) -> dict[str, Any]:
        return {"mode": self.mode, "summary": self.summary(), "outputs": self.outputs,
                "changes": [c.to_json() for c in self.changes]}

    def lines(self, width: int = 8) -> list[str]:
        found = []
        for op in OPS:
            for c in (c for c in self.changes if c.op == op):
                line = f"  {SYMBOL[op]:2} {op:7} {c.type} {c.name}"
                shown = c.keys[:width]
                if len(c.keys) > width:
                    shown.append(f"+{len(c.keys) - width} more")
                if shown:
                    found.append(f"{line}: {', '.join(shown)}")
                    found += [f"       ({note})" for note in c.notes]
                else:
                    found.append(line + "".join(f" ({note})" for note in c.notes))
        if self.outputs:
            found.append(f"  outputs that change: {', '.join(self.outputs)}")
        return found


# Which input changes force a replacement, per resource type the program registers (every
# other change is an update in place). Paths as Pulumi names inputs (camelCase; a repeated
# block in the plural); `[*]` is every item of a list.
#
# GCP: the fields marked `ForceNew: true` in terraform-provider-google v7.45.0
# (github.com/hashicorp/terraform-provider-google, google/services/...), the upstream of the
# provider pulumi-gcp bridges (its -beta twin has the same schemas for these fields).
NODE_CONFIG_FORCE_NEW = (         # container/node_config.go, schemaNodeConfig()
    "guestAccelerators", "localSsdCount", "ephemeralStorageLocalSsdConfig",
    "localNvmeSsdBlockConfig", "secondaryBootDisks", "metadata", "minCpuPlatform",
    "oauthScopes", "preemptible", "reservationAffinity", "spot", "serviceAccount",
    "shieldedInstanceConfig", "sandboxConfig", "bootDiskKmsKey")
GCP_FORCE_NEW: dict[str, tuple[str, ...]] = {
    # container/resource_container_node_pool.go: schemaNodePool and the resource's project,
    # cluster, location. machine_type, disk_type and disk_size_gb are updated in place since
    # v5.10.0 ("Do not replace GKE's NodePool resource on machineType/diskType/diskSizeGb
    # change", #16724): GKE re-creates the nodes, the pool stays.
    "gcp:container/nodePool:NodePool": (
        "project", "cluster", "location", "name", "namePrefix", "initialNodeCount",
        "maxPodsPerNode", "placementPolicy", "queuedProvisioning",
        "networkConfig.acceleratorNetworkProfile", "networkConfig.createPodRange",
        "networkConfig.podRange", "networkConfig.podIpv4CidrBlock",
        "networkConfig.additionalNodeNetworkConfigs",
        "networkConfig.additionalPodNetworkConfigs",
        "networkConfig.podCidrOverprovisionConfig", "networkConfig.subnetwork",
        *(f"nodeConfig.{key}" for key in NODE_CONFIG_FORCE_NEW)),
    # container/resource_container_cluster.go
    "gcp:container/cluster:Cluster": (
        "name", "location", "clusterIpv4Cidr", "description", "enableKubernetesAlpha",
        "enableTpu", "enableAutopilot", "initialNodeCount", "confidentialNodes",
        "masterAuth.clientCertificateConfig", "network", "nodePools", "project",
        "subnetwork", "ipAllocationPolicy", "networkingMode",
        "privateClusterConfig.masterIpv4CidrBlock",
        "privateClusterConfig.privateEndpointSubnetwork", "defaultMaxPodsPerNode",
        "datapathProvider", "dataplaneOptimizationMode", "userManagedKeysConfig",
        *(f"nodeConfig.{key}" for key in NODE_CONFIG_FORCE_NEW)),
    # compute/resource_compute_network.go
    "gcp:compute/network:Network": ("name", "autoCreateSubnetworks", "description",
                                    "internalIpv6Range", "networkProfile", "params",
                                    "project"),
    # compute/resource_compute_subnetwork.go; ipCidrRange too when it shrinks (below)
    "gcp:compute/subnetwork:Subnetwork": ("name", "network", "description",
                                          "externalIpv6Prefix", "internalIpv6Prefix",
                                          "params", "region", "reservedInternalRange",
                                          "resolveSubnetMask", "project"),
    # compute/resource_compute_router.go
    "gcp:compute/router:Router": ("name", "encryptedInterconnectRouter", "nccGateway",
                                  "network", "params", "region", "project"),
    # compute/resource_compute_router_nat.go
    "gcp:compute/routerNat:RouterNat": ("name", "router", "endpointTypes", "initialNatIps",
                                        "region", "type", "project"),
    # compute/resource_compute_firewall.go (network is updated in place)
    "gcp:compute/firewall:Firewall": ("name", "direction", "params", "project"),
    # dns/resource_dns_managed_zone.go, dns/resource_dns_record_set.go
    "gcp:dns/managedZone:ManagedZone": ("dnsName", "name", "visibility", "project"),
    "gcp:dns/recordSet:RecordSet": ("managedZone", "name", "routingPolicy.healthCheck",
                                    "project"),
    # resourcemanager/resource_google_service_account.go
    "gcp:serviceaccount/account:Account": ("accountId", "project"),
    # tpgiamresource/resource_iam_member.go and resourcemanager/iam_project.go
    "gcp:projects/iAMMember:IAMMember": ("project", "role", "member", "condition"),
    # terraform-provider-random internal/provider/resource_password.go: every argument has
    # a RequiresReplace plan modifier.
    "random:index/randomPassword:RandomPassword": ("*",),
}
# Inputs whose change GCP applies in place by re-creating what runs on them.
GCP_NOTES = {
    ("gcp:container/nodePool:NodePool", "nodeConfig.machineType"):
        "in place: GKE re-creates the pool's nodes with the new machine type",
    ("gcp:container/nodePool:NodePool", "nodeConfig.diskSizeGb"):
        "in place: GKE re-creates the pool's nodes",
    ("gcp:container/nodePool:NodePool", "nodeConfig.diskType"):
        "in place: GKE re-creates the pool's nodes",
}

# Kubernetes: pulumi-kubernetes' provider/pkg/provider/diff.go (forceNewProperties, at
# github.com/pulumi/pulumi-kubernetes 9497796, 2026-07-01): every kind replaces on
# .metadata.name and .metadata.namespace, and these kinds on these paths (a change at or
# under the path). A ConfigMap's data and a Secret's data replace unless the provider sets
# enableConfigMapMutable / enableSecretMutable (and the object is not immutable).
K8S_FORCE_NEW: dict[tuple[str, str], tuple[str, ...]] = {
    ("apps", "Deployment"): ("spec.selector",),
    ("apps", "DaemonSet"): ("spec.selector",),
    ("apps", "StatefulSet"): ("spec.podManagementPolicy", "spec.revisionHistoryLimit",
                              "spec.selector", "spec.serviceName",
                              "spec.volumeClaimTemplates"),
    ("batch", "Job"): ("spec.completions", "spec.parallelism", "spec.selector",
                       "spec.template"),
    ("core", "PersistentVolumeClaim"): ("spec.accessModes", "spec.selector",
                                        "spec.storageClassName", "spec.volumeName"),
    ("core", "ResourceQuota"): ("spec.scopes",),
    ("core", "Service"): ("spec.clusterIP",),
    ("core", "Secret"): ("type",),
    ("rbac.authorization.k8s.io", "RoleBinding"): ("roleRef",),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): ("roleRef",),
    ("storage.k8s.io", "StorageClass"): ("parameters", "provisioner"),
}
K8S_MUTABLE_FLAGS = {"ConfigMap": ("enableConfigMapMutable", ("binaryData", "data")),
                     "Secret": ("enableSecretMutable", ("stringData", "data"))}
# helm_release.go (helmReleaseProvider.Diff): a Release replaces on .name and .namespace.
HELM_FORCE_NEW = ("name", "namespace")
# Fields the API server refuses to change that pulumi-kubernetes updates in place, so the up
# fails on them: kubernetes pkg/apis/scheduling/validation ValidatePriorityClassUpdate.
K8S_IMMUTABLE = {("scheduling.k8s.io", "PriorityClass"): ("value", "preemptionPolicy")}
KUBE_PROVIDER = "pulumi:providers:kubernetes"
COMPUTED = "<known after apply>"

_ABSENT = object()
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _unsecret(value: Any) -> tuple[Any, bool]:
    from lab.render import SECRET

    if isinstance(value, dict) and set(value) == {SECRET}:
        return value[SECRET], True
    return value, False


def _plain(value: Any) -> Any:
    """Inputs without the secret wrappers."""
    value, _ = _unsecret(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def format_path(path: Iterable[Any]) -> str:
    """A Pulumi property path: a.b[0]["c.d"]."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _IDENTIFIER.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f"[{json.dumps(part)}]"
    return text


def parse_path(text: str) -> tuple[Any, ...]:
    """a.b[0]["c.d"][*] -> ("a", "b", 0, "c.d", "*")."""
    parts: list[Any] = []
    for dotted, quoted, index in re.findall(r'([^.\[\]]+)|\["((?:[^"\\]|\\.)*)"\]|\[(\*|\d+)\]',
                                            text):
        if dotted:
            parts.append(dotted)
        elif index:
            parts.append("*" if index == "*" else int(index))
        else:
            parts.append(json.loads(f'"{quoted}"'))
    return tuple(parts)


def _diff(old: Any, new: Any, path: tuple = ()) -> list[tuple[tuple, Any, Any, bool]]:
    """(path, old, new, secret) of every changed leaf; a list whose length changed, a key
    added or removed, or a change of kind is one entry at its own path."""
    old, old_secret = _unsecret(old)
    new, new_secret = _unsecret(new)
    secret = old_secret or new_secret
    if old == new and isinstance(old, bool) == isinstance(new, bool):
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key in sorted(set(old) | set(new), key=str):
            found += [(p, a, b, s or secret) for p, a, b, s in
                      _diff(old.get(key, _ABSENT), new.get(key, _ABSENT), path + (key,))]
        return found
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        found = []
        for i, (a, b) in enumerate(zip(old, new)):
            found += [(p, x, y, s or secret) for p, x, y, s in _diff(a, b, path + (i,))]
        return found
    return [(path, old, new, secret)]


def _under(path: tuple, prefix: tuple) -> bool:
    """Is `path` at or under `prefix` (`*` matches any index or key)?"""
    return len(path) >= len(prefix) and all(
        p == "*" or p == q for p, q in zip(prefix, path))


def _resolve(value: Any, pattern: tuple) -> list[Any]:
    """Every value at `pattern` in `value` (`*` goes through every item), _ABSENT where a
    step is missing."""
    if not pattern:
        return [value]
    step, rest = pattern[0], pattern[1:]
    if step == "*":
        items = value if isinstance(value, list) else \
            list(value.values()) if isinstance(value, dict) else []
        return [v for item in items for v in _resolve(item, rest)] or [_ABSENT]
    if isinstance(value, dict) and step in value:
        return _resolve(value[step], rest)
    if isinstance(value, list) and isinstance(step, int) and step < len(value):
        return _resolve(value[step], rest)
    return [_ABSENT]


def _merge_patch(old: Any, new: Any) -> Any:
    """RFC 7386 JSON merge patch from old to new (what pulumi-kubernetes matches its
    force-new paths against: a path present in the patch has changed)."""
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return new
    patch = {}
    for key in set(old) | set(new):
        if key not in new:
            patch[key] = None
        elif key not in old or old[key] != new[key]:
            patch[key] = _merge_patch(old.get(key), new[key])
    return patch


def _in_patch(patch: Any, pattern: tuple) -> bool:
    if not pattern:
        return True
    step, rest = pattern[0], pattern[1:]
    if step == "*":
        return isinstance(patch, list) and any(_in_patch(item, rest) for item in patch)
    return isinstance(patch, dict) and step in patch and _in_patch(patch[step], rest)


def _kube_kind(type_token: str) -> tuple[str, str]:
    """kubernetes:apps/v1:Deployment -> ("apps", "Deployment")."""
    _, module, kind = type_token.split(":", 2)
    return module.rsplit("/", 1)[0], kind


def _active_cluster(kubeconfig: Any) -> Any:
    try:
        config = yaml.safe_load(kubeconfig) if isinstance(kubeconfig, str) else kubeconfig
        contexts = {c["name"]: c["context"] for c in config.get("contexts") or []}
        clusters = {c["name"]: c["cluster"] for c in config.get("clusters") or []}
        return clusters[contexts[config["current-context"]]["cluster"]]
    except Exception:  # noqa: BLE001 - not a kubeconfig (computed, or broken): unknown
        return _ABSENT


def replacement_keys(type_token: str, old: dict, new: dict, provider_inputs: dict,
                     changed: list[tuple]) -> list[str]:
    """The changed inputs that force this resource's replacement, by its provider's rules."""
    old_plain, new_plain = _plain(old), _plain(new)
    if type_token.startswith("gcp:") or type_token.startswith("random:"):
        patterns = GCP_FORCE_NEW.get(type_token, ())
        if patterns == ("*",):
            return [format_path(path) for path, *_ in changed]
        keys = [p for p in patterns
                if _resolve(old_plain, parse_path(p)) != _resolve(new_plain, parse_path(p))]
        if type_token == "gcp:compute/subnetwork:Subnetwork" and \
                _shrinks(old_plain.get("ipCidrRange"), new_plain.get("ipCidrRange")):
            keys.append("ipCidrRange")          # customdiff.ForceNewIfChange(IsShrinkageIpCidr)
        return keys
    if type_token == KUBE_PROVIDER:
        # DiffConfig: a replacement iff the kubeconfig's active cluster changes; a computed
        # kubeconfig counts as changed (the conservative choice it makes).
        keys = [k for k in ("kubeconfig", "context", "cluster")
                if old_plain.get(k) != new_plain.get(k)]
        before = _active_cluster(old_plain.get("kubeconfig"))
        after = _active_cluster(new_plain.get("kubeconfig"))
        if before is _ABSENT or after is _ABSENT or before != after:
            return keys
        return ["clusterIdentifier"] if old_plain.get("clusterIdentifier") != \
            new_plain.get("clusterIdentifier") else []
    if type_token == "kubernetes:helm.sh/v3:Release":
        patch = _merge_patch(old_plain, new_plain)
        return [p for p in HELM_FORCE_NEW if _in_patch(patch, parse_path(p))]
    if type_token.startswith("kubernetes:") and "kind" in new_plain:
        group, kind = _kube_kind(type_token)
        patterns = ["metadata.name", "metadata.namespace",
                    *K8S_FORCE_NEW.get((group, kind), ())]
        if kind in K8S_MUTABLE_FLAGS and group == "core":
            flag, paths = K8S_MUTABLE_FLAGS[kind]
            if str(provider_inputs.get(flag, "false")).lower() != "true" or \
                    new_plain.get("immutable"):
                patterns += paths
        patch = _merge_patch(old_plain, new_plain)
        return [p for p in patterns if _in_patch(patch, parse_path(p))]
    return []


def _shrinks(old: Any, new: Any) -> bool:
    try:
        before, after = ipaddress.ip_network(old), ipaddress.ip_network(new)
    except (TypeError, ValueError):
        return False
    return not (before.subnet_of(after) if before.version == after.version else False)


def _short(value: Any) -> Optional[str]:
    if value is _ABSENT:
        return "(none)"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (bool, int, float)) or value is None:
        return json.dumps(value)
    if isinstance(value, str) and len(value) <= 40 and "\n" not in value:
        return value
    return None


def _urns(resources, stack: str) -> dict[str, Any]:
    by_key = {f"{r.type}::{r.name}": r for r in resources}

    def qualified(r) -> str:
        chain, seen = [r.type], {id(r)}
        parent = by_key.get(r.parent) if r.parent else None
        while parent is not None and id(parent) not in seen:
            seen.add(id(parent))
            chain.append(parent.type)
            parent = by_key.get(parent.parent) if parent.parent else None
        return "$".join(reversed(chain))

    return {f"urn:pulumi:{stack}::gpu-lab::{qualified(r)}::{r.name}": r for r in resources}


def _mock_outputs(resource) -> list[str]:
    """What a resource hands its dependents that is not among its inputs (its id and the
    outputs the cloud computes, as the mocks give them): unknown while it is replaced."""
    from types import SimpleNamespace

    from lab.render import _Mocks

    rid, state = _Mocks().new_resource(SimpleNamespace(typ=resource.type, name=resource.name,
                                                       inputs=dict(resource.inputs)))
    found = [rid]
    for key, value in state.items():
        if key in resource.inputs:
            continue
        if isinstance(value, dict):
            found += [v for v in value.values() if isinstance(v, str)]
        elif isinstance(value, str):
            found.append(value)
    return [token for token in found if len(token) >= 6]


def _computed(value: Any, tokens: list[str]) -> Any:
    """The inputs with every string that carries a token unknown (COMPUTED)."""
    inner, secret = _unsecret(value)
    if secret:
        from lab.render import SECRET
        return {SECRET: _computed(inner, tokens)}
    if isinstance(value, dict):
        return {k: _computed(v, tokens) for k, v in value.items()}
    if isinstance(value, list):
        return [_computed(v, tokens) for v in value]
    if isinstance(value, str) and any(token in value for token in tokens):
        return COMPUTED
    return value


def diff_renderings(before, after, stack: str) -> Preview:
    """The offline preview: `after` (the handout) against `before` (the stack), by URN and
    inputs, each change classed by its provider's rules, replacements followed to what
    takes the replaced resource's outputs and to what its replaced provider manages."""
    old, new = _urns(before.resources, stack), _urns(after.resources, stack)
    # A provider reference is "URN::id" as the mocks make URNs (the parent's type alone):
    # known by its type and name.
    providers = {(r.type, r.name): urn for urn, r in new.items()
                 if r.type.startswith("pulumi:providers:")}
    both = [urn for urn in new if urn in old]
    replaced: set[str] = set()
    changes: dict[str, Change] = {}
    tokens: list[str] = []
    while True:
        for urn in both:
            if urn in replaced:
                continue
            a, b = old[urn], new[urn]
            inputs = _computed(b.inputs, tokens) if tokens else b.inputs
            ignored = [parse_path(p) for p in b.options.get("ignoreChanges", [])]
            changed = [c for c in _diff(a.inputs, inputs)
                       if not any(_under(c[0], p) for p in ignored)]
            provider_urn = providers.get(_provider_key(b.provider), "")
            provider = new.get(provider_urn)
            if not changed and provider_urn not in replaced:
                continue
            keys = [format_path(p) for p, *_ in changed]
            forced = replacement_keys(b.type, a.inputs, inputs,
                                      _plain(provider.inputs) if provider else {}, changed)
            forced = [k for k in forced
                      if not any(_under(parse_path(k), p) for p in ignored)]
            forced += [format_path(parse_path(k)) for k in b.options.get("replaceOnChanges", [])
                       if any(_under(p, parse_path(k)) for p, *_ in changed)]
            notes = []
            if provider_urn in replaced:
                notes.append("its provider is replaced")
            change = Change(REPLACE if forced or provider_urn in replaced else UPDATE,
                            b.type, b.name, urn, _described(changed, forced), forced, notes)
            change.notes += _notes(b.type, changed, keys)
            changes[urn] = change
            if change.op == REPLACE:
                replaced.add(urn)
        grown = [t for urn in replaced for t in _mock_outputs(old[urn]) if t not in tokens]
        if not grown:
            break
        tokens += grown
    for urn, r in new.items():
        if urn not in old:
            changes[urn] = Change(CREATE, r.type, r.name, urn)
    for urn, r in old.items():
        if urn not in new:
            changes[urn] = Change(DELETE, r.type, r.name, urn)
    order = {op: i for i, op in enumerate(OPS)}
    listed = sorted(changes.values(), key=lambda c: (order[c.op], c.type, c.name))
    outputs = sorted(k for k in set(before.outputs) | set(after.outputs)
                     if k != FAULTS_OUTPUT and before.outputs.get(k, _ABSENT)
                     != after.outputs.get(k, _ABSENT))
    return Preview("offline", listed, len(both) - sum(u in changes for u in both), outputs)


def _provider_key(reference: str) -> tuple[str, str]:
    """("pulumi:providers:kubernetes", "lab-gke-k8s") of "urn:...$pulumi:providers:...::
    lab-gke-k8s::<id>"."""
    urn = reference.rsplit("::", 1)[0] if reference else ""
    parts = urn.split("::")
    return (parts[2].rsplit("$", 1)[-1], parts[3]) if len(parts) >= 4 else ("", "")


def _described(changed: list[tuple], forced: list[str]) -> list[str]:
    """Changed inputs, with their values where they are short and not secret, marked when
    they force the replacement."""
    found = []
    patterns = [parse_path(f) for f in forced]
    for path, a, b, secret in changed:
        key = format_path(path)
        before, after = _short(a), _short(b)
        if b == COMPUTED:
            key += f" ({COMPUTED})"
        elif not (secret or before is None or after is None):
            key += f": {before} -> {after}"
        if any(_under(path, p) or _under(p, path) for p in patterns):
            key += " (forces replacement)"
        found.append(key)
    return found


def _notes(type_token: str, changed: list[tuple], keys: list[str]) -> list[str]:
    notes = sorted({note for (t, prefix), note in GCP_NOTES.items()
                    if t == type_token and any(_under(parse_path(k), parse_path(prefix))
                                               for k in keys)})
    if type_token.startswith("kubernetes:") and type_token.count(":") == 2:
        group, kind = _kube_kind(type_token)
        refused = [p for p in K8S_IMMUTABLE.get((group, kind), ())
                   if any(_under(parse_path(k), parse_path(p)) for k in keys)]
        if refused:
            notes.append(f"the API server refuses to change {', '.join(refused)} "
                         f"(immutable): the up fails on this {kind}")
    return notes


def offline_preview(interviewer: Mapping[str, Any], stack: str, after) -> Preview:
    """The handout's rendering against the interviewer's stack rendered from its config."""
    from lab.render import PLACEHOLDER_PROJECT, render

    values = dict(interviewer)
    values.setdefault(PROJECT_KEY, PLACEHOLDER_PROJECT)
    return diff_renderings(render(values, stack=stack), after, stack)


def interactive() -> bool:
    """May the command ask (y/N)? Only when stdin is a terminal."""
    return sys.stdin.isatty()


# -- the engine -----------------------------------------------------------------------------

def applied_config(handout: HandoutSource, interviewer: Mapping[str, Any],
                   directory: Path) -> Path:
    """The stack file `pulumi preview` and `pulumi up` read (--config-file), in `directory`
    (outside the handout): the handout's config as it rendered, the stack's project and the
    secrets settings of the interviewer's Pulumi.<stack>.yaml."""
    document: dict[str, Any] = {}
    own = STACK_FILES_DIR / f"Pulumi.{handout.stack}.yaml"
    if own.is_file():
        try:
            settings = yaml.safe_load(own.read_text()) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
            raise LabError(f"{own}: cannot read it: {' '.join(str(err).split())}") from None
        document.update({k: settings[k] for k in SECRETS_FIELDS if settings.get(k)})
    config = dict(handout.values)
    if interviewer.get(PROJECT_KEY):
        config[PROJECT_KEY] = interviewer[PROJECT_KEY]
    document["config"] = config
    path = Path(directory) / f"Pulumi.{handout.stack}.yaml"
    path.write_text("# Written by `gpu-lab apply`: the candidate's config with the stack's "
                    "project and secrets settings.\n"
                    + yaml.safe_dump(document, sort_keys=False, width=100))
    return path


def select_stack(stack: str, handout_dir: Path):
    """The interviewer's stack, in a workspace whose work_dir is the handout, with the
    interviewer's backend and passphrase."""
    from pulumi import automation as auto

    try:
        return auto.select_stack(stack_name=stack, work_dir=str(handout_dir),
                                 opts=stacks._workspace_options(work_dir=handout_dir))
    except auto.StackNotFoundError:
        raise LabError(f"no stack {stack!r} in {stacks.backend_url()}: `gpu-lab apply` "
                       "changes a stack that exists (`venv/bin/gpu-lab list` shows them)") from None


def engine_preview(stack, config_file: Path) -> Preview:
    """`pulumi preview` of the handout's program on the stack, from the engine's events."""
    changes: list[Change] = []
    same = 0

    def on_event(event) -> None:
        nonlocal same
        pre = getattr(event, "resource_pre_event", None)
        if pre is None or pre.metadata is None or pre.metadata.type == "pulumi:pulumi:Stack":
            return
        meta = pre.metadata
        op = getattr(meta.op, "value", meta.op)
        if op == "same":
            same += 1
            return
        if op not in OPS:          # create-replacement, delete-replaced: steps of a replace
            return
        keys = list((meta.detailed_diff or {}).keys()) or list(meta.diffs or [])
        forced = list(meta.keys or []) if op == REPLACE else []
        marked = [f"{k} (forces replacement)" if k in forced else k for k in keys]
        marked += [f"{k} (forces replacement)" for k in forced if k not in keys]
        name = meta.urn.rsplit("::", 1)[-1]
        changes.append(Change(op, meta.type, name, meta.urn, marked, forced))

    with stacks._pulumi(f"preview of stack {stack.name}"):
        stack.preview(on_event=on_event, config_file=str(config_file))
    order = {op: i for i, op in enumerate(OPS)}
    changes.sort(key=lambda c: (order[c.op], c.type, c.name))
    return Preview("engine", changes, same)


def hide_output(on_output: Callable[[str], None],
                name: str = FAULTS_OUTPUT) -> Callable[[str], None]:
    """on_output without the lines of one stack output (the summary's `Outputs:` block):
    the interviewer's `faults` leaves the stack on the first apply, and its value is not
    for the candidate's eyes."""
    start = re.compile(rf"^(\s*[-+~]?\s*){re.escape(name)}\s*:\s*(.*?)\s*$")
    state = {"column": None}

    def filtered(line: str) -> None:
        column = state["column"]
        if column is not None:
            text = line.rstrip("\n")
            content = len(text) - len(text.lstrip(" -+~"))
            if text.strip() and content > column:
                return                                  # inside the value
            state["column"] = None
            if text.lstrip(" -+~")[:1] in ("]", "}") and content <= column:
                return                                  # its closing bracket
        match = start.match(line)
        if match:
            if match.group(2) in ("[", "{"):
                state["column"] = len(match.group(1))
            return
        on_output(line)
    return filtered


def up(stack, config_file: Path, on_output: Callable[[str], None]):
    with stacks._pulumi(f"up of stack {stack.name}"):
        return stack.up(on_output=hide_output(on_output), config_file=str(config_file))


# -- the record -----------------------------------------------------------------------------

def applies_path(stack: str) -> Path:
    """candidates/<stack>/applies.jsonl for a stack `lab new` made (it has a candidates/
    directory), else reports/<stack>/applies.jsonl in the project."""
    mine = stacks.CANDIDATES_DIR / stack
    return (mine if mine.is_dir() else APPLIES_DIR / stack) / APPLIES_FILE


def record(stack: str, entry: Mapping[str, Any]) -> Path:
    """Append one apply to the stack's record; CannotWrite (exit 2) when it cannot be."""
    path = applies_path(stack)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as out:
            out.write(json.dumps(dict(entry), sort_keys=True) + "\n")
    except OSError as err:
        raise stacks.CannotWrite(f"cannot write {err.filename or path}: "
                                 f"{err.strerror or err} (the record of the stack's "
                                 "applies)") from None
    return path


def check_record(stack: str) -> Path:
    """The record can be written (before anything is done); CannotWrite (exit 2) if not."""
    path = applies_path(stack)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a"):
            pass
    except OSError as err:
        raise stacks.CannotWrite(f"cannot write {err.filename or path}: "
                                 f"{err.strerror or err} (the record of the stack's "
                                 "applies)") from None
    return path


def recorded(stack: str) -> list[dict[str, Any]]:
    """The stack's applies, oldest first; a line that is not JSON is skipped."""
    path = applies_path(stack)
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        try:
            found.append(json.loads(line))
        except ValueError:
            continue
    return found


def entry(stack: str, handout_dir: Path, diff: Optional[HandoutDiff],
          preview: Optional[Preview], result: str,
          now: Optional[datetime] = None) -> dict[str, Any]:
    return {"time": (now or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "stack": stack, "handout": str(Path(handout_dir).resolve()),
            "handout_diff": diff.to_json() if diff else None,
            "preview": preview.to_json() if preview else None, "result": result}
