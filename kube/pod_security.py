"""Pod Security admission: the `baseline` and `restricted` Pod Security Standards, as the API
server's PodSecurity plugin enforces them on pods (kubernetes/pod-security-admission).

Ported from pod-security-admission at commit 8f84a87c (its newest policy version is v1.37,
which is what `latest` means there):
- policy/check_*.go: one function per check and policy version, with upstream's forbidden
  reasons and details word for word;
- policy/registry.go: which checks a level and version run, in which order (baseline
  checks by ID, then restricted checks by ID), and the restricted checks that replace a
  baseline one (capabilities, hostPath volumes, seccomp, procMount);
- policy/checks.go: AggregateCheckResults and ForbiddenDetail, the text after
  `violates PodSecurity "<level>:<version>": `;
- api/helpers.go: PolicyToEvaluate, how a namespace's labels become the enforced level and
  version (no label: the API server's default, `privileged:latest`, unless an
  AdmissionConfiguration says otherwise; a level it cannot parse enforces `restricted`);
- admission/admission.go: EvaluatePod's refusal of a pod create.

A pod controller (Deployment, Job, ...) is never refused for its template: the API server
only warns and audits; its controller's pod creates are refused (FailedCreate).

Pods are plain dicts as the API serves them (camelCase fields). Go's %q of an annotation
value is rendered with json.dumps, which agrees for printable text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Callable, Iterable, Optional

PRIVILEGED, BASELINE, RESTRICTED = "privileged", "baseline", "restricted"
LEVELS = (PRIVILEGED, BASELINE, RESTRICTED)
LABEL_PREFIX = "pod-security.kubernetes.io/"
ENFORCE_LABEL = LABEL_PREFIX + "enforce"
ENFORCE_VERSION_LABEL = LABEL_PREFIX + "enforce-version"
LATEST = "latest"

Version = tuple[int, int]          # (major, minor); "latest" is the newest check version


# -- the helpers the checks share (policy/helpers.go, policy/visitor.go) --------------------

def _join_quote(items: Iterable[str]) -> str:
    items = list(items)
    return '"' + '", "'.join(items) + '"' if items else ""


def _plural(singular: str, plural: str, count: int) -> str:
    return singular if count == 1 else plural


def _go_quote(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _containers(spec: dict) -> list[dict]:
    """Init containers, containers, then ephemeral containers (visitContainers)."""
    return [*(spec.get("initContainers") or []), *(spec.get("containers") or []),
            *(spec.get("ephemeralContainers") or [])]


def _context(container: dict) -> Optional[dict]:
    return container.get("securityContext")


def _pod_context(spec: dict) -> Optional[dict]:
    return spec.get("securityContext")


def _in_user_namespace(spec: dict) -> bool:
    """relaxPolicyForUserNamespacePod: hostUsers explicitly false."""
    return spec.get("hostUsers") is False


def _is_windows(spec: dict) -> bool:
    return ((spec.get("os") or {}).get("name")) == "windows"


def _setters(pod: bool, containers: list[str]) -> list[str]:
    found = ["pod"] if pod else []
    if containers:
        found.append(f"{_plural('container', 'containers', len(containers))} "
                     f"{_join_quote(containers)}")
    return found


@dataclass(frozen=True)
class Result:
    """CheckResult: allowed, or why not (reason) and what exactly (detail)."""
    allowed: bool = True
    reason: str = ""
    detail: str = ""


ALLOWED = Result()
CheckFn = Callable[[dict, dict], Result]          # (metadata, spec) -> Result


# -- baseline checks ----------------------------------------------------------------------

def app_armor_profile_1_0(meta: dict, spec: dict) -> Result:
    """check_appArmorProfile.go"""
    allowed_types = ("RuntimeDefault", "Localhost")
    bad_values: set[str] = set()
    pod_bad = False
    pod_profile = (_pod_context(spec) or {}).get("appArmorProfile")
    if pod_profile is not None and pod_profile.get("type", "") not in allowed_types:
        pod_bad = True
        bad_values.add(pod_profile.get("type", ""))
    containers = []
    for container in _containers(spec):
        profile = (_context(container) or {}).get("appArmorProfile")
        if profile is not None and profile.get("type", "") not in allowed_types:
            containers.append(container.get("name", ""))
            bad_values.add(profile.get("type", ""))
    setters = _setters(pod_bad, containers)
    annotations = sorted(
        f"{key}={_go_quote(value)}" for key, value in (meta.get("annotations") or {}).items()
        if key.startswith("container.apparmor.security.beta.kubernetes.io/")
        and not (value == "" or value == "runtime/default" or value.startswith("localhost/")))
    values = sorted(bad_values) + annotations
    if annotations:
        setters.append(_plural("annotation", "annotations", len(annotations)))
    if setters:
        return Result(False, _plural("forbidden AppArmor profile", "forbidden AppArmor profiles",
                                     len(values)),
                      f"{' and '.join(setters)} must not set AppArmor profile type to "
                      f"{_join_quote(values)}")
    return ALLOWED


BASELINE_CAPABILITIES = frozenset((
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"))


def capabilities_baseline_1_0(meta: dict, spec: dict) -> Result:
    """check_capabilities_baseline.go"""
    bad_containers, added = [], set()
    for container in _containers(spec):
        capabilities = (_context(container) or {}).get("capabilities")
        if capabilities is None:
            continue
        extra = [c for c in capabilities.get("add") or [] if c not in BASELINE_CAPABILITIES]
        if extra:
            bad_containers.append(container.get("name", ""))
            added.update(extra)
    if bad_containers:
        return Result(False, "non-default capabilities",
                      f"{_plural('container', 'containers', len(bad_containers))} "
                      f"{_join_quote(bad_containers)} must not include "
                      f"{_join_quote(sorted(added))} in securityContext.capabilities.add")
    return ALLOWED


def host_namespaces_1_0(meta: dict, spec: dict) -> Result:
    """check_hostNamespaces.go"""
    shared = [f"{field}=true" for field in ("hostNetwork", "hostPID", "hostIPC")
              if spec.get(field)]
    if shared:
        return Result(False, "host namespaces", ", ".join(shared))
    return ALLOWED


def host_path_volumes_1_0(meta: dict, spec: dict) -> Result:
    """check_hostPathVolumes.go"""
    names = [v.get("name", "") for v in spec.get("volumes") or []
             if v.get("hostPath") is not None]
    if names:
        return Result(False, "hostPath volumes",
                      f"{_plural('volume', 'volumes', len(names))} {_join_quote(names)}")
    return ALLOWED


def host_ports_1_0(meta: dict, spec: dict) -> Result:
    """check_hostPorts.go (the ports are listed as sorted strings, as sets.String does)"""
    bad_containers, ports = [], set()
    for container in _containers(spec):
        used = [str(int(p["hostPort"])) for p in container.get("ports") or []
                if int(p.get("hostPort") or 0) != 0]
        if used:
            bad_containers.append(container.get("name", ""))
            ports.update(used)
    if bad_containers:
        return Result(False, "hostPort",
                      f"{_plural('container', 'containers', len(bad_containers))} "
                      f"{_join_quote(bad_containers)} "
                      f"{_plural('uses', 'use', len(bad_containers))} "
                      f"{_plural('hostPort', 'hostPorts', len(ports))} "
                      f"{', '.join(sorted(ports))}")
    return ALLOWED


def _handler_hosts(handler: Optional[dict]) -> list[str]:
    if not handler:
        return []
    return [(handler.get(kind) or {}).get("host") for kind in ("httpGet", "tcpSocket")
            if (handler.get(kind) or {}).get("host")]


def host_probes_and_host_lifecycle_1_34(meta: dict, spec: dict) -> Result:
    """check_hostProbesAndhostLifecycle.go"""
    bad_containers, hosts = set(), set()
    for container in _containers(spec):
        lifecycle = container.get("lifecycle") or {}
        for handler in (container.get("livenessProbe"), container.get("readinessProbe"),
                        container.get("startupProbe"), lifecycle.get("postStart"),
                        lifecycle.get("preStop")):
            found = _handler_hosts(handler)
            if found:
                bad_containers.add(container.get("name", ""))
                hosts.update(found)
    if bad_containers:
        what = _plural("probe or lifecycle host", "probe or lifecycle hosts", len(hosts))
        return Result(False, "probe or lifecycle host",
                      f"{_plural('container', 'containers', len(bad_containers))} "
                      f"{_join_quote(sorted(bad_containers))} "
                      f"{_plural('uses', 'use', len(bad_containers))} {what} "
                      f"{_join_quote(sorted(hosts))}")
    return ALLOWED


def privileged_1_0(meta: dict, spec: dict) -> Result:
    """check_privileged.go"""
    names = [c.get("name", "") for c in _containers(spec)
             if (_context(c) or {}).get("privileged") is True]
    if names:
        return Result(False, "privileged",
                      f"{_plural('container', 'containers', len(names))} {_join_quote(names)} "
                      f"must not set securityContext.privileged=true")
    return ALLOWED


def proc_mount_1_0(meta: dict, spec: dict) -> Result:
    """check_procMount_baseline.go procMount_1_0 (also the restricted check from v1.35)"""
    names, kinds = [], set()
    for container in _containers(spec):
        mount = (_context(container) or {}).get("procMount")
        if mount is not None and mount != "Default":
            names.append(container.get("name", ""))
            kinds.add(mount)
    if names:
        return Result(False, "procMount",
                      f"{_plural('container', 'containers', len(names))} {_join_quote(names)} "
                      f"must not set securityContext.procMount to {_join_quote(sorted(kinds))}")
    return ALLOWED


def proc_mount_1_35_baseline(meta: dict, spec: dict) -> Result:
    """check_procMount_baseline.go: any procMount in a user namespace (hostUsers: false)"""
    return ALLOWED if _in_user_namespace(spec) else proc_mount_1_0(meta, spec)


SELINUX_TYPES_1_0 = frozenset(("", "container_t", "container_init_t", "container_kvm_t"))
SELINUX_TYPES_1_31 = SELINUX_TYPES_1_0 | {"container_engine_t"}


def _se_linux_options(meta: dict, spec: dict, allowed_types: frozenset) -> Result:
    """check_seLinuxOptions.go"""
    bad_types: set[str] = set()
    set_user = set_role = False

    def valid(options: dict) -> bool:
        nonlocal set_user, set_role
        ok = True
        if options.get("type", "") not in allowed_types:
            ok = False
            bad_types.add(options.get("type", ""))
        if options.get("user"):
            ok, set_user = False, True
        if options.get("role"):
            ok, set_role = False, True
        return ok

    pod_options = (_pod_context(spec) or {}).get("seLinuxOptions")
    pod_bad = pod_options is not None and not valid(pod_options)
    containers = [c.get("name", "") for c in _containers(spec)
                  if (_context(c) or {}).get("seLinuxOptions") is not None
                  and not valid(_context(c)["seLinuxOptions"])]
    setters = _setters(pod_bad, containers)
    if setters:
        data = []
        if bad_types:
            data.append(f"{_plural('type', 'types', len(bad_types))} "
                        f"{_join_quote(sorted(bad_types))}")
        if set_user:
            data.append("user may not be set")
        if set_role:
            data.append("role may not be set")
        return Result(False, "seLinuxOptions",
                      f"{' and '.join(setters)} set forbidden securityContext.seLinuxOptions: "
                      f"{'; '.join(data)}")
    return ALLOWED


def se_linux_options_1_0(meta: dict, spec: dict) -> Result:
    return _se_linux_options(meta, spec, SELINUX_TYPES_1_0)


def se_linux_options_1_31(meta: dict, spec: dict) -> Result:
    return _se_linux_options(meta, spec, SELINUX_TYPES_1_31)


SECCOMP_POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
SECCOMP_CONTAINER_ANNOTATION = "container.seccomp.security.alpha.kubernetes.io/"


def _valid_seccomp(kind: Optional[str]) -> bool:
    return kind in ("Localhost", "RuntimeDefault")


def seccomp_profile_baseline_1_0(meta: dict, spec: dict) -> Result:
    """check_seccompProfile_baseline.go: the alpha annotations, before v1.19"""
    annotations = meta.get("annotations") or {}

    def valid(value: str) -> bool:
        return value in ("runtime/default", "docker/default") or value.startswith("localhost/")

    forbidden = set()
    if SECCOMP_POD_ANNOTATION in annotations and not valid(annotations[SECCOMP_POD_ANNOTATION]):
        forbidden.add(f"{SECCOMP_POD_ANNOTATION}="
                      f"{_go_quote(annotations[SECCOMP_POD_ANNOTATION])}")
    for container in _containers(spec):
        key = SECCOMP_CONTAINER_ANNOTATION + container.get("name", "")
        if key in annotations and not valid(annotations[key]):
            forbidden.add(f"{key}={_go_quote(annotations[key])}")
    if forbidden:
        return Result(False, "seccompProfile",
                      f"forbidden {_plural('annotation', 'annotations', len(forbidden))} "
                      f"{', '.join(sorted(forbidden))}")
    return ALLOWED


def _explicit_seccomp(spec: dict) -> tuple[bool, bool, list[str], list[str], set[str]]:
    """(pod set a valid profile, pod set a bad one, containers with a bad one, containers
    with none, the bad values)."""
    bad_values: set[str] = set()
    pod_valid = pod_bad = False
    profile = (_pod_context(spec) or {}).get("seccompProfile")
    if profile is not None:
        if _valid_seccomp(profile.get("type")):
            pod_valid = True
        else:
            pod_bad = True
            bad_values.add(profile.get("type", ""))
    explicit, implicit = [], []
    for container in _containers(spec):
        profile = (_context(container) or {}).get("seccompProfile")
        if profile is not None:
            if not _valid_seccomp(profile.get("type")):
                explicit.append(container.get("name", ""))
                bad_values.add(profile.get("type", ""))
        else:
            implicit.append(container.get("name", ""))
    return pod_valid, pod_bad, explicit, implicit, bad_values


def seccomp_profile_baseline_1_19(meta: dict, spec: dict) -> Result:
    """check_seccompProfile_baseline.go: securityContext.seccompProfile, from v1.19"""
    _, pod_bad, explicit, _, bad_values = _explicit_seccomp(spec)
    setters = _setters(pod_bad, explicit)
    if setters:
        return Result(False, "seccompProfile",
                      f"{' and '.join(setters)} must not set securityContext.seccompProfile.type "
                      f"to {_join_quote(sorted(bad_values))}")
    return ALLOWED


def sysctls(allowed: frozenset) -> CheckFn:
    """check_sysctls.go: the pod's sysctls outside the safe set, in the pod's order."""
    def check(meta: dict, spec: dict) -> Result:
        forbidden = [s.get("name", "") for s in (_pod_context(spec) or {}).get("sysctls") or []
                     if s.get("name", "") not in allowed]
        if forbidden:
            return Result(False, "forbidden sysctls", ", ".join(forbidden))
        return ALLOWED
    return check


SYSCTLS_1_0 = frozenset(("kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range",
                         "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range",
                         "net.ipv4.ip_unprivileged_port_start"))
SYSCTLS_1_27 = SYSCTLS_1_0 | {"net.ipv4.ip_local_reserved_ports"}
SYSCTLS_1_29 = SYSCTLS_1_27 | {"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
                               "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"}
SYSCTLS_1_32 = SYSCTLS_1_29 | {"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}
SYSCTLS_1_37 = SYSCTLS_1_32 | {"net.ipv4.tcp_slow_start_after_idle",
                               "net.ipv4.tcp_notsent_lowat"}


def windows_host_process_1_0(meta: dict, spec: dict) -> Result:
    """check_windowsHostProcess.go"""
    def host_process(context: Optional[dict]) -> bool:
        return ((context or {}).get("windowsOptions") or {}).get("hostProcess") is True

    setters = _setters(host_process(_pod_context(spec)),
                       [c.get("name", "") for c in _containers(spec)
                        if host_process(_context(c))])
    if setters:
        return Result(False, "hostProcess",
                      f"{' and '.join(setters)} must not set "
                      f"securityContext.windowsOptions.hostProcess=true")
    return ALLOWED


# -- restricted checks --------------------------------------------------------------------

def allow_privilege_escalation_1_8(meta: dict, spec: dict) -> Result:
    """check_allowPrivilegeEscalation.go"""
    names = [c.get("name", "") for c in _containers(spec)
             if (_context(c) or {}).get("allowPrivilegeEscalation") is not False]
    if names:
        return Result(False, "allowPrivilegeEscalation != false",
                      f"{_plural('container', 'containers', len(names))} {_join_quote(names)} "
                      f"must set securityContext.allowPrivilegeEscalation=false")
    return ALLOWED


def _not_on_windows(check: CheckFn) -> CheckFn:
    """The v1.25 variants: a pod whose spec.os is windows is admitted without the check (API
    validation refuses the Linux-only fields on a Windows pod)."""
    def windows_exempt(meta: dict, spec: dict) -> Result:
        return ALLOWED if _is_windows(spec) else check(meta, spec)
    return windows_exempt


def capabilities_restricted_1_22(meta: dict, spec: dict) -> Result:
    """check_capabilities_restricted.go"""
    missing_drop, adding, forbidden = [], [], set()
    for container in _containers(spec):
        name = container.get("name", "")
        capabilities = (_context(container) or {}).get("capabilities")
        if capabilities is None:
            missing_drop.append(name)
            continue
        if "ALL" not in (capabilities.get("drop") or []):
            missing_drop.append(name)
        extra = [c for c in capabilities.get("add") or [] if c != "NET_BIND_SERVICE"]
        if extra:
            adding.append(name)
            forbidden.update(extra)
    details = []
    if missing_drop:
        details.append(f"{_plural('container', 'containers', len(missing_drop))} "
                       f"{_join_quote(missing_drop)} must set "
                       f'securityContext.capabilities.drop=["ALL"]')
    if adding:
        details.append(f"{_plural('container', 'containers', len(adding))} "
                       f"{_join_quote(adding)} must not include {_join_quote(sorted(forbidden))} "
                       f"in securityContext.capabilities.add")
    if details:
        return Result(False, "unrestricted capabilities", "; ".join(details))
    return ALLOWED


RESTRICTED_VOLUME_SOURCES = ("configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                             "image", "persistentVolumeClaim", "projected", "secret")
# In the order upstream's switch tests them; a volume with none of these is "unknown".
FORBIDDEN_VOLUME_SOURCES = ("hostPath", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo",
                            "nfs", "iscsi", "glusterfs", "rbd", "flexVolume", "cinder", "cephfs",
                            "flocker", "fc", "azureFile", "vsphereVolume", "quobyte", "azureDisk",
                            "photonPersistentDisk", "portworxVolume", "scaleIO", "storageos")


def restricted_volumes_1_0(meta: dict, spec: dict) -> Result:
    """check_restrictedVolumes.go"""
    names, kinds = [], set()
    for volume in spec.get("volumes") or []:
        if any(volume.get(source) is not None for source in RESTRICTED_VOLUME_SOURCES):
            continue
        names.append(volume.get("name", ""))
        kinds.add(next((source for source in FORBIDDEN_VOLUME_SOURCES
                        if volume.get(source) is not None), "unknown"))
    if names:
        return Result(False, "restricted volume types",
                      f"{_plural('volume', 'volumes', len(names))} {_join_quote(names)} "
                      f"{_plural('uses', 'use', len(names))} "
                      f"{_plural('restricted volume type', 'restricted volume types', len(kinds))}"
                      f" {_join_quote(sorted(kinds))}")
    return ALLOWED


def run_as_non_root_1_0(meta: dict, spec: dict) -> Result:
    """check_runAsNonRoot.go"""
    pod_setting = (_pod_context(spec) or {}).get("runAsNonRoot")
    pod_bad, pod_non_root = pod_setting is False, pod_setting is True
    explicit, implicit = [], []
    for container in _containers(spec):
        setting = (_context(container) or {}).get("runAsNonRoot")
        if setting is not None:
            if setting is False:
                explicit.append(container.get("name", ""))
        elif not pod_non_root:
            implicit.append(container.get("name", ""))
    setters = _setters(pod_bad, explicit)
    if setters:
        return Result(False, "runAsNonRoot != true",
                      f"{' and '.join(setters)} must not set securityContext.runAsNonRoot=false")
    if implicit:
        return Result(False, "runAsNonRoot != true",
                      f"pod or {_plural('container', 'containers', len(implicit))} "
                      f"{_join_quote(implicit)} must set securityContext.runAsNonRoot=true")
    return ALLOWED


def run_as_non_root_1_35(meta: dict, spec: dict) -> Result:
    return ALLOWED if _in_user_namespace(spec) else run_as_non_root_1_0(meta, spec)


def _is_root(value) -> bool:
    return value is not None and int(value) == 0


def run_as_user_1_23(meta: dict, spec: dict) -> Result:
    """check_runAsUser.go"""
    setters = _setters(_is_root((_pod_context(spec) or {}).get("runAsUser")),
                       [c.get("name", "") for c in _containers(spec)
                        if _is_root((_context(c) or {}).get("runAsUser"))])
    if setters:
        return Result(False, "runAsUser=0", f"{' and '.join(setters)} must not set runAsUser=0")
    return ALLOWED


def run_as_user_1_35(meta: dict, spec: dict) -> Result:
    return ALLOWED if _in_user_namespace(spec) else run_as_user_1_23(meta, spec)


def seccomp_profile_restricted_1_19(meta: dict, spec: dict) -> Result:
    """check_seccompProfile_restricted.go"""
    pod_valid, pod_bad, explicit, implicit, bad_values = _explicit_seccomp(spec)
    setters = _setters(pod_bad, explicit)
    if setters:
        return Result(False, "seccompProfile",
                      f"{' and '.join(setters)} must not set securityContext.seccompProfile.type "
                      f"to {_join_quote(sorted(bad_values))}")
    if implicit and not pod_valid:
        return Result(False, "seccompProfile",
                      f"pod or {_plural('container', 'containers', len(implicit))} "
                      f"{_join_quote(implicit)} must set securityContext.seccompProfile.type to "
                      f'"RuntimeDefault" or "Localhost"')
    return ALLOWED


allow_privilege_escalation_1_25 = _not_on_windows(allow_privilege_escalation_1_8)
capabilities_restricted_1_25 = _not_on_windows(capabilities_restricted_1_22)
seccomp_profile_restricted_1_25 = _not_on_windows(seccomp_profile_restricted_1_19)


# -- the registry (policy/registry.go) ----------------------------------------------------

@dataclass(frozen=True)
class Versioned:
    minimum: Version
    check: CheckFn
    overrides: tuple[str, ...] = ()       # baseline checks this restricted one replaces


@dataclass(frozen=True)
class Check:
    id: str
    level: str
    versions: tuple[Versioned, ...]

    def at(self, version: Version) -> Optional[Versioned]:
        """The newest variant whose minimum version is not after `version`."""
        found = None
        for variant in self.versions:
            if variant.minimum <= version:
                found = variant
        return found


CHECKS = (
    Check("allowPrivilegeEscalation", RESTRICTED, (
        Versioned((1, 8), allow_privilege_escalation_1_8),
        Versioned((1, 25), allow_privilege_escalation_1_25))),
    Check("appArmorProfile", BASELINE, (Versioned((1, 0), app_armor_profile_1_0),)),
    Check("capabilities_baseline", BASELINE, (Versioned((1, 0), capabilities_baseline_1_0),)),
    Check("capabilities_restricted", RESTRICTED, (
        Versioned((1, 22), capabilities_restricted_1_22, ("capabilities_baseline",)),
        Versioned((1, 25), capabilities_restricted_1_25, ("capabilities_baseline",)))),
    Check("hostNamespaces", BASELINE, (Versioned((1, 0), host_namespaces_1_0),)),
    Check("hostPathVolumes", BASELINE, (Versioned((1, 0), host_path_volumes_1_0),)),
    Check("hostPorts", BASELINE, (Versioned((1, 0), host_ports_1_0),)),
    Check("hostProbesAndHostLifecycle", BASELINE, (
        Versioned((1, 34), host_probes_and_host_lifecycle_1_34),)),
    Check("privileged", BASELINE, (Versioned((1, 0), privileged_1_0),)),
    Check("procMount", BASELINE, (Versioned((1, 0), proc_mount_1_0),
                                  Versioned((1, 35), proc_mount_1_35_baseline))),
    Check("procMount_restricted", RESTRICTED, (
        Versioned((1, 35), proc_mount_1_0, ("procMount",)),)),
    Check("restrictedVolumes", RESTRICTED, (
        Versioned((1, 0), restricted_volumes_1_0, ("hostPathVolumes",)),)),
    Check("runAsNonRoot", RESTRICTED, (Versioned((1, 0), run_as_non_root_1_0),
                                       Versioned((1, 35), run_as_non_root_1_35))),
    Check("runAsUser", RESTRICTED, (Versioned((1, 23), run_as_user_1_23),
                                    Versioned((1, 35), run_as_user_1_35))),
    Check("seLinuxOptions", BASELINE, (Versioned((1, 0), se_linux_options_1_0),
                                       Versioned((1, 31), se_linux_options_1_31))),
    Check("seccompProfile_baseline", BASELINE, (
        Versioned((1, 0), seccomp_profile_baseline_1_0),
        Versioned((1, 19), seccomp_profile_baseline_1_19))),
    Check("seccompProfile_restricted", RESTRICTED, (
        Versioned((1, 19), seccomp_profile_restricted_1_19, ("seccompProfile_baseline",)),
        Versioned((1, 25), seccomp_profile_restricted_1_25, ("seccompProfile_baseline",)))),
    Check("sysctls", BASELINE, (Versioned((1, 0), sysctls(SYSCTLS_1_0)),
                                Versioned((1, 27), sysctls(SYSCTLS_1_27)),
                                Versioned((1, 29), sysctls(SYSCTLS_1_29)),
                                Versioned((1, 32), sysctls(SYSCTLS_1_32)),
                                Versioned((1, 37), sysctls(SYSCTLS_1_37)))),
    Check("windowsHostProcess", BASELINE, (Versioned((1, 0), windows_host_process_1_0),)),
)
BY_ID = {check.id: check for check in CHECKS}
# What `latest` evaluates: the newest minimum version of any check.
NEWEST: Version = max(variant.minimum for check in CHECKS for variant in check.versions)


def checks_for(level: str, version: Version | str = LATEST,
               checks: tuple[Check, ...] = CHECKS) -> list[tuple[str, CheckFn]]:
    """(check ID, check) a level runs at a version (checkRegistry.EvaluatePod): baseline
    checks sorted by ID, then the restricted ones; at restricted, the overrides of the
    restricted checks in force drop baseline checks. `latest`, and any version after the
    newest check version, evaluate the newest."""
    if level == PRIVILEGED:
        return []
    newest = max((v.minimum for c in checks for v in c.versions), default=(1, 0))
    if version == LATEST or version > newest:
        version = newest
    baseline = {c.id: v for c in checks if c.level == BASELINE and (v := c.at(version))}
    restricted = {c.id: v for c in checks if c.level == RESTRICTED and (v := c.at(version))}
    if level == BASELINE:
        return [(cid, baseline[cid].check) for cid in sorted(baseline)]
    overridden = {o for variant in restricted.values() for o in variant.overrides}
    return [(cid, baseline[cid].check) for cid in sorted(baseline) if cid not in overridden] + \
        [(cid, restricted[cid].check) for cid in sorted(restricted)]


# -- evaluating a pod ----------------------------------------------------------------------

@dataclass(frozen=True)
class Violation:
    check: str
    reason: str
    detail: str

    def __str__(self) -> str:
        """One entry of ForbiddenDetail: `reason (detail)`."""
        return f"{self.reason} ({self.detail})" if self.detail else self.reason


def pod_parts(obj: dict) -> tuple[dict, dict]:
    """(metadata, spec) of a pod, a pod template or a pod controller, as the admission
    plugin's DefaultPodSpecExtractor takes them: a Pod's own; a PodTemplate's, ReplicaSet's,
    ReplicationController's, Deployment's, StatefulSet's, DaemonSet's or Job's
    spec.template; a CronJob's spec.jobTemplate.spec.template. A dict without a kind is a
    Pod or a PodTemplateSpec (metadata and spec)."""
    kind = obj.get("kind")
    if kind == "CronJob":
        obj = obj["spec"]["jobTemplate"]["spec"]["template"]
    elif kind == "PodTemplate":
        obj = obj["template"]
    elif kind not in (None, "Pod"):
        obj = obj["spec"]["template"]
    return obj.get("metadata") or {}, obj.get("spec") or {}


def evaluate(level: str, pod: dict, version: Version | str = LATEST) -> list[Violation]:
    """Every check of `level` at `version` that the pod fails, in upstream's order."""
    if level not in LEVELS:
        raise ValueError(f"Pod Security level {level!r}: must be one of {', '.join(LEVELS)}")
    meta, spec = pod_parts(pod)
    found = []
    for check_id, check in checks_for(level, version):
        result = check(meta, spec)
        if not result.allowed:
            found.append(Violation(check_id, result.reason or "unknown forbidden reason",
                                   result.detail))
    return found


