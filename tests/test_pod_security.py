"""Pod Security admission (kube/pod_security.py), proven with the test cases of
kubernetes/pod-security-admission (commit 8f84a87c, newest policy version v1.37), and the
commands gpu-lab tells people to run, proven to pass it.

1. Each check against its own table, policy/check_<id>_test.go (test and case named).
2. The registry (policy/registry_test.go) and the namespace labels (api/helpers_test.go).
3. Whole pods at a level, as test/run.go creates them against an API server: the minimal
   valid pods of test/fixtures.go and the pass/fail fixtures of test/fixtures_<check>.go
   (their generators, rebuilt here) at the latest version; a fail fixture's refusal names
   the generator's expectErrorSubstring (or the check ID).
4. The twin refuses what the API server refuses: a bare pod's create, a controller's pods
   (FailedCreate), with the message of admission/admission.go (EvaluatePod) wrapped as
   apierrors.NewForbidden does.
5. Every pod-creating command in every text gpu-lab gives out (each fault's symptom, hints
   and fix, `lab guide` and the brief, for every scenario and shipped stack) builds the pod
   kubectl would create (kubectl's pkg/cmd/run/run.go createPod and its --overrides, cases
   of pkg/cmd/run/run_test.go TestOverride) and is admitted by the twin in the namespace it
   targets; the egress-blocked probe as it was is refused.
"""

from __future__ import annotations

import copy
import json
import re
import shlex

import pytest
import yaml

from faults import FAULTS, SCENARIOS, build_spec, enabled
from kube import pod_security as ps
from kube.objects import ObjectSet
from kube.twin import Twin, simulate
from lab.guide import candidate_brief, candidate_tasks, interviewer_guide
from lab.render import render
from model.source import PROJECT_DIR
from tests.helpers import stack_values


# -- builders ------------------------------------------------------------------------------

def c(name: str, sc: dict | None = None, **fields) -> dict:
    """A container; `sc` its securityContext (None: no securityContext at all)."""
    container = {"name": name, **fields}
    if sc is not None:
        container["securityContext"] = sc
    return container


def pod(containers=(), init=(), sc: dict | None = None, annotations=None, **spec) -> dict:
    body = {"containers": list(containers), **spec}
    if init:
        body["initContainers"] = list(init)
    if sc is not None:
        body["securityContext"] = sc
    return {"metadata": {"annotations": annotations} if annotations else {}, "spec": body}


def run_check(fn, p: dict) -> ps.Result:
    return fn(p.get("metadata") or {}, p["spec"])


# -- 1. the checks, case by case -------------------------------------------------------------
# (upstream file, test, case, check function, pod, allowed, reason, detail)

W = {"os": {"name": "windows"}}
L = {"os": {"name": "linux"}}
UNCONFINED, DEFAULT = {"type": "Unconfined"}, {"type": "RuntimeDefault"}
ALL_VOLUMES = (
    [{"name": f"a{i}", source: {}} for i, source in enumerate(
        ("emptyDir", "secret", "persistentVolumeClaim", "downwardAPI", "configMap", "projected",
         "csi", "ephemeral", "image"), 1)]
    + [{"name": f"b{i}", source: {}} for i, source in enumerate(ps.FORBIDDEN_VOLUME_SOURCES, 1)]
    + [{"name": "c1"}])
SELINUX_ABCD = [c("a", {"seLinuxOptions": {"type": "container_t"}}),
                c("b", {"seLinuxOptions": {"type": "container_init_t"}}),
                c("c", {"seLinuxOptions": {"type": "container_kvm_t"}}),
                c("d", {"seLinuxOptions": {"type": "container_engine_t"}})]
SELINUX_EFG = [c("e", {"seLinuxOptions": {"type": "bar"}}),
               c("f", {"seLinuxOptions": {"user": "bar"}}),
               c("g", {"seLinuxOptions": {"role": "baz"}})]
SECCOMP_CONTAINERS = [c("a"), c("b", {}), c("c", {"seccompProfile": UNCONFINED}),
                      c("d", {"seccompProfile": UNCONFINED}), c("e", {"seccompProfile": DEFAULT}),
                      c("f", {"seccompProfile": DEFAULT})]
PROC_MOUNTS = [c("a"), c("b", {}), c("c", {"procMount": "Default"}),
               c("d", {"procMount": "Unmasked"}), c("e", {"procMount": "other"})]


def sysctl_pod(*names: str) -> dict:
    return pod(sc={"sysctls": [{"name": n, "value": "1"} for n in names]})


CASES = [
    ("check_allowPrivilegeEscalation_test.go", "TestAllowPrivilegeEscalation_1_25",
     "multiple containers", ps.allow_privilege_escalation_1_25,
     pod([c("a"), c("b", {}), c("c", {"allowPrivilegeEscalation": True}),
          c("d", {"allowPrivilegeEscalation": False})]),
     False, "allowPrivilegeEscalation != false",
     'containers "a", "b", "c" must set securityContext.allowPrivilegeEscalation=false'),
    ("check_allowPrivilegeEscalation_test.go", "TestAllowPrivilegeEscalation_1_25",
     "windows pod, admit without checking privilegeEscalation",
     ps.allow_privilege_escalation_1_25, pod([c("a")], **W), True, "", ""),
    ("check_allowPrivilegeEscalation_test.go", "TestAllowPrivilegeEscalation_1_25",
     "linux pod, reject if security context is not set", ps.allow_privilege_escalation_1_25,
     pod([c("a")], **L), False, "allowPrivilegeEscalation != false",
     'container "a" must set securityContext.allowPrivilegeEscalation=false'),
    ("check_allowPrivilegeEscalation_test.go", "TestAllowPrivilegeEscalation_1_8",
     "multiple containers (windows not exempt before v1.25)", ps.allow_privilege_escalation_1_8,
     pod([c("a"), c("b", {}), c("c", {"allowPrivilegeEscalation": True}),
          c("d", {"allowPrivilegeEscalation": False})], **W),
     False, "allowPrivilegeEscalation != false",
     'containers "a", "b", "c" must set securityContext.allowPrivilegeEscalation=false'),

    ("check_appArmorProfile_test.go", "TestCheckAppArmor_Allowed",
     "container with default AppArmor + extra annotations", ps.app_armor_profile_1_0,
     pod(annotations={"container.apparmor.security.beta.kubernetes.io/test": "runtime/default",
                      "env": "prod"}), True, "", ""),
    ("check_appArmorProfile_test.go", "TestCheckAppArmor_Allowed",
     "container with local AppArmor + extra annotations", ps.app_armor_profile_1_0,
     pod(annotations={"container.apparmor.security.beta.kubernetes.io/test":
                      "localhost/sec-profile01", "env": "dev"}), True, "", ""),
    ("check_appArmorProfile_test.go", "TestCheckAppArmor_Allowed", "pod with runtime default",
     ps.app_armor_profile_1_0, pod(sc={"appArmorProfile": {"type": "RuntimeDefault"}}),
     True, "", ""),
    ("check_appArmorProfile_test.go", "TestCheckAppArmor_Allowed",
     "container with localhost profile", ps.app_armor_profile_1_0,
     pod([c("foo", {"appArmorProfile": {"type": "RuntimeDefault"}})]), True, "", ""),
    ("check_appArmorProfile_test.go", "TestCheckAppArmor_Forbidden", "unconfined pod",
     ps.app_armor_profile_1_0, pod(sc={"appArmorProfile": {"type": "Unconfined"}}),
     False, "forbidden AppArmor profile", 'pod must not set AppArmor profile type to "Unconfined"'),
    ("check_appArmorProfile_test.go", "TestCheckAppArmor_Forbidden", "unconfined container",
     ps.app_armor_profile_1_0,
     pod([c("foo", {"appArmorProfile": {"type": "Unconfined"}})],
         sc={"appArmorProfile": {"type": "RuntimeDefault"}}),
     False, "forbidden AppArmor profile",
     'container "foo" must not set AppArmor profile type to "Unconfined"'),
    ("check_appArmorProfile_test.go", "TestCheckAppArmor_Forbidden", "unconfined init container",
     ps.app_armor_profile_1_0,
     pod([c("foo")], init=[c("bar", {"appArmorProfile": {"type": "Unconfined"}})],
         sc={"appArmorProfile": {"type": "RuntimeDefault"}}),
     False, "forbidden AppArmor profile",
     'container "bar" must not set AppArmor profile type to "Unconfined"'),
    ("check_appArmorProfile_test.go", "TestCheckAppArmor_Forbidden", "multiple containers",
     ps.app_armor_profile_1_0,
     {"metadata": {"annotations": {
         "container.apparmor.security.beta.kubernetes.io/": "bogus",
         "container.apparmor.security.beta.kubernetes.io/a": "",
         "container.apparmor.security.beta.kubernetes.io/b": "runtime/default",
         "container.apparmor.security.beta.kubernetes.io/c": "localhost/",
         "container.apparmor.security.beta.kubernetes.io/d": "localhost/foo",
         "container.apparmor.security.beta.kubernetes.io/e": "unconfined",
         "container.apparmor.security.beta.kubernetes.io/f": "unknown"}}, "spec": {}},
     False, "forbidden AppArmor profiles",
     'annotations must not set AppArmor profile type to '
     '"container.apparmor.security.beta.kubernetes.io/="bogus"", '
     '"container.apparmor.security.beta.kubernetes.io/e="unconfined"", '
     '"container.apparmor.security.beta.kubernetes.io/f="unknown""'),

    ("check_capabilities_baseline_test.go", "TestCapabilitiesBaseline", "multiple containers",
     ps.capabilities_baseline_1_0,
     pod([c("a", {"capabilities": {"add": ["FOO", "BAR"]}}),
          c("b", {"capabilities": {"add": ["BAR", "BAZ"]}})]),
     False, "non-default capabilities",
     'containers "a", "b" must not include "BAR", "BAZ", "FOO" in '
     'securityContext.capabilities.add'),

    ("check_capabilities_restricted_test.go", "TestCapabilitiesRestricted_1_25",
     "multiple containers", ps.capabilities_restricted_1_25,
     pod([c("a", {"capabilities": {"add": ["FOO", "BAR"]}}),
          c("b", {"capabilities": {"add": ["BAR", "BAZ"]}}),
          c("c", {"capabilities": {"add": ["NET_BIND_SERVICE", "CHOWN"],
                                   "drop": ["ALL", "FOO"]}})]),
     False, "unrestricted capabilities",
     'containers "a", "b" must set securityContext.capabilities.drop=["ALL"]; containers "a", '
     '"b", "c" must not include "BAR", "BAZ", "CHOWN", "FOO" in securityContext.capabilities.add'),
    ("check_capabilities_restricted_test.go", "TestCapabilitiesRestricted_1_25",
     "windows pod, admit without checking capabilities", ps.capabilities_restricted_1_25,
     pod([c("a")], **W), True, "", ""),
    ("check_capabilities_restricted_test.go", "TestCapabilitiesRestricted_1_25",
     "linux pod, reject if security context is not set", ps.capabilities_restricted_1_25,
     pod([c("a")], **L), False, "unrestricted capabilities",
     'container "a" must set securityContext.capabilities.drop=["ALL"]'),

    ("check_hostNamespaces_test.go", "TestHostNamespaces", "multiple host namespaces",
     ps.host_namespaces_1_0, pod(hostNetwork=True, hostIPC=True, hostPID=True),
     False, "host namespaces", "hostNetwork=true, hostPID=true, hostIPC=true"),

    ("check_hostPathVolumes_test.go", "TestHostPathVolumes", "host path volumes",
     ps.host_path_volumes_1_0,
     pod(volumes=[{"name": "a", "hostPath": {}}, {"name": "b", "hostPath": {}},
                  {"name": "c", "emptyDir": {}}]),
     False, "hostPath volumes", 'volumes "a", "b"'),

    ("check_hostPorts_test.go", "TestHostPort", "one container, one host port",
     ps.host_ports_1_0,
     pod([c("a", ports=[{"hostPort": 0}]), c("b", ports=[{"hostPort": 0}, {"hostPort": 20}])]),
     False, "hostPort", 'container "b" uses hostPort 20'),
    ("check_hostPorts_test.go", "TestHostPort", "multiple containers, multiple host port",
     ps.host_ports_1_0,
     pod([c("a", ports=[{"hostPort": 0}]),
          c("b", ports=[{"hostPort": 0}, {"hostPort": 10}, {"hostPort": 20}]),
          c("c", ports=[{"hostPort": 0}, {"hostPort": 10}, {"hostPort": 30}])]),
     False, "hostPort", 'containers "b", "c" use hostPorts 10, 20, 30'),

    ("check_hostProbesAndhostLifecycle_test.go", "TestHostProbesAndHostLifecycle",
     "valid pod with unset hosts", ps.host_probes_and_host_lifecycle_1_34,
     pod([c("a", livenessProbe={"httpGet": {}}, readinessProbe={"tcpSocket": {}},
            lifecycle={"postStart": {"httpGet": {}}})]), True, "", ""),
    ("check_hostProbesAndhostLifecycle_test.go", "TestHostProbesAndHostLifecycle",
     "invalid pod with local host IP as probe host", ps.host_probes_and_host_lifecycle_1_34,
     pod([c("a", livenessProbe={"httpGet": {"host": "127.0.0.1"}},
            readinessProbe={"tcpSocket": {"host": "::1"}},
            startupProbe={"httpGet": {"host": "localhost"}})]),
     False, "probe or lifecycle host",
     'container "a" uses probe or lifecycle hosts "127.0.0.1", "::1", "localhost"'),
    ("check_hostProbesAndhostLifecycle_test.go", "TestHostProbesAndHostLifecycle",
     "invalid poststart tcpsocket host", ps.host_probes_and_host_lifecycle_1_34,
     pod([c("d", lifecycle={"postStart": {"tcpSocket": {"host": "invalid.host"}}})]),
     False, "probe or lifecycle host", 'container "d" uses probe or lifecycle host "invalid.host"'),
    ("check_hostProbesAndhostLifecycle_test.go", "TestHostProbesAndHostLifecycle",
     "invalid prestop httpget host", ps.host_probes_and_host_lifecycle_1_34,
     pod([c("e", lifecycle={"preStop": {"httpGet": {"host": "another.invalid.host"}}})]),
     False, "probe or lifecycle host",
     'container "e" uses probe or lifecycle host "another.invalid.host"'),
    ("check_hostProbesAndhostLifecycle_test.go", "TestHostProbesAndHostLifecycle",
     "multiple containers with multiple invalid hosts", ps.host_probes_and_host_lifecycle_1_34,
     pod([c("valid"), c("invalid1", livenessProbe={"httpGet": {"host": "a.com"}}),
          c("invalid2", lifecycle={"preStop": {"tcpSocket": {"host": "b.com"}}},
            startupProbe={"httpGet": {"host": "a.com"}})]),
     False, "probe or lifecycle host",
     'containers "invalid1", "invalid2" use probe or lifecycle hosts "a.com", "b.com"'),
    ("check_hostProbesAndhostLifecycle_test.go", "TestHostProbesAndHostLifecycle",
     "invalid host in initcontainer", ps.host_probes_and_host_lifecycle_1_34,
     pod(init=[c("init", livenessProbe={"httpGet": {"host": "invalid.init.host"}})]),
     False, "probe or lifecycle host",
     'container "init" uses probe or lifecycle host "invalid.init.host"'),

    ("check_privileged_test.go", "TestPrivileged", "privileged", ps.privileged_1_0,
     pod([c("a"), c("b", {}), c("c", {"privileged": False}), c("d", {"privileged": True}),
          c("e", {"privileged": True})]),
     False, "privileged", 'containers "d", "e" must not set securityContext.privileged=true'),

    ("check_procMount_baseline_test.go", "TestProcMountBaseline", "procMount",
     ps.proc_mount_1_35_baseline, pod(PROC_MOUNTS, hostUsers=True),
     False, "procMount",
     'containers "d", "e" must not set securityContext.procMount to "Unmasked", "other"'),
    ("check_procMount_baseline_test.go", "TestProcMountBaseline", "procMount with userns",
     ps.proc_mount_1_35_baseline, pod(PROC_MOUNTS, hostUsers=False), True, "", ""),
    ("check_procMount_restricted_test.go", "TestProcMountRestricted", "procMount (userns)",
     ps.proc_mount_1_0, pod(PROC_MOUNTS, hostUsers=False), False, "procMount",
     'containers "d", "e" must not set securityContext.procMount to "Unmasked", "other"'),
    ("check_procMount_restricted_test.go", "TestProcMountRestricted", "procMount (host users)",
     ps.proc_mount_1_0, pod(PROC_MOUNTS, hostUsers=True), False, "procMount",
     'containers "d", "e" must not set securityContext.procMount to "Unmasked", "other"'),

    ("check_restrictedVolumes_test.go", "TestRestrictedVolumes", "host path volumes",
     ps.restricted_volumes_1_0, pod(volumes=ALL_VOLUMES), False, "restricted volume types",
     'volumes "b1", "b2", "b3", "b4", "b5", "b6", "b7", "b8", "b9", "b10", "b11", "b12", "b13", '
     '"b14", "b15", "b16", "b17", "b18", "b19", "b20", "b21", "c1" use restricted volume types '
     '"awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder", "fc", "flexVolume", '
     '"flocker", "gcePersistentDisk", "gitRepo", "glusterfs", "hostPath", "iscsi", "nfs", '
     '"photonPersistentDisk", "portworxVolume", "quobyte", "rbd", "scaleIO", "storageos", '
     '"unknown", "vsphereVolume"'),

    ("check_runAsNonRoot_test.go", "TestRunAsNonRoot", "no explicit runAsNonRoot",
     ps.run_as_non_root_1_35, pod([c("a")]), False, "runAsNonRoot != true",
     'pod or container "a" must set securityContext.runAsNonRoot=true'),
    ("check_runAsNonRoot_test.go", "TestRunAsNonRoot", "pod runAsNonRoot=false",
     ps.run_as_non_root_1_35, pod([c("a")], sc={"runAsNonRoot": False}),
     False, "runAsNonRoot != true", "pod must not set securityContext.runAsNonRoot=false"),
    ("check_runAsNonRoot_test.go", "TestRunAsNonRoot", "containers runAsNonRoot=false",
     ps.run_as_non_root_1_35,
     pod([c("a"), c("b", {}), c("c", {"runAsNonRoot": False}), c("d", {"runAsNonRoot": False}),
          c("e", {"runAsNonRoot": True}), c("f", {"runAsNonRoot": True})],
         sc={"runAsNonRoot": True}),
     False, "runAsNonRoot != true",
     'containers "c", "d" must not set securityContext.runAsNonRoot=false'),
    ("check_runAsNonRoot_test.go", "TestRunAsNonRoot", "pod nil, container fallthrough",
     ps.run_as_non_root_1_35,
     pod([c("a"), c("b", {}), c("d", {"runAsNonRoot": True}), c("e", {"runAsNonRoot": True})]),
     False, "runAsNonRoot != true",
     'pod or containers "a", "b" must set securityContext.runAsNonRoot=true'),
    ("check_runAsNonRoot_test.go", "TestRunAsNonRoot", "host users false allowed",
     ps.run_as_non_root_1_35, pod(hostUsers=False), True, "", ""),

    ("check_runAsUser_test.go", "TestRunAsUser", "pod runAsUser=0", ps.run_as_user_1_35,
     pod([c("a")], sc={"runAsUser": 0}), False, "runAsUser=0", "pod must not set runAsUser=0"),
    ("check_runAsUser_test.go", "TestRunAsUser", "pod runAsUser=non-zero", ps.run_as_user_1_35,
     pod([c("a")], sc={"runAsUser": 1000}), True, "", ""),
    ("check_runAsUser_test.go", "TestRunAsUser", "pod runAsUser=nil", ps.run_as_user_1_35,
     pod([c("a")], sc={}), True, "", ""),
    ("check_runAsUser_test.go", "TestRunAsUser", "containers runAsUser=0", ps.run_as_user_1_35,
     pod([c("a"), c("b", {}), c("c", {"runAsUser": 0}), c("d", {"runAsUser": 0}),
          c("e", {"runAsUser": 1}), c("f", {"runAsUser": 1})], sc={"runAsUser": 1000}),
     False, "runAsUser=0", 'containers "c", "d" must not set runAsUser=0'),
    ("check_runAsUser_test.go", "TestRunAsUser", "containers runAsUser=non-zero",
     ps.run_as_user_1_35, pod([c(n, {"runAsUser": u}) for n, u in zip("cdef", (1, 2, 3, 4))]),
     True, "", ""),
    ("check_runAsUser_test.go", "TestRunAsUser", "host users false allowed",
     ps.run_as_user_1_35, pod(hostUsers=False, sc={"runAsUser": 0}), True, "", ""),

    ("check_seLinuxOptions_test.go", "TestSELinuxOptions", "invalid pod and containers",
     ps.se_linux_options_1_31,
     pod(SELINUX_ABCD + SELINUX_EFG,
         sc={"seLinuxOptions": {"type": "foo", "user": "bar", "role": "baz"}}),
     False, "seLinuxOptions",
     'pod and containers "e", "f", "g" set forbidden securityContext.seLinuxOptions: types '
     '"bar", "foo"; user may not be set; role may not be set'),
    ("check_seLinuxOptions_test.go", "TestSELinuxOptions", "invalid pod",
     ps.se_linux_options_1_31,
     pod(SELINUX_ABCD, sc={"seLinuxOptions": {"type": "foo", "user": "bar", "role": "baz"}}),
     False, "seLinuxOptions",
     'pod set forbidden securityContext.seLinuxOptions: type "foo"; user may not be set; role '
     'may not be set'),
    ("check_seLinuxOptions_test.go", "TestSELinuxOptions", "invalid containers",
     ps.se_linux_options_1_31, pod(SELINUX_ABCD + SELINUX_EFG, sc={"seLinuxOptions": {}}),
     False, "seLinuxOptions",
     'containers "e", "f", "g" set forbidden securityContext.seLinuxOptions: type "bar"; user '
     'may not be set; role may not be set'),
    ("check_seLinuxOptions_test.go", "TestSELinuxOptions", "bad type", ps.se_linux_options_1_31,
     pod(sc={"seLinuxOptions": {"type": "bad"}}), False, "seLinuxOptions",
     'pod set forbidden securityContext.seLinuxOptions: type "bad"'),
    ("check_seLinuxOptions_test.go", "TestSELinuxOptions", "bad user", ps.se_linux_options_1_31,
     pod(sc={"seLinuxOptions": {"user": "bad"}}), False, "seLinuxOptions",
     "pod set forbidden securityContext.seLinuxOptions: user may not be set"),
    ("check_seLinuxOptions_test.go", "TestSELinuxOptions", "bad role", ps.se_linux_options_1_31,
     pod(sc={"seLinuxOptions": {"role": "bad"}}), False, "seLinuxOptions",
     "pod set forbidden securityContext.seLinuxOptions: role may not be set"),

    ("check_seccompProfile_baseline_test.go", "TestSeccompProfileBaseline_1_0",
     "pod and containers seccomp invalid", ps.seccomp_profile_baseline_1_0,
     pod([c("a"), c("b"), c("c")], annotations={
         "seccomp.security.alpha.kubernetes.io/pod": "unconfined",
         "container.seccomp.security.alpha.kubernetes.io/a": "unconfined",
         "container.seccomp.security.alpha.kubernetes.io/b": "unknown"}),
     False, "seccompProfile",
     'forbidden annotations container.seccomp.security.alpha.kubernetes.io/a="unconfined", '
     'container.seccomp.security.alpha.kubernetes.io/b="unknown", '
     'seccomp.security.alpha.kubernetes.io/pod="unconfined"'),
    ("check_seccompProfile_baseline_test.go", "TestSeccompProfileBaseline_1_19",
     "pod seccomp invalid", ps.seccomp_profile_baseline_1_19,
     pod([c("a")], sc={"seccompProfile": UNCONFINED}), False, "seccompProfile",
     'pod must not set securityContext.seccompProfile.type to "Unconfined"'),
    ("check_seccompProfile_baseline_test.go", "TestSeccompProfileBaseline_1_19",
     "containers seccomp invalid", ps.seccomp_profile_baseline_1_19,
     pod(SECCOMP_CONTAINERS, sc={"seccompProfile": DEFAULT}), False, "seccompProfile",
     'containers "c", "d" must not set securityContext.seccompProfile.type to "Unconfined"'),
    ("check_seccompProfile_baseline_test.go", "TestSeccompProfileBaseline_1_19",
     "pod and containers seccomp invalid", ps.seccomp_profile_baseline_1_19,
     pod(SECCOMP_CONTAINERS, sc={"seccompProfile": UNCONFINED}), False, "seccompProfile",
     'pod and containers "c", "d" must not set securityContext.seccompProfile.type to '
     '"Unconfined"'),

    ("check_seccompProfile_restricted_test.go", "TestSeccompProfileRestricted_1_25",
     "no explicit seccomp", ps.seccomp_profile_restricted_1_25, pod([c("a")]),
     False, "seccompProfile",
     'pod or container "a" must set securityContext.seccompProfile.type to "RuntimeDefault" or '
     '"Localhost"'),
    ("check_seccompProfile_restricted_test.go", "TestSeccompProfileRestricted_1_25",
     "no explicit seccomp, windows Pod", ps.seccomp_profile_restricted_1_25,
     pod([c("a")], **W), True, "", ""),
    ("check_seccompProfile_restricted_test.go", "TestSeccompProfileRestricted_1_25",
     "pod seccomp invalid", ps.seccomp_profile_restricted_1_25,
     pod([c("a")], sc={"seccompProfile": UNCONFINED}), False, "seccompProfile",
     'pod must not set securityContext.seccompProfile.type to "Unconfined"'),
    ("check_seccompProfile_restricted_test.go", "TestSeccompProfileRestricted_1_25",
     "containers seccomp invalid", ps.seccomp_profile_restricted_1_25,
     pod(SECCOMP_CONTAINERS, sc={"seccompProfile": DEFAULT}), False, "seccompProfile",
     'containers "c", "d" must not set securityContext.seccompProfile.type to "Unconfined"'),
    ("check_seccompProfile_restricted_test.go", "TestSeccompProfileRestricted_1_25",
     "pod nil, container fallthrough", ps.seccomp_profile_restricted_1_25,
     pod([c("a"), c("b", {}), c("d", {"seccompProfile": DEFAULT}),
          c("e", {"seccompProfile": DEFAULT})]),
     False, "seccompProfile",
     'pod or containers "a", "b" must set securityContext.seccompProfile.type to '
     '"RuntimeDefault" or "Localhost"'),
    ("check_seccompProfile_restricted_test.go", "TestSeccompProfileRestricted_1_19",
     "no explicit seccomp (windows not exempt before v1.25)", ps.seccomp_profile_restricted_1_19,
     pod([c("a")], **W), False, "seccompProfile",
     'pod or container "a" must set securityContext.seccompProfile.type to "RuntimeDefault" or '
     '"Localhost"'),

    ("check_sysctls_test.go", "TestSysctls", "forbidden sysctls", ps.sysctls(ps.SYSCTLS_1_0),
     sysctl_pod("a", "b"), False, "forbidden sysctls", "a, b"),
    ("check_sysctls_test.go", "TestSysctls",
     "new supported sysctls not supported: net.ipv4.tcp_keepalive_time",
     ps.sysctls(ps.SYSCTLS_1_0), sysctl_pod("net.ipv4.tcp_keepalive_time"),
     False, "forbidden sysctls", "net.ipv4.tcp_keepalive_time"),
    ("check_sysctls_test.go", "TestSysctls_1_27", "new supported sysctls",
     ps.sysctls(ps.SYSCTLS_1_27), sysctl_pod("net.ipv4.ip_local_reserved_ports"), True, "", ""),
    ("check_sysctls_test.go", "TestSysctls_1_29", "new supported sysctls: net.ipv4.tcp_fin_timeout",
     ps.sysctls(ps.SYSCTLS_1_29), sysctl_pod("net.ipv4.tcp_fin_timeout"), True, "", ""),
    ("check_sysctls_test.go", "TestSysctls_1_32", "new supported sysctls: net.ipv4.tcp_wmem",
     ps.sysctls(ps.SYSCTLS_1_32), sysctl_pod("net.ipv4.tcp_wmem"), True, "", ""),
    ("check_sysctls_test.go", "TestSysctls_1_37", "forbidden sysctls",
     ps.sysctls(ps.SYSCTLS_1_37), sysctl_pod("a", "b"), False, "forbidden sysctls", "a, b"),
    ("check_sysctls_test.go", "TestSysctls_1_37",
     "new supported sysctls: net.ipv4.tcp_slow_start_after_idle",
     ps.sysctls(ps.SYSCTLS_1_37), sysctl_pod("net.ipv4.tcp_slow_start_after_idle"),
     True, "", ""),
    ("check_sysctls_test.go", "TestSysctls_1_37",
     "new supported sysctls: net.ipv4.tcp_notsent_lowat",
     ps.sysctls(ps.SYSCTLS_1_37), sysctl_pod("net.ipv4.tcp_notsent_lowat"), True, "", ""),

    ("check_windowsHostProcess_test.go", "TestWindowsHostProcess", "host process",
     ps.windows_host_process_1_0,
     pod([c("a"), c("b", {}), c("c", {"windowsOptions": {}}),
          c("d", {"windowsOptions": {"hostProcess": False}}),
          c("e", {"windowsOptions": {"hostProcess": True}}),
          c("f", {"windowsOptions": {"hostProcess": True}})],
         sc={"windowsOptions": {"hostProcess": True}}),
     False, "hostProcess",
     'pod and containers "e", "f" must not set securityContext.windowsOptions.hostProcess=true'),
]