def forbidden_detail(violations: list[Violation]) -> str:
    """AggregateCheckResult.ForbiddenDetail."""
    return ", ".join(str(v) for v in violations)


def violations(pod: dict, enforce: Optional[str] = None,
               version: Optional[str] = None) -> list[str]:
    """What a namespace labelled `pod-security.kubernetes.io/enforce: <enforce>` (and
    `enforce-version: <version>`) refuses in this pod or pod template, one `reason (detail)`
    each; none for a namespace without the label (privileged)."""
    labels = {k: v for k, v in ((ENFORCE_LABEL, enforce), (ENFORCE_VERSION_LABEL, version))
              if v is not None}
    level, parsed, _ = enforced(labels)
    return [str(v) for v in evaluate(level, pod, parsed)]


_VERSION = re.compile(r"^v1\.([0-9]|[1-9][0-9]*)$")


def parse_version(text: str) -> Optional[Version | str]:
    """api.ParseVersion: "latest" or "v1.<minor>"; None when it is neither."""
    if text == LATEST:
        return LATEST
    match = _VERSION.match(text)
    return (1, int(match.group(1))) if match else None


def enforced(labels: Optional[dict]) -> tuple[str, Version | str, list[str]]:
    """(level, version, label errors) the namespace enforces (api.PolicyToEvaluate with the
    API server's default policy, privileged:latest). A level it cannot parse enforces
    restricted (it fails closed, the error recorded); a version it cannot parse is latest."""
    level, version, errors = PRIVILEGED, LATEST, []
    labels = labels or {}
    if ENFORCE_LABEL in labels:
        value = labels[ENFORCE_LABEL]
        if value in LEVELS:
            level = value
        else:
            level = RESTRICTED
            errors.append(f"{ENFORCE_LABEL}: must be one of {', '.join(LEVELS)}")
    if ENFORCE_VERSION_LABEL in labels:
        parsed = parse_version(labels[ENFORCE_VERSION_LABEL])
        if parsed is None:
            errors.append(f'{ENFORCE_VERSION_LABEL}: must be "latest" or "v1.x"')
        else:
            version = parsed
    return level, version, errors