@pytest.mark.parametrize("source,test,case,check,p,allowed,reason,detail", CASES,
                         ids=[f"{c[1]}/{c[2]}" for c in CASES])
def test_check_tables(source, test, case, check, p, allowed, reason, detail):
    """policy/<source> <test>, case <case>: the check's verdict, reason and detail."""
    result = run_check(check, p)
    assert result.allowed is allowed
    assert (result.reason, result.detail) == (reason, detail)


def _check_id(source: str) -> str:
    """The check a table tests: check_<id>_test.go (procMount's baseline table is
    check_procMount_baseline_test.go; the file spells hostProbesAndhostLifecycle)."""
    name = source.removeprefix("check_").removesuffix("_test.go")
    name = {"procMount_baseline": "procMount"}.get(name, name)
    return next(cid for cid in ps.BY_ID if cid.lower() == name.lower())


def test_every_check_of_the_latest_policy_has_a_failing_case():
    """Each check is refused somewhere above (its own table); the minimal valid pods and the
    pass fixtures of section 3 are its passing cases."""
    failing = {_check_id(case[0]) for case in CASES if not case[5]}
    assert failing == set(ps.BY_ID)
    assert set(FIXTURES) == set(ps.BY_ID)


# -- 2. the registry and the labels ---------------------------------------------------------

def synthetic(check_id: str, level: str, versions: list[str], overrides=()) -> ps.Check:
    """policy/registry_test.go generateCheck: each version's check fails with "<id>:<v>"."""
    def variant(version: str, index: int) -> ps.Versioned:
        fn = lambda meta, spec, v=version: ps.Result(False, f"{check_id}:{v}")  # noqa: E731
        over = overrides[index] if overrides and isinstance(overrides[0], tuple) else overrides
        return ps.Versioned(ps.parse_version(version), fn, tuple(over))
    return ps.Check(check_id, level, tuple(variant(v, i) for i, v in enumerate(versions)))


REGISTRY = (
    synthetic("a", ps.BASELINE, ["v1.0"]),
    synthetic("b", ps.BASELINE, ["v1.10"]),
    synthetic("c", ps.BASELINE, ["v1.0", "v1.5", "v1.10"]),
    synthetic("d", ps.BASELINE, ["v1.11", "v1.15", "v1.20"]),
    synthetic("e", ps.RESTRICTED, ["v1.0"]),
    synthetic("f", ps.RESTRICTED, ["v1.12", "v1.16", "v1.21"]),
    synthetic("g", ps.RESTRICTED, ["v1.10"], ("a",)),
    synthetic("h", ps.RESTRICTED, ["v1.0"], ("b",)),
    synthetic("i", ps.RESTRICTED, ["v1.10", "v1.21"], (("c",), ("d",))),
)


@pytest.mark.parametrize("level,version,expected", [
    (ps.PRIVILEGED, "v1.0", []),
    (ps.PRIVILEGED, "latest", []),
    (ps.BASELINE, "v1.0", ["a:v1.0", "c:v1.0"]),
    (ps.BASELINE, "v1.4", ["a:v1.0", "c:v1.0"]),
    (ps.BASELINE, "v1.5", ["a:v1.0", "c:v1.5"]),
    (ps.BASELINE, "v1.10", ["a:v1.0", "b:v1.10", "c:v1.10"]),
    (ps.BASELINE, "v1.11", ["a:v1.0", "b:v1.10", "c:v1.10", "d:v1.11"]),
    (ps.BASELINE, "latest", ["a:v1.0", "b:v1.10", "c:v1.10", "d:v1.20"]),
    (ps.RESTRICTED, "v1.0", ["a:v1.0", "c:v1.0", "e:v1.0", "h:v1.0"]),
    (ps.RESTRICTED, "v1.4", ["a:v1.0", "c:v1.0", "e:v1.0", "h:v1.0"]),
    (ps.RESTRICTED, "v1.5", ["a:v1.0", "c:v1.5", "e:v1.0", "h:v1.0"]),
    (ps.RESTRICTED, "v1.10", ["e:v1.0", "g:v1.10", "h:v1.0", "i:v1.10"]),
    (ps.RESTRICTED, "v1.11", ["d:v1.11", "e:v1.0", "g:v1.10", "h:v1.0", "i:v1.10"]),
    (ps.RESTRICTED, "latest", ["c:v1.10", "e:v1.0", "f:v1.21", "g:v1.10", "h:v1.0", "i:v1.21"]),
    (ps.RESTRICTED, "v1.10000",
     ["c:v1.10", "e:v1.0", "f:v1.21", "g:v1.10", "h:v1.0", "i:v1.21"]),
])
def test_registry(level, version, expected):
    """policy/registry_test.go TestCheckRegistry: which checks, which variant, what order."""
    found = [fn({}, {}).reason for _, fn in
             ps.checks_for(level, ps.parse_version(version), REGISTRY)]
    assert found == expected


@pytest.mark.parametrize("version,active", [("latest", True), ("v1.34", True), ("v1.33", False)])
def test_host_probes_check_starts_at_v1_34(version, active):
    """policy/check_hostProbesAndhostLifecycle_test.go TestHostProbesAndHostLifecycleEmulation
    (no emulation): a startup probe with an explicit host is refused from v1.34 on."""
    p = pod([c("", startupProbe={"httpGet": {"host": "localhost"}})])
    found = [v.check for v in ps.evaluate(ps.BASELINE, p, ps.parse_version(version))]
    assert found == (["hostProbesAndHostLifecycle"] if active else [])


def test_the_latest_policy_is_what_upstream_registers():
    """The checks registered at the latest version and the baseline checks restricted
    replaces (policy/check_*.go OverrideCheckIDs), in registry order."""
    assert ps.NEWEST == (1, 37)
    assert [cid for cid, _ in ps.checks_for(ps.BASELINE)] == [
        "appArmorProfile", "capabilities_baseline", "hostNamespaces", "hostPathVolumes",
        "hostPorts", "hostProbesAndHostLifecycle", "privileged", "procMount", "seLinuxOptions",
        "seccompProfile_baseline", "sysctls", "windowsHostProcess"]
    assert [cid for cid, _ in ps.checks_for(ps.RESTRICTED)] == [
        "appArmorProfile", "hostNamespaces", "hostPorts", "hostProbesAndHostLifecycle",
        "privileged", "seLinuxOptions", "sysctls", "windowsHostProcess",
        "allowPrivilegeEscalation", "capabilities_restricted", "procMount_restricted",
        "restrictedVolumes", "runAsNonRoot", "runAsUser", "seccompProfile_restricted"]


@pytest.mark.parametrize("text,expected", [
    ("latest", "latest"), ("v1.0", (1, 0)), ("v1.1", (1, 1)), ("v1.20", (1, 20)),
    ("v1.10000", (1, 10000)), ("foo", None), ("", None), ("v2.0", None), ("v1", None),
    ("1.1", None)])
def test_parse_version(text, expected):
    """api/helpers_test.go TestParseVersion (successes and failures)."""
    assert ps.parse_version(text) == expected


def labels(*pairs: str) -> dict:
    return {ps.LABEL_PREFIX + pairs[i]: pairs[i + 1] for i in range(0, len(pairs), 2)}


@pytest.mark.parametrize("desc,given,level,version,error", [
    ("no labels (the API server's default)", {}, "privileged", "latest", False),
    ("simple enforce", labels("enforce", "baseline"), "baseline", "latest", False),
    ("simple warn", labels("warn", "restricted"), "privileged", "latest", False),
    ("enforce version", labels("enforce", "baseline", "enforce-version", "v1.22"),
     "baseline", (1, 22), False),
    ("fully specd", labels("enforce", "baseline", "enforce-version", "v1.20", "warn",
                           "restricted", "warn-version", "v1.21", "audit", "restricted",
                           "audit-version", "v1.22"), "baseline", (1, 20), False),
    ("enforce warn error", labels("enforce", "baseline", "warn", "foo"),
     "baseline", "latest", False),
    ("enforce error", labels("enforce", "foo"), "restricted", "latest", True),
])
def test_enforced_policy_from_labels(desc, given, level, version, error):
    """api/helpers_test.go TestPolicyToEvaluate, the enforce side of each case (warn and
    audit never refuse a create)."""
    found_level, found_version, errors = ps.enforced(given)
    assert (found_level, found_version, bool(errors)) == (level, version, error)


def test_violations_take_the_enforce_label_value():
    """The entry point of the issue: a pod and the namespace's enforce label; no label is
    privileged; the wording is upstream's `reason (detail)`."""
    p = pod([c("x")])
    assert ps.violations(p) == [] and ps.violations(p, "privileged") == []
    assert ps.violations(p, "baseline") == []
    assert ps.violations(p, "restricted") == [
        'allowPrivilegeEscalation != false (container "x" must set '
        "securityContext.allowPrivilegeEscalation=false)",
        'unrestricted capabilities (container "x" must set '
        'securityContext.capabilities.drop=["ALL"])',
        'runAsNonRoot != true (pod or container "x" must set securityContext.runAsNonRoot=true)',
        'seccompProfile (pod or container "x" must set securityContext.seccompProfile.type to '
        '"RuntimeDefault" or "Localhost")']
    # a pinned version runs that version's checks: no capabilities check before v1.22
    assert [v.split(" (")[0] for v in ps.violations(p, "restricted", "v1.21")] == [
        "allowPrivilegeEscalation != false", "runAsNonRoot != true", "seccompProfile"]