def level_version(level: str, version: Version | str) -> str:
    """LevelVersion.String(): restricted:latest, baseline:v1.30."""
    return f"{level}:{version if version == LATEST else f'v{version[0]}.{version[1]}'}"


def api_defaults(pod: dict) -> dict:
    """The one API defaulting the checks see through (pkg/apis/core/v1/defaults.go,
    SetDefaults_Volume): a volume with no source is an emptyDir."""
    spec = pod.get("spec") or {}
    volumes = spec.get("volumes")
    if not volumes:
        return pod
    sources = set(RESTRICTED_VOLUME_SOURCES) | set(FORBIDDEN_VOLUME_SOURCES)
    defaulted = [v if any(v.get(s) is not None for s in sources) or set(v) - {"name"}
                 else {**v, "emptyDir": {}} for v in volumes]
    return {**pod, "spec": {**spec, "volumes": defaulted}}


def admission_error(pod: dict, namespace_labels: Optional[dict]) -> str:
    """Why the PodSecurity plugin refuses to create this pod in a namespace with these
    labels: `violates PodSecurity "restricted:latest": <detail>`, or "" when it admits it.
    The API server answers 403 Forbidden: `pods "<name>" is forbidden: <this>`."""
    level, version, _ = enforced(namespace_labels)
    if level == PRIVILEGED:
        return ""
    found = evaluate(level, api_defaults(pod), version)
    if not found:
        return ""
    return f'violates PodSecurity "{level_version(level, version)}": {forbidden_detail(found)}'