# -- 3. whole pods: upstream's fixtures (test/fixtures*.go) at the latest version -----------

def tweak(p: dict, change) -> dict:
    out = copy.deepcopy(p)
    change(out)
    return out


def containers(p: dict) -> tuple[dict, dict]:
    """(Containers[0], InitContainers[0])."""
    return p["spec"]["containers"][0], p["spec"]["initContainers"][0]


def ensure_sc(p: dict) -> dict:
    """ensureSecurityContext (test/helpers.go)."""
    p = copy.deepcopy(p)
    p["spec"].setdefault("securityContext", {})
    for container in containers(p):
        container.setdefault("securityContext", {})
    return p


BASELINE_POD = {"metadata": {}, "spec": {
    "initContainers": [{"name": "initcontainer1", "image": "registry.k8s.io/pause"}],
    "containers": [{"name": "container1", "image": "registry.k8s.io/pause"}]}}
RESTRICTED_1_0 = tweak(BASELINE_POD, lambda p: p["spec"].update(
    securityContext={"runAsNonRoot": True}))
RESTRICTED_POD = tweak(RESTRICTED_1_0, lambda p: (
    p["spec"]["securityContext"].update(seccompProfile={"type": "RuntimeDefault"}),
    [x.update(securityContext={"allowPrivilegeEscalation": False,
                               "capabilities": {"drop": ["ALL"]}}) for x in containers(p)]))
MINIMAL = {ps.BASELINE: BASELINE_POD, ps.RESTRICTED: RESTRICTED_POD}


def sets(p: dict, *path_and_value):
    """Set the securityContext field `path` (dotted, from the container's context) on
    containers[0] ("c"), initContainers[0] ("i") or the pod ("p")."""
    out = ensure_sc(p)
    for where, path, value in path_and_value:
        target = {"c": containers(out)[0], "i": containers(out)[1]}.get(where)
        context = out["spec"]["securityContext"] if where == "p" else target["securityContext"]
        *parents, last = path.split(".")
        for key in parents:
            context = context.setdefault(key, {})
        if value is None:
            context.pop(last, None)
        else:
            context[last] = value
    return out


def spec_set(p: dict, **fields) -> dict:
    return tweak(p, lambda q: q["spec"].update(fields))


def container_set(p: dict, where: str, **fields) -> dict:
    return tweak(p, lambda q: containers(q)[0 if where == "c" else 1].update(fields))


def with_annotations(p: dict, annotations: dict) -> dict:
    return tweak(p, lambda q: q["metadata"].setdefault("annotations", {}).update(annotations))


def drops_all(p: dict) -> bool:
    return "ALL" in ((containers(p)[0].get("securityContext") or {}).get("capabilities")
                     or {}).get("drop", [])


def with_caps(p: dict, where: str, add=None, drop=None) -> dict:
    out = ensure_sc(p)
    for w in where:
        caps = containers(out)[0 if w == "c" else 1]["securityContext"].setdefault(
            "capabilities", {})
        if add is not None:
            caps["add"] = add
        if drop is not None:
            caps["drop"] = drop
    return out


APPARMOR = "container.apparmor.security.beta.kubernetes.io/"
DEFAULT_CAPS = ["AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"]
EVERY_CAP = ["SYS_TIME", "SYS_MODULE", "SYS_RAWIO", "SYS_PACCT", "SYS_ADMIN", "SYS_NICE",
             "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "AUDIT_WRITE",
             "AUDIT_CONTROL", "MAC_OVERRIDE", "MAC_ADMIN", "NET_ADMIN", "SYSLOG", "CHOWN",
             "NET_RAW", "DAC_OVERRIDE", "FOWNER", "DAC_READ_SEARCH", "FSETID", "KILL", "SETGID",
             "SETUID", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "IPC_LOCK",
             "IPC_OWNER", "SYS_CHROOT", "SYS_PTRACE", "SYS_BOOT", "LEASE", "SETFCAP",
             "WAKE_ALARM", "BLOCK_SUSPEND"]
UNCONF = {"type": "Unconfined"}
LOCALHOST = {"type": "Localhost", "localhostProfile": "testing"}


def _volume_fail(source: str, body: dict) -> callable:
    return lambda p: spec_set(p, volumes=[{"name": "volume1", source: body}])


def proc_mount_pass(p, level):
    out = [spec_set(sets(p, ("c", "procMount", "Default"), ("i", "procMount", "Default")),
                    hostUsers=False)]
    if level != ps.RESTRICTED:   # an unmasked user-namespace pod passes baseline only
        out.append(spec_set(sets(p, ("c", "procMount", "Unmasked"), ("i", "procMount",
                                                                     "Unmasked")),
                            hostUsers=False))
    return out


# check ID -> (upstream fixture file, expectErrorSubstring, pass(pod, level), fail(pod)):
# the newest generator at or below v1.37 of each.
FIXTURES = {
    "allowPrivilegeEscalation": ("fixtures_allowPrivilegeEscalation.go", "", lambda p, l: [],
                                 lambda p: [] if p["spec"].get("os", {}).get("name") == "windows"
                                 else [sets(p, ("c", "allowPrivilegeEscalation", True)),
                                       sets(p, ("i", "allowPrivilegeEscalation", True)),
                                       sets(p, ("c", "allowPrivilegeEscalation", None)),
                                       tweak(p, lambda q: containers(q)[0].pop(
                                           "securityContext", None))]),
    # the pass fixture sets runtime/default then localhost/foo, both on Containers[0]'s name
    "appArmorProfile": ("fixtures_appArmorProfile.go", "forbidden AppArmor profile",
                        lambda p, l: [with_annotations(p, {
                            APPARMOR + "container1": "localhost/foo"})],
                        lambda p: [with_annotations(p, {APPARMOR + "container1": "unconfined"}),
                                   with_annotations(p, {APPARMOR + "initcontainer1":
                                                        "unconfined"})]),
    "capabilities_baseline": ("fixtures_capabilities_baseline.go", "capabilities",
                              lambda p, l: [] if drops_all(p) else [
                                  with_caps(p, "ci", add=DEFAULT_CAPS)],
                              lambda p: [with_caps(p, "c", add=["NET_RAW"]),
                                         with_caps(p, "i", add=["NET_RAW"]),
                                         with_caps(p, "c", add=["chown"]),
                                         with_caps(p, "c", add=["CAP_CHOWN"])]),
    "capabilities_restricted": ("fixtures_capabilities_restricted.go", "unrestricted capabilities",
                                lambda p, l: [with_caps(p, "ci", add=["NET_BIND_SERVICE"],
                                                        drop=["ALL"])],
                                lambda p: [with_caps(p, "c", drop=[]), with_caps(p, "i", drop=[]),
                                           with_caps(p, "ci", drop=EVERY_CAP),
                                           with_caps(p, "ci", add=DEFAULT_CAPS, drop=["ALL"])]),
    "hostNamespaces": ("fixtures_hostNamespaces.go", "host namespaces", lambda p, l: [],
                       lambda p: [spec_set(p, hostIPC=True), spec_set(p, hostNetwork=True),
                                  spec_set(p, hostPID=True)]),
    "hostPathVolumes": ("fixtures_hostPathVolumes.go", "hostPath", lambda p, l: [],
                        lambda p: [spec_set(p, volumes=[
                            {"name": "volume-emptydir", "emptyDir": {}},
                            {"name": "volume-hostpath", "hostPath": {"path": "/a"}}]),
                            spec_set(p, volumes=[
                                {"name": "volume-hostpath-a", "hostPath": {"path": "/a"}},
                                {"name": "volume-hostpath-b", "hostPath": {"path": "/b"}}])]),
    "hostPorts": ("fixtures_hostPorts.go", "hostPort",
                  lambda p, l: [container_set(container_set(
                      p, "c", ports=[{"containerPort": 12345}]),
                      "i", ports=[{"containerPort": 12346}])],
                  lambda p: [container_set(p, "c", ports=[{"containerPort": 12345,
                                                           "hostPort": 12345}]),
                             container_set(p, "i", ports=[{"containerPort": 12346,
                                                           "hostPort": 12346}]),
                             container_set(container_set(
                                 p, "c", ports=[{"containerPort": 12345, "hostPort": 12345},
                                                {"containerPort": 12347}]),
                                 "i", ports=[{"containerPort": 12346, "hostPort": 12346},
                                             {"containerPort": 12348}])]),
    "hostProbesAndHostLifecycle": (
        "fixtures_hostProbesAndHostLifecycle.go", "probe or lifecycle host",
        lambda p, l: [p, container_set(p, "c", livenessProbe={"httpGet": {"port": 8080}}),
                      container_set(p, "c", readinessProbe={"tcpSocket": {"port": 8080}})],
        lambda p: [container_set(p, "c", livenessProbe={"httpGet": {"host": "bad.host",
                                                                    "port": 8080}}),
                   container_set(p, "i", restartPolicy="Always", readinessProbe={
                       "tcpSocket": {"host": "8.8.8.8", "port": 8080}}),
                   container_set(p, "c", lifecycle={"postStart": {"httpGet": {
                       "host": "bad.host", "port": 8080}}}),
                   container_set(p, "c", livenessProbe={"httpGet": {"host": "127.0.0.1",
                                                                    "port": 8080}}),
                   container_set(p, "c", readinessProbe={"tcpSocket": {"host": "::1",
                                                                       "port": 8080}})]),
    "privileged": ("fixtures_privileged.go", "",
                   lambda p, l: [sets(p, ("c", "privileged", False), ("i", "privileged", False))],
                   lambda p: [sets(p, ("c", "privileged", True),
                                   ("c", "allowPrivilegeEscalation", None)),
                              sets(p, ("i", "privileged", True),
                                   ("i", "allowPrivilegeEscalation", None))]),
    "procMount": ("fixtures_procMount.go (fixtureData1_35baseline)", "procMount", proc_mount_pass,
                  lambda p: [spec_set(sets(p, ("c", "procMount", "Unmasked")), hostUsers=True),
                             spec_set(sets(p, ("i", "procMount", "Unmasked")), hostUsers=True)]),
    "procMount_restricted": (
        "fixtures_procMount.go (fixtureData1_35restricted)", "procMount",
        lambda p, l: [spec_set(sets(p, ("c", "procMount", "Default"),
                                    ("i", "procMount", "Default")), hostUsers=False)],
        lambda p: [spec_set(sets(p, ("c", "procMount", "Unmasked")), hostUsers=False),
                   spec_set(sets(p, ("i", "procMount", "Unmasked")), hostUsers=False)]),
    "restrictedVolumes": (
        "fixtures_restrictedVolumes.go", "restricted volume types",
        lambda p, l: [spec_set(p, volumes=[
            {"name": "volume0"},                                   # implicit empty dir
            {"name": "volume1", "emptyDir": {}},
            {"name": "volume2", "secret": {"secretName": "test"}},
            {"name": "volume3", "persistentVolumeClaim": {"claimName": "test"}},
            {"name": "volume4", "downwardAPI": {"items": [
                {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
            {"name": "volume5", "configMap": {"name": "test"}},
            {"name": "volume6", "projected": {"sources": []}}])],
        lambda p: [_volume_fail(source, {})(p) for source in (
            "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs", "iscsi", "glusterfs",
            "rbd", "flexVolume", "cinder", "cephfs", "flocker", "fc", "azureFile",
            "vsphereVolume", "quobyte", "azureDisk", "portworxVolume", "scaleIO", "storageos")]
        + [_volume_fail("hostPath", {"path": "/dev/null"})(p)]),
    "runAsNonRoot": ("fixtures_runAsNonRoot.go", "",
                     lambda p, l: [sets(p, ("p", "runAsNonRoot", True),
                                        ("c", "runAsNonRoot", None), ("i", "runAsNonRoot", None)),
                                   sets(p, ("p", "runAsNonRoot", None),
                                        ("c", "runAsNonRoot", True), ("i", "runAsNonRoot", True))],
                     lambda p: [sets(p, ("p", "runAsNonRoot", None), ("c", "runAsNonRoot", None),
                                     ("i", "runAsNonRoot", None)),
                                sets(p, ("p", "runAsNonRoot", False)),
                                sets(p, ("c", "runAsNonRoot", False)),
                                sets(p, ("i", "runAsNonRoot", False))]),
    "runAsUser": ("fixtures_runAsUser.go", "",
                  lambda p, l: [sets(p, ("p", "runAsUser", 1000), ("c", "runAsUser", 1000),
                                     ("i", "runAsUser", 1000))],
                  lambda p: [sets(p, ("p", "runAsUser", 0)), sets(p, ("c", "runAsUser", 0)),
                             sets(p, ("i", "runAsUser", 0))]),
    "seLinuxOptions": (
        "fixtures_seLinuxOptions.go", "seLinuxOptions",
        lambda p, l: [sets(p, ("i", "seLinuxOptions", {})),
                      sets(p, ("p", "seLinuxOptions", {"type": "container_t", "level": ""}),
                           ("c", "seLinuxOptions", {"type": "container_init_t",
                                                    "level": "somevalue"}),
                           ("i", "seLinuxOptions", {"type": "container_kvm_t"}))],
        lambda p: [sets(p, ("p", "seLinuxOptions", {"type": "somevalue"})),
                   sets(p, ("c", "seLinuxOptions", {"type": "somevalue"})),
                   sets(p, ("i", "seLinuxOptions", {"type": "somevalue"})),
                   sets(p, ("p", "seLinuxOptions", {"user": "somevalue"})),
                   sets(p, ("p", "seLinuxOptions", {"role": "somevalue"}))]),
    "seccompProfile_baseline": (
        "fixtures_seccompProfile_baseline.go (fixtureData_baseline_1_19)", "seccompProfile",
        lambda p, l: [] if (p["spec"].get("securityContext") or {}).get("seccompProfile") else [
            sets(p, ("p", "seccompProfile", {"type": "RuntimeDefault"}),
                 ("c", "seccompProfile", {"type": "RuntimeDefault"}))],
        lambda p: [sets(p, ("p", "seccompProfile", UNCONF)),
                   sets(p, ("c", "seccompProfile", UNCONF)),
                   sets(p, ("i", "seccompProfile", UNCONF))]),
    "seccompProfile_restricted": (
        "fixtures_seccompProfile_restricted.go", "seccompProfile",
        lambda p, l: [sets(p, ("p", "seccompProfile", {"type": "RuntimeDefault"})),
                      sets(p, ("p", "seccompProfile", LOCALHOST)),
                      sets(p, ("p", "seccompProfile", None),
                           ("c", "seccompProfile", {"type": "RuntimeDefault"}),
                           ("i", "seccompProfile", LOCALHOST))],
        lambda p: [sets(p, ("p", "seccompProfile", None)),
                   sets(p, ("p", "seccompProfile", UNCONF)),
                   sets(p, ("p", "seccompProfile", None),
                        ("c", "seccompProfile", {"type": "RuntimeDefault"})),
                   sets(p, ("p", "seccompProfile", None),
                        ("i", "seccompProfile", {"type": "RuntimeDefault"})),
                   sets(p, ("p", "seccompProfile", None),
                        ("c", "seccompProfile", {"type": "RuntimeDefault"}),
                        ("i", "seccompProfile", UNCONF))]),
    "sysctls": ("fixtures_sysctls.go (fixtureDataV1Dot37)", "forbidden sysctl",
                lambda p, l: [sets(p, ("p", "sysctls", None)),
                              sets(p, ("p", "sysctls", [
                                  {"name": "net.ipv4.tcp_slow_start_after_idle", "value": "0"},
                                  {"name": "net.ipv4.tcp_notsent_lowat", "value": "16384"}]))],
                lambda p: [sets(p, ("p", "sysctls", [{"name": "othersysctl",
                                                      "value": "other"}]))]),
    "windowsHostProcess": ("fixtures_windowsHostProcess.go", "hostProcess", lambda p, l: [],
                           lambda p: [spec_set(sets(p, ("p", "windowsOptions.hostProcess", True)),
                                               hostNetwork=True),
                                      spec_set(sets(p, ("c", "windowsOptions.hostProcess", True),
                                                    ("i", "windowsOptions.hostProcess", True)),
                                               hostNetwork=True)]),
}


def applicable(level: str) -> list[str]:
    """checksForLevelAndVersion at the latest version: a level's own checks and, for
    restricted, baseline's too (test/run.go runs every fixture a level has)."""
    return sorted(check.id for check in ps.CHECKS
                  if (level == ps.RESTRICTED or check.level == ps.BASELINE)
                  and check.at(ps.NEWEST))


def test_the_minimal_valid_pods_pass():
    """test/fixtures.go: the minimal valid pod of each level (restricted_1_22 from v1.25),
    the Linux one, and the Windows one (restricted_1_0 with os windows: none of the
    requirements added after v1.0 apply to it)."""
    for level, p in MINIMAL.items():
        assert ps.evaluate(level, p) == []
    assert ps.evaluate(ps.RESTRICTED, tweak(RESTRICTED_POD, lambda q: q["spec"].update(
        os={"name": "linux"}))) == []
    windows = tweak(RESTRICTED_1_0, lambda q: q["spec"].update(os={"name": "windows"}))
    assert ps.evaluate(ps.RESTRICTED, windows) == []
    assert ps.evaluate(ps.RESTRICTED, BASELINE_POD) != []


@pytest.mark.parametrize("level,check_id", [(level, cid) for level in (ps.BASELINE, ps.RESTRICTED)
                                            for cid in applicable(level)])
def test_upstream_fixtures(level, check_id):
    """test/fixtures_<check>.go through test/run.go's expectations, at v1.37 (latest): every
    pass fixture is admitted, every fail fixture refused with the generator's
    expectErrorSubstring (the check ID when it sets none) in the message. A pod reaches
    the checks through the API server's defaulting (a volume with no source is an
    emptyDir)."""
    source, substring, passing, failing = FIXTURES[check_id]
    base = MINIMAL[level]
    fails = failing(copy.deepcopy(base))
    assert fails, f"{source}: generateFail must return at least one pod"
    namespace = {ps.ENFORCE_LABEL: level}
    for i, p in enumerate(passing(copy.deepcopy(base), level)):
        assert ps.admission_error(p, namespace) == "", f"{source} pass {i}"
    for i, p in enumerate(fails):
        message = ps.admission_error(p, namespace)
        assert message.startswith(f'violates PodSecurity "{level}:latest": '), \
            f"{source} fail {i}: admitted"
        assert (substring or check_id) in message, f"{source} fail {i}: {message}"


# -- 4. the twin refuses what the API server refuses -------------------------------------------

@pytest.fixture(scope="module")
def dev():
    values = stack_values("dev")
    return build_spec(values, stack="dev"), render(values, stack="dev").check_objects()


def test_a_bare_pod_create_is_forbidden_like_the_api_server_says(dev):
    """admission/admission.go EvaluatePod -> forbiddenResponse (apierrors.NewForbidden:
    `pods "<name>" is forbidden: <err>`), printed by kubectl as `Error from server
    (Forbidden): ...`."""
    spec, objects = dev
    twin = Twin(spec, ObjectSet(copy.deepcopy(objects)), nodes=[])
    probe = {"apiVersion": "v1", "kind": "Pod",
             "metadata": {"name": "x", "namespace": "tenant-a"},
             "spec": {"containers": [{"name": "x", "image": "busybox"}]}}
    stored, said = twin.create(copy.deepcopy(probe))
    assert stored is None
    assert said == (
        'Error from server (Forbidden): pods "x" is forbidden: violates PodSecurity '
        '"restricted:latest": allowPrivilegeEscalation != false (container "x" must set '
        'securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container '
        '"x" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or '
        'container "x" must set securityContext.runAsNonRoot=true), seccompProfile (pod or '
        'container "x" must set securityContext.seccompProfile.type to "RuntimeDefault" or '
        '"Localhost")')
    # a namespace without the label is privileged: the same pod is created
    elsewhere = {**probe, "metadata": {"name": "x", "namespace": "unlabelled"}}
    stored, said = twin.create(copy.deepcopy(elsewhere))
    assert stored is not None and said == "pod/x created"


def _relabel(objects: list[dict], namespace: str, level: str) -> list[dict]:
    objects = copy.deepcopy(objects)
    for obj in objects:
        if obj.get("kind") == "Namespace" and obj["metadata"]["name"] == namespace:
            obj["metadata"]["labels"][ps.ENFORCE_LABEL] = level
    return objects


def test_a_controllers_refused_pods_are_failed_creates(dev):
    """A Deployment whose template breaks restricted is itself admitted (the API server only
    warns for controllers, admission/admission.go ValidatePodController); its ReplicaSet's
    pod creates are refused, FailedCreate on the ReplicaSet, as quota refusals are. At
    baseline the same template is admitted and runs."""
    spec, objects = dev
    objects = copy.deepcopy(objects)
    [deployment] = [o for o in objects if o.get("kind") == "Deployment"
                    and o["metadata"]["namespace"] == "tenant-a"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"]["allowPrivilegeEscalation"] = True
    views = [v for v in simulate(spec, ObjectSet(objects)) if v.namespace == "tenant-a"]
    assert views and all(v.status == "FailedCreate" and v.pod is None for v in views)
    detail = (f'violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false '
              f'(container "{container["name"]}" must set '
              f'securityContext.allowPrivilegeEscalation=false)')
    for view in views:
        assert re.fullmatch(r'Error creating: pods "infer-\w+-\w+" is forbidden: ' +
                            re.escape(detail), view.message), view.message
        assert view.events == [f"Warning FailedCreate replicaset-controller {view.message}"]
    relaxed = simulate(spec, ObjectSet(_relabel(objects, "tenant-a", "baseline")))
    assert [v.status for v in relaxed if v.namespace == "tenant-a"] == ["Running"]


# -- 5. the commands gpu-lab gives out -------------------------------------------------------

def generated_pod(name: str, image: str, restart: str = "Always", args=(), command=False,
                  labels=None, env=(), port=None, image_pull_policy=None,
                  privileged=False, stdin=False, tty=False, leave_stdin_open=False) -> dict:
    """The pod `kubectl run` generates (pkg/cmd/run/run.go createPod), as its JSON encoding
    reads: labels run=<name> unless --labels, `resources: {}` and `status: {}` kept."""
    container = {"name": name, "image": image}
    if args:
        container["command" if command else "args"] = list(args)
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in env]
    if port:
        container["ports"] = [{"containerPort": int(port)}]
    if image_pull_policy:
        container["imagePullPolicy"] = image_pull_policy
    if privileged:
        container["securityContext"] = {"privileged": True}
    container["resources"] = {}
    if stdin:
        container["stdin"] = True
        if not leave_stdin_open:
            container["stdinOnce"] = True
    if tty:
        container["tty"] = True
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"labels": labels or {"run": name}, "name": name},
            "spec": {"containers": [container], "dnsPolicy": "ClusterFirst",
                     "restartPolicy": restart},
            "status": {}}


def json_merge_patch(target, patch):
    """RFC 7396, kubectl's default --override-type (merge): objects merge, null deletes,
    anything else (lists too) replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = json_merge_patch(out.get(key), value)
    return out


# patchMergeKey of the Pod's lists that merge (k8s.io/api/core/v1 types.go patchStrategy
# "merge"); every other list is replaced by a strategic merge patch.
MERGE_KEYS = {("spec", "containers"): "name", ("spec", "initContainers"): "name",
              ("spec", "ephemeralContainers"): "name", ("spec", "volumes"): "name",
              ("spec", "imagePullSecrets"): "name", ("spec", "hostAliases"): "ip",
              ("container", "env"): "name", ("container", "ports"): "containerPort",
              ("container", "volumeMounts"): "mountPath",
              ("container", "volumeDevices"): "devicePath"}
CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")


def strategic_merge_patch(target, patch, where: str = ""):
    """`--override-type=strategic` on a Pod: as JSON merge, except that the lists above
    merge their elements by key (an element with a new key is appended)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    assert not any(k.startswith("$") for k in patch), f"directive not modelled: {patch}"
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
            continue
        merge_key = MERGE_KEYS.get((where, key))
        if merge_key and isinstance(value, list):
            merged = copy.deepcopy(out.get(key) or [])
            inner = "container" if key in CONTAINER_LISTS else "item"
            for element in value:
                at = next((i for i, e in enumerate(merged)
                           if e.get(merge_key) == element.get(merge_key)), None)
                if at is None:
                    merged.append(strategic_merge_patch({}, element, inner))
                else:
                    merged[at] = strategic_merge_patch(merged[at], element, inner)
            out[key] = merged
        else:
            out[key] = strategic_merge_patch(out.get(key), value,
                                             "spec" if key == "spec" and not where else "")
    return out


RUN_VALUE_FLAGS = {"--namespace", "--image", "--restart", "--overrides", "--override-type",
                   "--labels", "--env", "--port", "--image-pull-policy", "--annotations",
                   "--dry-run", "--output", "--context", "--kubeconfig", "--pod-running-timeout"}
RUN_BOOL_FLAGS = {"--rm", "--stdin", "--tty", "--command", "--privileged", "--attach",
                  "--quiet", "--leave-stdin-open"}
SHORT = {"-n": "--namespace", "-l": "--labels", "-o": "--output", "-i": "--stdin",
         "-t": "--tty", "-q": "--quiet"}


def kubectl_run(tokens: list[str]) -> tuple[str | None, dict]:
    """(namespace, pod) of `kubectl run ...` (tokens after `kubectl`)."""
    assert tokens[0] == "run"
    flags: dict[str, str] = {}
    env: list[tuple[str, str]] = []
    positional: list[str] = []
    rest = iter(tokens[1:])
    for token in rest:
        if token == "--":
            positional += list(rest)
            break
        if token.startswith("-") and len(token) > 1:
            name, equals, value = token.partition("=")
            if name == "-it":
                flags["--stdin"] = flags["--tty"] = "true"
                continue
            name = SHORT.get(name, name)
            if name in RUN_VALUE_FLAGS:
                value = value if equals else next(rest)
                if name == "--env":
                    env.append(tuple(value.split("=", 1)))
                else:
                    flags[name] = value
            else:
                assert name in RUN_BOOL_FLAGS, f"kubectl run flag {name} is not modelled"
                flags[name] = value or "true"
            continue
        positional.append(token)
    name, args = positional[0], positional[1:]
    labels = dict(pair.split("=", 1) for pair in flags["--labels"].split(",")) \
        if "--labels" in flags else None
    p = generated_pod(name, flags["--image"], flags.get("--restart", "Always"), args,
                      "--command" in flags, labels, env, flags.get("--port"),
                      flags.get("--image-pull-policy"), "--privileged" in flags,
                      "--stdin" in flags, "--tty" in flags, "--leave-stdin-open" in flags)
    if "--overrides" in flags:
        kind = flags.get("--override-type", "merge")
        patch = json.loads(flags["--overrides"])
        assert kind in ("merge", "strategic"), f"--override-type={kind} is not modelled"
        p = json_merge_patch(p, patch) if kind == "merge" else strategic_merge_patch(p, patch)
    return flags.get("--namespace"), p


# pkg/cmd/run/run_test.go TestOverride: the generated pod with --overrides, per override type.
OVERRIDE = '{"spec":{"containers":[{"name":"test","resources":{"limits":{"cpu":"200m"}}}]}}'
MERGED = {"apiVersion": "v1", "kind": "Pod",
          "metadata": {"labels": {"run": "test"}, "name": "test"},
          "spec": {"containers": [{"name": "test", "resources": {"limits": {"cpu": "200m"}}}],
                   "dnsPolicy": "ClusterFirst", "restartPolicy": "Always"}, "status": {}}
STRATEGIC = copy.deepcopy(MERGED)
STRATEGIC["spec"]["containers"][0]["image"] = "busybox"


@pytest.mark.parametrize("case,override_type,expected", [
    ("run with merge override type should replace spec", "merge", MERGED),
    ("run with no override type specified, should perform an RFC7396 JSON Merge Patch", None,
     MERGED),
    ("run with strategic override type should merge spec, preserving container image",
     "strategic", STRATEGIC)])
def test_kubectl_run_overrides(case, override_type, expected):
    """kubectl pkg/cmd/run/run_test.go TestOverride, case `case`: the default (merge)
    replaces the containers list, image and all; strategic merges the container by name."""
    tokens = ["run", "test", "--image=busybox", f"--overrides={OVERRIDE}"]
    if override_type:
        tokens.append(f"--override-type={override_type}")
    assert kubectl_run(tokens)[1] == expected


def test_kubectl_run_puts_what_follows_the_dash_in_args():
    """run.go createPod: arguments become args, or the command with --command."""
    _, p = kubectl_run(shlex.split("run probe --image=curlimages/curl --restart=Never -- "
                                   "curl -m 5 https://pypi.org"))
    assert p["spec"]["containers"][0]["args"] == ["curl", "-m", "5", "https://pypi.org"]
    assert p["spec"]["restartPolicy"] == "Never"
    _, p = kubectl_run(shlex.split("run x --image=busybox --command -- sleep 1"))
    assert p["spec"]["containers"][0]["command"] == ["sleep", "1"]


# What an image runs as when the pod does not say (its config's User), for images a text
# names. curlimages/curl: `buildah config --user curl_user` (curl/curl-container,
# create_appliance_image.sh); curl_user comes from BusyBox `adduser -S` (create_base_image.sh).
IMAGE_USERS = {"curlimages/curl": "curl_user"}


def kubelet_refusal(p: dict) -> str:
    """The kubelet's verifyRunAsNonRoot (pkg/kubelet/kuberuntime/security_context_others.go):
    with runAsNonRoot and no runAsUser, an image whose user is a name cannot be verified
    (CreateContainerConfigError); an image running as root is refused."""
    spec = p["spec"]
    for container in ps._containers(spec):
        context = {**(spec.get("securityContext") or {}), **(container.get("securityContext")
                                                                or {})}
        if context.get("runAsNonRoot") is not True or context.get("runAsUser") is not None:
            continue
        user = IMAGE_USERS.get(container.get("image", "").split(":")[0], "")
        if user and not user.isdigit():
            return (f"container has runAsNonRoot and image has non-numeric user ({user}), "
                    f"cannot verify user is non-root")
        if user in ("0", "root"):
            return "container has runAsNonRoot and image will run as root"
    return ""


POD_MAKING = ("run", "create", "apply", "replace", "debug")
# What a manifest can hold that makes pods: a Pod, or a controller whose pods come from its
# template (the controller is admitted with a warning; its pods are refused).
POD_KINDS = ("Pod", "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob",
             "ReplicationController")


def pod_of(document: dict) -> dict:
    if document["kind"] == "Pod":
        return document
    meta, spec = ps.pod_parts(document)
    name = document["metadata"]["name"]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {**meta, "name": f"{name}-x"},
            "spec": spec}
GLOBAL_VALUE_FLAGS = ("-n", "--namespace", "--context", "--kubeconfig", "--as", "--as-group")


def _verb(tokens: list[str]) -> tuple[str, int]:
    """kubectl's verb and where it is, past the global flags before it."""
    i = 1
    while i < len(tokens) and tokens[i].startswith("-"):
        i += 2 if tokens[i] in GLOBAL_VALUE_FLAGS else 1
    return (tokens[i] if i < len(tokens) else ""), i


def _tokens(command: str) -> list[str]:
    head = re.split(r"\s<<|`", command)[0]
    try:
        return shlex.split(head, comments=True)
    except ValueError:               # prose around an inline command
        return head.split()


def pod_commands(text: str) -> list[tuple[str, str | None, list[dict]]]:
    """(command, namespace, pods it creates) for every kubectl command in a text that can
    create a pod: `kubectl run`, `kubectl create|apply -f -` with a here-document; any other
    create/apply/debug of something that makes pods fails, so nothing goes unchecked."""
    found = []
    lines = iter(text.splitlines())
    for line in lines:
        for start in [m.start() for m in re.finditer(r"\bkubectl\s", line)]:
            command = line[start:]
            tokens = _tokens(command)
            verb, at = _verb(tokens)
            if verb not in POD_MAKING:
                continue
            namespace = next((tokens[i + 1] for i, t in enumerate(tokens[:-1])
                              if t in ("-n", "--namespace")), None)
            if verb == "run":
                namespace, made = kubectl_run(tokens[at:])
                found.append((command, namespace, [made]))
                continue
            if verb in ("create", "apply") and {"-f", "--filename"} & set(tokens):
                heredoc = re.search(r"<<-?\s*'?(\w+)'?", command)
                flag = "-f" if "-f" in tokens else "--filename"
                assert heredoc and tokens[tokens.index(flag) + 1] == "-", \
                    f"a manifest from a file cannot be checked: {command}"
                body = []
                for more in lines:
                    if more.strip() == heredoc.group(1):
                        break
                    body.append(more)
                documents = [d for d in yaml.safe_load_all("\n".join(body)) if d]
                found.append((command, namespace, [pod_of(d) for d in documents
                                                   if d.get("kind") in POD_KINDS]))
                continue
            assert verb == "create" and at + 1 < len(tokens) and tokens[at + 1] in (
                "namespace", "ns", "secret", "configmap", "role", "rolebinding",
                "serviceaccount"), f"cannot tell which pods this makes: {command}"
    return found


SHIPPED = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml")
                 for p in PROJECT_DIR.glob("Pulumi.*.yaml"))


def scenario_values(name: str) -> dict:
    return {"gcp:project": "gpu-lab-test", "gcp:region": "us-central1",
            "gpu-lab:allowFaults": True, "gpu-lab:scenario": name}


def stacks() -> list[tuple[str, dict]]:
    return [(name, stack_values(name)) for name in SHIPPED] + \
        [(f"scenario {name}", scenario_values(name)) for name in sorted(SCENARIOS)]


def texts(spec) -> dict[str, str]:
    """Every text gpu-lab gives out for a stack: each enabled fault's symptom, hints and fix,
    the interviewer's guide and the candidate's brief."""
    found = {"guide": interviewer_guide(spec),
             "brief": candidate_brief(spec, candidate_tasks(spec))}
    for fault, params in enabled(spec):
        info = fault.describe(params, spec)
        found[f"{fault.id} symptom"] = info["symptom"]
        found[f"{fault.id} fix"] = info["fix"]
        for i, hint in enumerate(info["hints"], 1):
            found[f"{fault.id} hint {i}"] = hint
    return found


def admitted(spec, objects: list[dict], namespace: str, p: dict) -> str:
    """What kubectl prints when the pod is created in `namespace` of this stack (the twin's
    admission: LimitRange, Priority, PodSecurity, ResourceQuota), and what the kubelet says
    when it cannot start it."""
    assert all(c.get("image") for c in p["spec"]["containers"]), \
        f"a container without an image (kubectl's default --override-type merge replaces " \
        f"lists): {p['spec']['containers']}"
    twin = Twin(spec, ObjectSet(copy.deepcopy(objects)), nodes=[])
    p = copy.deepcopy(p)
    p.setdefault("metadata", {})["namespace"] = namespace
    stored, said = twin.create(p)
    return said if stored is None else kubelet_refusal(stored) or said


@pytest.mark.parametrize("name,values", stacks(), ids=[n for n, _ in stacks()])
def test_every_pod_a_text_creates_passes_admission(name, values):
    stack = name.removeprefix("scenario ")
    spec = build_spec(values, stack=stack)
    commands = [(source, *found) for source, text in texts(spec).items()
                for found in pod_commands(text)]
    if not commands:
        return
    objects = render(values, stack=stack).check_objects()
    for source, command, namespace, pods in commands:
        for p in pods:
            where = namespace or p.get("metadata", {}).get("namespace") or "default"
            said = admitted(spec, objects, where, p)
            assert said == f"pod/{p['metadata']['name']} created", \
                f"{name}, {source}: {command.splitlines()[0]}\n{said}"


def test_the_texts_create_pods_somewhere():
    """The scan is not vacuous: the egress-blocked probe is found on the stacks that run it."""
    spec = build_spec(stack_values("all-faults"), stack="all-faults")
    found = [f for text in texts(spec).values() for f in pod_commands(text)]
    assert any(p["spec"]["containers"][0]["image"] == "curlimages/curl"
               for _, _, pods in found for p in pods)
    assert all(fault.id in {f.id for f, _ in enabled(spec)} for fault in FAULTS.values()
               if "kubectl run" in fault.symptom or "kubectl create" in fault.symptom)


TODAYS_PROBE = ("kubectl run -n tenant-c probe --image=curlimages/curl --restart=Never -- curl "
                "-m 5 https://pypi.org   # lands on another node, pulls, then: Connection timed "
                "out")


def test_the_probe_as_it_was_is_refused_and_the_same_with_a_nameless_user_would_not_start():
    """The egress-blocked probe the guide used to give, in the all-faults stack's tenant-c
    (restricted): refused by Pod Security; with only runAsNonRoot it is admitted but the
    kubelet cannot verify curlimages/curl's named user; with the default --override-type
    the containers list is replaced and the image lost."""
    values = stack_values("all-faults")
    spec = build_spec(values, stack="all-faults")
    objects = render(values, stack="all-faults").check_objects()
    [(_, namespace, [p])] = pod_commands(TODAYS_PROBE)
    assert admitted(spec, objects, namespace, p) == (
        'Error from server (Forbidden): pods "probe" is forbidden: violates PodSecurity '
        '"restricted:latest": allowPrivilegeEscalation != false (container "probe" must set '
        'securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container '
        '"probe" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod '
        'or container "probe" must set securityContext.runAsNonRoot=true), seccompProfile (pod '
        'or container "probe" must set securityContext.seccompProfile.type to "RuntimeDefault" '
        'or "Localhost")')
    compliant = {"spec": {"securityContext": {"runAsNonRoot": True,
                                              "seccompProfile": {"type": "RuntimeDefault"}},
                          "containers": [{"name": "probe", "securityContext": {
                              "allowPrivilegeEscalation": False,
                              "capabilities": {"drop": ["ALL"]}}}]}}
    strategic = TODAYS_PROBE.replace(
        "--restart=Never", f"--restart=Never --override-type=strategic "
                           f"--overrides='{json.dumps(compliant)}'")
    [(_, _, [p])] = pod_commands(strategic)
    assert admitted(spec, objects, "tenant-c", p) == (
        "container has runAsNonRoot and image has non-numeric user (curl_user), cannot verify "
        "user is non-root")
    merged = strategic.replace(" --override-type=strategic", "")
    [(_, _, [p])] = pod_commands(merged)
    with pytest.raises(AssertionError, match="without an image"):
        admitted(spec, objects, "tenant-c", p)
