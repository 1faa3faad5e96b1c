"""Pod admission semantics (kube/pod_resources.py, kube/limitrange.py, kube/resourcequota.py)
checked against Kubernetes' own test tables.

Every case names the upstream test file and the test (and case) it comes from; the pods and
objects are rebuilt here from those tables. Upstream often only checks that an error occurs;
where a case here checks the exact message, the text follows the format strings in the code
under test upstream. The last section covers gpu-lab's own traps.
"""

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from kube.limitrange import (ANNOTATION, admit_pod, default_limit_range_item, default_pod,
                             default_requirements, forbidden_message, merge_defaults,
                             validate_limits)
from kube.pod_resources import Quantity, pod_limits, pod_requests
from kube.resourcequota import (admit, admit_copies, charge, constraints, matching_scopes,
                                pod_usage, quota_matches)

GPU = "nvidia.com/gpu"


# -- builders, after the helpers of the upstream tests --------------------------------------

def compute(cpu="", memory=""):
    """getComputeResourceList."""
    return {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}


def storage(amount=""):
    """getLocalStorageResourceList."""
    return {"ephemeral-storage": amount} if amount else {}


def needs(requests=None, limits=None):
    """getResourceRequirements, leaving out empty lists."""
    return {k: dict(v) for k, v in (("requests", requests), ("limits", limits)) if v}


def valid_pod(name, count, resources):
    """validPod (limitranger): `count` containers foo-0.. sharing these requirements."""
    containers = [{"name": f"foo-{i}", "image": f"foo:V{i}", "resources": _copy(resources)}
                  for i in range(count)]
    return {"metadata": {"name": name, "namespace": "test"}, "spec": {"containers": containers}}


def with_init(pod, *resources):
    """validPodInit: init containers foo-0.. with these requirements."""
    inits = pod["spec"].setdefault("initContainers", [])
    inits += [{"name": f"foo-{i}", "image": f"foo:V{i}", "resources": _copy(r)}
              for i, r in enumerate(resources)]
    return pod


def with_sidecar(requests, limits, pod):
    """withRestartableInitContainer."""
    inits = pod["spec"].setdefault("initContainers", [])
    inits.append({"name": f"foo-{len(inits)}", "restartPolicy": "Always",
                  "resources": needs(requests, limits)})
    return pod


def _copy(resources):
    return {k: dict(v) for k, v in resources.items()}


def limit_range(kind, min=None, max=None, default=None, default_request=None, ratio=None):
    """createLimitRange: one item, converted without defaulting as the upstream test does."""
    item = {"type": kind}
    for field, values in (("min", min), ("max", max), ("default", default),
                          ("defaultRequest", default_request), ("maxLimitRequestRatio", ratio)):
        if values:
            item[field] = values
    return {"kind": "LimitRange", "metadata": {"name": "abc", "namespace": "test"},
            "spec": {"limits": [item]}}


def valid_limit_range():
    """validLimitRange."""
    return {"kind": "LimitRange", "metadata": {"name": "abc", "namespace": "test"},
            "spec": {"limits": [
                {"type": "Pod", "max": compute("200m", "4Gi"), "min": compute("50m", "2Mi")},
                {"type": "Container", "max": compute("100m", "2Gi"),
                 "min": compute("25m", "1Mi"), "default": compute("75m", "10Mi"),
                 "defaultRequest": compute("50m", "5Mi")}]}}


def strings(resources):
    return {name: amount.canonical() for name, amount in resources.items()}


def spec_pod(containers=(), init=(), overhead=None, **spec):
    """A pod from lists of container resource requirements (nameless, as upstream)."""
    body = {"containers": [{"resources": r} for r in containers], **spec}
    if init:
        body["initContainers"] = [{"resources": r} for r in init]
    if overhead:
        body["overhead"] = overhead
    return {"metadata": {"name": "p"}, "spec": body}


# -- pkg/apis/core/v1/defaults_test.go ------------------------------------------------------

def test_set_default_limit_range_item():
    """pkg/apis/core/v1/defaults_test.go TestSetDefaultLimitRangeItem: max becomes the default
    limit, that becomes the default request, and min the default request of what is still
    missing."""
    item = default_limit_range_item({"type": "Container", "max": {"cpu": "100m"},
                                     "min": {"memory": "100Mi"},
                                     "default": {}, "defaultRequest": {}})
    assert item["default"] == {"cpu": "100m"}
    assert item["defaultRequest"] == {"cpu": "100m", "memory": "100Mi"}


def test_set_default_requests_pod_from_limits():
    """pkg/apis/core/v1/defaults_test.go TestSetDefaultRequestsPod (limits specified): requests
    default to limits, a request of 0 is kept; init containers likewise."""
    resources = needs(compute(memory="0"), compute("100m", "1Gi"))
    pod = default_pod(with_init(valid_pod("p", 1, resources), resources))
    for container in pod["spec"]["containers"] + pod["spec"]["initContainers"]:
        assert container["resources"]["requests"] == {"cpu": "100m", "memory": "0"}


def test_set_default_requests_pod_without_limits():
    """pkg/apis/core/v1/defaults_test.go TestSetDefaultRequestsPod (no limits): nothing is
    defaulted."""
    pod = default_pod({"spec": {"containers": [{}], "initContainers": [{}]}})
    assert pod["spec"] == {"containers": [{}], "initContainers": [{}]}


def test_set_minimum_scale_pod():
    """pkg/apis/core/v1/defaults_test.go TestSetMinimumScalePod: quantities round up to
    milli-units."""
    resources = needs(compute(memory="1n"), compute(cpu="2n"))
    pod = default_pod(with_init(valid_pod("p", 1, resources), resources))
    for container in pod["spec"]["containers"] + pod["spec"]["initContainers"]:
        assert container["resources"]["requests"] == {"memory": "1m", "cpu": "1m"}


def test_default_request_is_not_set_for_a_pod_template():
    """pkg/apis/core/v1/defaults_test.go TestDefaultRequestIsNotSetForReplicationController:
    only pods get requests from limits; a template's spec read as is asks for nothing."""
    template_spec = {"containers": [{"resources": {"limits": {"cpu": "100m"}}}]}
    assert pod_requests(template_spec, api_defaulting=False) == {}
    assert strings(pod_requests(template_spec)) == {"cpu": "100m"}   # once it is a pod


# -- plugin/pkg/admission/limitranger/admission_test.go -------------------------------------

def test_default_container_resource_requirements():
    """plugin/pkg/admission/limitranger/admission_test.go
    TestDefaultContainerResourceRequirements."""
    limits, requests = default_requirements(valid_limit_range())
    assert requests == compute("50m", "5Mi")
    assert limits == compute("75m", "10Mi")


def test_merge_pod_resource_requirements_empty():
    """plugin/pkg/admission/limitranger/admission_test.go TestMergePodResourceRequirements,
    "empty-resources"."""
    pod = merge_defaults(valid_pod("empty-resources", 1, {}), valid_limit_range())
    assert pod["spec"]["containers"][0]["resources"] == needs(compute("50m", "5Mi"),
                                                              compute("75m", "10Mi"))
    assert pod["metadata"]["annotations"][ANNOTATION] == (
        "LimitRanger plugin set: cpu, memory request for container foo-0; cpu, memory limit "
        "for container foo-0")


def test_merge_pod_resource_requirements_partial():
    """plugin/pkg/admission/limitranger/admission_test.go TestMergePodResourceRequirements,
    "limit-memory": only what is missing is merged, in containers and init containers.
    Upstream's expected annotation leaves out the init container only because its test pod
    shares one Go map between both containers; in a pod decoded from JSON each container gets
    its own note."""
    resources = needs(compute(memory="512Mi"))
    pod = merge_defaults(with_init(valid_pod("limit-memory", 1, resources), resources),
                         valid_limit_range())
    expected = needs(compute("50m", "512Mi"), compute("75m", "10Mi"))
    assert pod["spec"]["containers"][0]["resources"] == expected
    assert pod["spec"]["initContainers"][0]["resources"] == expected
    assert pod["metadata"]["annotations"][ANNOTATION] == (
        "LimitRanger plugin set: cpu request for container foo-0; cpu, memory limit for "
        "container foo-0; cpu request for init container foo-0; cpu, memory limit for init "
        "container foo-0")


def test_merge_pod_resource_requirements_complete():
    """plugin/pkg/admission/limitranger/admission_test.go TestMergePodResourceRequirements, all
    enumerated: nothing is merged and there is no annotation."""
    resources = needs(compute("100m", "512Mi"), compute("200m", "1G"))
    init = needs(compute("200m", "1G"), compute("400m", "2G"))
    pod = with_init(valid_pod("limit-memory", 1, resources), init)
    merged = merge_defaults(pod, valid_limit_range())
    assert merged["spec"] == pod["spec"]
    assert "annotations" not in merged["metadata"]


def test_pod_limit_func_apply_default():
    """plugin/pkg/admission/limitranger/admission_test.go TestPodLimitFuncApplyDefault."""
    pod = merge_defaults(with_init(valid_pod("foo", 1, {}), {}), valid_limit_range())
    for container in pod["spec"]["containers"] + pod["spec"]["initContainers"]:
        assert container["resources"] == {"requests": {"cpu": "50m", "memory": "5Mi"},
                                          "limits": {"cpu": "75m", "memory": "10Mi"}}


C, P = "Container", "Pod"

LIMIT_FUNC_SUCCESS = [
    (valid_pod("ctr-min-cpu-request", 1, needs(compute("100m"))),
     limit_range(C, min=compute("50m"))),
    (valid_pod("ctr-min-cpu-request-limit", 1, needs(compute("100m"), compute("200m"))),
     limit_range(C, min=compute("50m"))),
    (valid_pod("ctr-min-memory-request", 1, needs(compute(memory="60Mi"))),
     limit_range(C, min=compute(memory="50Mi"))),
    (valid_pod("ctr-max-cpu-request-limit", 1, needs(compute("500m"), compute("1"))),
     limit_range(C, max=compute("2"))),
    (valid_pod("ctr-max-cpu-limit", 1, needs(limits=compute("1"))),
     limit_range(C, max=compute("2"))),
    (valid_pod("ctr-max-mem-request-limit", 1,
               needs(compute(memory="250Mi"), compute(memory="500Mi"))),
     limit_range(C, max=compute(memory="1Gi"))),
    (valid_pod("ctr-max-cpu-ratio", 1, needs(compute("500m"), compute("750m"))),
     limit_range(C, ratio=compute("1.5"))),
    (valid_pod("pod-min-cpu-request", 2, needs(compute("75m"))),
     limit_range(P, min=compute("100m"))),
    (valid_pod("pod-min-memory-request-limit", 2,
               needs(compute(memory="60Mi"), compute(memory="100Mi"))),
     limit_range(P, min=compute(memory="100Mi"))),
    (with_init(valid_pod("pod-init-min-memory-request", 2, needs(compute(memory="60Mi"))),
               needs(compute(memory="100Mi"))),
     limit_range(P, min=compute(memory="100Mi"))),
    (valid_pod("pod-max-cpu-request-limit", 2, needs(compute("500m"), compute("1"))),
     limit_range(P, max=compute("2"))),
    (with_init(valid_pod("pod-init-max-cpu-request-limit", 2,
                         needs(compute("500m"), compute("1"))),
               needs(compute("1"), compute("2")), needs(compute("1"), compute("1"))),
     limit_range(P, max=compute("2"))),
    (with_init(valid_pod("pod-init-max-cpu-limit", 2, needs(limits=compute("1"))),
               needs(limits=compute("2")), needs(limits=compute("2"))),
     limit_range(P, max=compute("2"))),
    (valid_pod("pod-max-mem-ratio", 3, needs(compute(memory="300Mi"), compute(memory="450Mi"))),
     limit_range(P, max=compute(memory="2Gi"), ratio=compute(memory="1.5"))),
    (valid_pod("ctr-1-min-local-ephemeral-storage-request", 1, needs(storage("60Mi"))),
     limit_range(C, min=storage("50Mi"))),
    (valid_pod("ctr-2-max-local-ephemeral-storage-limit", 2, needs(limits=storage("500Mi"))),
     limit_range(C, max=storage("600Mi"))),
    (valid_pod("pod-max-local-ephemeral-storage-ratio", 3,
               needs(storage("300Mi"), storage("450Mi"))),
     limit_range(P, max=storage("2Gi"), ratio=storage("1.5"))),
]


@pytest.mark.parametrize("pod, limits", LIMIT_FUNC_SUCCESS,
                         ids=[p["metadata"]["name"] for p, _ in LIMIT_FUNC_SUCCESS])
def test_pod_limit_func_success(pod, limits):
    """plugin/pkg/admission/limitranger/admission_test.go TestPodLimitFunc, successCases (by pod
    name): PodMutateLimitFunc then PodValidateLimitFunc admit the pod."""
    assert validate_limits(limits, merge_defaults(pod, limits)) == []


LIMIT_FUNC_ERRORS = [
    (valid_pod("ctr-min-cpu-request", 1, needs(compute("40m"))),
     limit_range(C, min=compute("50m")),
     "minimum cpu usage per Container is 50m, but request is 40m"),
    (valid_pod("ctr-min-cpu-no-request-limit", 1, {}), limit_range(C, min=compute("50m")),
     "minimum cpu usage per Container is 50m.  No request is specified"),
    (valid_pod("ctr-min-memory-request-limit", 1,
               needs(compute(memory="40Mi"), compute(memory="100Mi"))),
     limit_range(C, min=compute(memory="50Mi")),
     "minimum memory usage per Container is 50Mi, but request is 40Mi"),
    (valid_pod("ctr-max-cpu-request-limit", 1, needs(compute("500m"), compute("2500m"))),
     limit_range(C, max=compute("2")),
     "maximum cpu usage per Container is 2, but limit is 2500m"),
    (valid_pod("ctr-max-cpu-no-request-limit", 1, {}), limit_range(C, max=compute("2")),
     "maximum cpu usage per Container is 2.  No limit is specified"),
    (valid_pod("ctr-max-cpu-ratio", 1, needs(compute("1250m"), compute("2500m"))),
     limit_range(C, ratio=compute("1")),
     "cpu max limit to request ratio per Container is 1, but provided ratio is 2.000000"),
    (valid_pod("ctr-max-mem-limit", 1, needs(limits=compute(memory="2Gi"))),
     limit_range(C, max=compute(memory="1Gi")),
     "maximum memory usage per Container is 1Gi, but limit is 2Gi"),
    (valid_pod("pod-min-cpu-request", 1, needs(compute("75m"))),
     limit_range(P, min=compute("100m")),
     "minimum cpu usage per Pod is 100m, but request is 75m"),
    (valid_pod("pod-min-memory-request-limit", 1,
               needs(compute(memory="60Mi"), compute(memory="100Mi"))),
     limit_range(P, min=compute(memory="100Mi")),
     "minimum memory usage per Pod is 100Mi, but request is 60Mi"),
    (valid_pod("pod-max-cpu-request-limit", 3, needs(compute("500m"), compute("1"))),
     limit_range(P, max=compute("2")),
     "maximum cpu usage per Pod is 2, but limit is 3"),
    (valid_pod("pod-max-mem-request-limit", 3,
               needs(compute(memory="250Mi"), compute(memory="500Mi"))),
     limit_range(P, max=compute(memory="1Gi")),
     "maximum memory usage per Pod is 1Gi, but limit is 1500Mi"),
    (with_init(valid_pod("pod-init-max-mem-limit", 1, needs(limits=compute(memory="500Mi"))),
               needs(limits=compute(memory="1.5Gi"))),
     limit_range(P, max=compute(memory="1Gi")),
     "maximum memory usage per Pod is 1Gi, but limit is 1536Mi"),
    (valid_pod("pod-max-mem-ratio", 3, needs(compute(memory="250Mi"), compute(memory="500Mi"))),
     limit_range(P, max=compute(memory="2Gi"), ratio=compute(memory="1.5")),
     "memory max limit to request ratio per Pod is 1500m, but provided ratio is 2.000000"),
    (valid_pod("ctr-1-min-local-ephemeral-storage-no-request-limit", 1, {}),
     limit_range(C, min=storage("50Mi")),
     "minimum ephemeral-storage usage per Container is 50Mi.  No request is specified"),
    (valid_pod("ctr-2-max-local-ephemeral-storage-limit", 2, needs(limits=storage("2Gi"))),
     limit_range(C, max=storage("1Gi")),
     "maximum ephemeral-storage usage per Container is 1Gi, but limit is 2Gi"),
    (with_init(valid_pod("pod-init-max-local-ephemeral-storage-limit", 1,
                         needs(limits=storage("500Mi"))), needs(limits=storage("1.5Gi"))),
     limit_range(P, max=storage("1Gi")),
     "maximum ephemeral-storage usage per Pod is 1Gi, but limit is 1536Mi"),
    (valid_pod("pod-max-local-ephemeral-storage-ratio", 3,
               needs(storage("250Mi"), storage("500Mi"))),
     limit_range(P, max=storage("2Gi"), ratio=storage("1.5")),
     "ephemeral-storage max limit to request ratio per Pod is 1500m, but provided ratio is "
     "2.000000"),
    (with_sidecar(compute("1500m"), {},
                  valid_pod("ctr-max-cpu-limit-restartable-init-container", 1,
                            needs(compute("1000m"), compute("1500m")))),
     limit_range(P, max=compute("2")),
     "maximum cpu usage per Pod is 2, but request is 2500m"),
]


@pytest.mark.parametrize("pod, limits, message", LIMIT_FUNC_ERRORS,
                         ids=[p["metadata"]["name"] for p, _, _ in LIMIT_FUNC_ERRORS])
def test_pod_limit_func_errors(pod, limits, message):
    """plugin/pkg/admission/limitranger/admission_test.go TestPodLimitFunc, errorCases (by pod
    name): upstream expects an error; the message is the one the LimitRanger's format strings
    give. Two containers breaking the same limit give one message, as the aggregate drops
    duplicates."""
    errors = validate_limits(limits, merge_defaults(pod, limits))
    assert message in errors
    name = pod["metadata"]["name"]
    assert forbidden_message(name, errors) == f'pods "{name}" is forbidden: {message}'


def test_pod_limit_func_case_admitted_once_the_limit_range_is_stored():
    """plugin/pkg/admission/limitranger/admission_test.go TestPodLimitFunc, errorCases
    "ctr-max-cpu-no-request- limit": rejected when the LimitRange is used as written, as the
    unit test does; but the API server stores a LimitRange defaulted
    (SetDefaults_LimitRangeItem), so max cpu 2 becomes the container's default limit and request
    and the pod is admitted."""
    pod = valid_pod("ctr-max-cpu-no-request-limit", 1, {})
    admitted, errors = admit_pod(pod, [limit_range(C, max=compute("2"))])
    assert errors == []
    assert admitted["spec"]["containers"][0]["resources"] == needs(compute("2"), compute("2"))


# -- pkg/quota/v1/evaluator/core/pods_test.go -----------------------------------------------

NOW = datetime(2025, 1, 1, tzinfo=timezone.utc)


def deleting(seconds_ago, grace=30):
    stamp = (NOW - timedelta(seconds=seconds_ago)).isoformat().replace("+00:00", "Z")
    return {"name": "p", "deletionTimestamp": stamp, "deletionGracePeriodSeconds": grace}


DONGLE = "example.com/dongle"
USAGE = [
    ("init container CPU", spec_pod(init=[needs(compute("1m"), compute("2m"))]),
     {"requests.cpu": "1m", "limits.cpu": "2m", "pods": "1", "cpu": "1m", "count/pods": "1"}),
    ("init container MEM", spec_pod(init=[needs(compute(memory="1m"), compute(memory="2m"))]),
     {"requests.memory": "1m", "limits.memory": "2m", "pods": "1", "memory": "1m",
      "count/pods": "1"}),
    ("init container local ephemeral storage",
     spec_pod(init=[needs(storage("32Mi"), storage("64Mi"))]),
     {"ephemeral-storage": "32Mi", "requests.ephemeral-storage": "32Mi",
      "limits.ephemeral-storage": "64Mi", "pods": "1", "count/pods": "1"}),
    ("init container hugepages", spec_pod(init=[needs({"hugepages-2Mi": "100Mi"})]),
     {"hugepages-2Mi": "100Mi", "requests.hugepages-2Mi": "100Mi", "pods": "1",
      "count/pods": "1"}),
    ("init container extended resources", spec_pod(init=[needs({DONGLE: "3"}, {DONGLE: "3"})]),
     {"requests.example.com/dongle": "3", "pods": "1", "count/pods": "1"}),
    ("container CPU", spec_pod([needs(compute("1m"), compute("2m"))]),
     {"requests.cpu": "1m", "limits.cpu": "2m", "pods": "1", "cpu": "1m", "count/pods": "1"}),
    ("container hugepages", spec_pod([needs({"hugepages-2Mi": "100Mi"})]),
     {"hugepages-2Mi": "100Mi", "requests.hugepages-2Mi": "100Mi", "pods": "1",
      "count/pods": "1"}),
    ("container extended resources", spec_pod([needs({DONGLE: "3"}, {DONGLE: "3"})]),
     {"requests.example.com/dongle": "3", "pods": "1", "count/pods": "1"}),
    ("terminated generic count still appears",
     {**spec_pod([needs({DONGLE: "3"}, {DONGLE: "3"})]), "status": {"phase": "Succeeded"}},
     {"count/pods": "1"}),
    ("init container maximums override sum of containers",
     spec_pod([needs({"cpu": "1", "memory": "50M", DONGLE: "1"},
                     {"cpu": "2", "memory": "100M", DONGLE: "1"}),
               needs({"cpu": "2", "memory": "25M", DONGLE: "2"},
                     {"cpu": "5", "memory": "50M", DONGLE: "2"})],
              init=[needs({"cpu": "4", "memory": "100M", DONGLE: "4"},
                          {"cpu": "8", "memory": "200M", DONGLE: "4"}),
                    needs({"cpu": "1", "memory": "50M", DONGLE: "2"},
                          {"cpu": "2", "memory": "100M", DONGLE: "2"})]),
     {"requests.cpu": "4", "requests.memory": "100M", "limits.cpu": "8",
      "limits.memory": "200M", "pods": "1", "cpu": "4", "memory": "100M",
      "requests.example.com/dongle": "4", "count/pods": "1"}),
    ("pod deletion timestamp exceeded",
     {**spec_pod([needs(compute("1", "50M"), compute("2", "100M"))]),
      "metadata": deleting(60), "status": {"reason": "NodeLost"}},
     {"count/pods": "1"}),
    ("pod deletion timestamp not exceeded",
     {**spec_pod([needs(compute("1"), compute("2"))]), "metadata": deleting(0),
      "status": {"reason": "NodeLost"}},
     {"requests.cpu": "1", "limits.cpu": "2", "pods": "1", "cpu": "1", "count/pods": "1"}),
    ("count pod overhead as usage",
     spec_pod([needs(compute("1"), compute("2"))], overhead=compute("1")),
     {"requests.cpu": "2", "limits.cpu": "3", "pods": "1", "cpu": "2", "count/pods": "1"}),
    ("pod-level CPU", spec_pod(resources=needs(compute("1m"), compute("2m"))),
     {"requests.cpu": "1m", "limits.cpu": "2m", "pods": "1", "cpu": "1m", "count/pods": "1"}),
    ("pod-level memory with container-level ephemeral storage",
     spec_pod([needs(storage("32Mi"), storage("64Mi"))],
              resources=needs(compute(memory="1Mi"), compute(memory="2Mi"))),
     {"ephemeral-storage": "32Mi", "requests.ephemeral-storage": "32Mi",
      "limits.ephemeral-storage": "64Mi", "pods": "1", "requests.memory": "1Mi",
      "limits.memory": "2Mi", "memory": "1Mi", "count/pods": "1"}),
]


@pytest.mark.parametrize("pod, expected", [(p, e) for _, p, e in USAGE],
                         ids=[n for n, _, _ in USAGE])
def test_pod_evaluator_usage(pod, expected):
    """pkg/quota/v1/evaluator/core/pods_test.go TestPodEvaluatorUsage (by case name): what a pod
    is charged; extended resources only as requests.<name>; a terminal pod only count/pods."""
    usage = pod_usage(pod, now=NOW, api_defaulting=False)
    assert usage == {k: Quantity.parse(v) for k, v in expected.items()}


ALL_SCOPES = [{"scopeName": "Terminating"}, {"scopeName": "NotTerminating"},
              {"scopeName": "BestEffort"}, {"scopeName": "NotBestEffort"},
              {"scopeName": "PriorityClass", "operator": "In", "values": ["class1"]},
              {"scopeName": "CrossNamespacePodAffinity"}]
DEADLINE = {"activeDeadlineSeconds": 30}
AFFINITY_TERM = {"labelSelector": {}, "namespaces": ["ns1"], "namespaceSelector": {}}
SCOPES = [
    ("EmptyPod", {}, None, ["NotTerminating", "BestEffort"]),
    ("PriorityClass", {"priorityClassName": "class1"}, None,
     ["NotTerminating", "BestEffort", "PriorityClass"]),
    ("NotBestEffort",
     {"containers": [{"resources": needs({"cpu": "1", "memory": "50M", DONGLE: "1"},
                                          {"cpu": "2", "memory": "100M", DONGLE: "1"})}]},
     None, ["NotTerminating", "NotBestEffort"]),
    ("Terminating", DEADLINE, None, ["Terminating", "BestEffort"]),
    ("OnlyTerminating", DEADLINE, [{"scopeName": "Terminating"}], ["Terminating"]),
    ("CrossNamespaceRequiredAffinity",
     {**DEADLINE, "affinity": {"podAffinity": {
         "requiredDuringSchedulingIgnoredDuringExecution": [AFFINITY_TERM]}}},
     None, ["Terminating", "BestEffort", "CrossNamespacePodAffinity"]),
    ("CrossNamespacePreferredAntiAffinity",
     {**DEADLINE, "affinity": {"podAntiAffinity": {
         "preferredDuringSchedulingIgnoredDuringExecution": [
             {"podAffinityTerm": {"labelSelector": {}, "namespaceSelector": {}}}]}}},
     None, ["Terminating", "BestEffort", "CrossNamespacePodAffinity"]),
]


@pytest.mark.parametrize("spec, selectors, wanted", [(s, sel, w) for _, s, sel, w in SCOPES],
                         ids=[n for n, _, _, _ in SCOPES])
def test_pod_evaluator_matching_scopes(spec, selectors, wanted):
    """pkg/quota/v1/evaluator/core/pods_test.go TestPodEvaluatorMatchingScopes (by case name).
    """
    matched = matching_scopes({"spec": spec}, selectors or ALL_SCOPES)
    assert [s["scopeName"] for s in matched] == wanted


def named(field, *names, resources=None):
    """A pod whose containers (or init containers) have these names."""
    return {"spec": {field: [{"name": n, "resources": resources or {}} for n in names]}}


CPU_ONLY = needs(compute("1m"), compute("2m"))
CONSTRAINTS = [
    ("init container resource missing",
     named("initContainers", "dummy", resources=CPU_ONLY), ["memory"],
     "must specify memory for: dummy"),
    ("multiple init container resource missing",
     named("initContainers", "foo", "bar", resources=CPU_ONLY), ["memory"],
     "must specify memory for: bar,foo"),
    ("container resource missing", named("containers", "dummy", resources=CPU_ONLY),
     ["memory"], "must specify memory for: dummy"),
    ("multiple container resource missing",
     named("containers", "foo", "bar", resources=CPU_ONLY), ["memory"],
     "must specify memory for: bar,foo"),
    ("container resource missing multiple", named("containers", "foo", "bar"),
     ["memory", "cpu"], "must specify cpu for: bar,foo; memory for: bar,foo"),
    ("pod-level resource set, container-level required resources missing",
     {"spec": {**named("containers", "foo", "bar")["spec"],
               "resources": needs(compute("1m"))}}, ["memory", "cpu"], None),
]


@pytest.mark.parametrize("pod, required, message", [c[1:] for c in CONSTRAINTS],
                         ids=[c[0] for c in CONSTRAINTS])
def test_pod_constraints_func(pod, required, message):
    """pkg/quota/v1/evaluator/core/pods_test.go TestPodConstraintsFunc (by case name): with a
    cpu or memory quota every container must name the resource; not so when pod-level resources
    are set."""
    assert constraints(required, pod) == message


# -- staging/src/k8s.io/component-helpers/resource/helpers_test.go --------------------------

def cpu(amount):
    return {"requests": {"cpu": amount}}


def sidecar(amount):
    return {"restartPolicy": "Always", "resources": cpu(amount)}


REQUESTS = [
    ("nil options, larger init container", [cpu("1")], [cpu("4")], None, False, {"cpu": "4"}),
    ("nil options, larger containers", [cpu("2"), cpu("3")], [cpu("2")], None, False,
     {"cpu": "5"}),
    ("pod overhead excluded", [cpu("2"), cpu("3")], [cpu("2")], {"cpu": "1"}, True,
     {"cpu": "5"}),
    ("pod overhead included", [cpu("2"), cpu("3")], [needs(compute("2"), compute("2"))],
     {"cpu": "1", "memory": "1Gi"}, False, {"cpu": "6", "memory": "1Gi"}),
    ("restartable init container", [cpu("1")], [sidecar("1")], None, False, {"cpu": "2"}),
    ("multiple restartable init containers", [cpu("1")],
     [cpu("5"), sidecar("1"), sidecar("2"), sidecar("3")], None, False, {"cpu": "7"}),
    ("multiple restartable and regular init containers", [cpu("1")],
     [cpu("5"), sidecar("1"), sidecar("2"), cpu("5"), sidecar("3")], None, False,
     {"cpu": "8"}),
    ("restartable-init, init and regular", [cpu("100")], [sidecar("10"), cpu("200")], None,
     False, {"cpu": "210"}),
]


def _container(entry):
    return entry if "restartPolicy" in entry else {"resources": entry}


@pytest.mark.parametrize("containers, init, overhead, exclude, expected",
                         [r[1:] for r in REQUESTS], ids=[r[0] for r in REQUESTS])
def test_pod_resource_requests(containers, init, overhead, exclude, expected):
    """staging/src/k8s.io/component-helpers/resource/helpers_test.go TestPodResourceRequests (by
    description): init containers as the largest, sidecars added to the sum and to every later
    init container, overhead added."""
    spec = {"containers": [_container(c) for c in containers],
            "initContainers": [_container(c) for c in init]}
    if overhead:
        spec["overhead"] = overhead
    requests = pod_requests(spec, exclude_overhead=exclude, api_defaulting=False)
    assert requests == {k: Quantity.parse(v) for k, v in expected.items()}


REQUESTS_AND_LIMITS = [
    ("just-limit-no-overhead", needs(limits=compute("9")), None, {}, {"cpu": "9"}),
    ("just-overhead", {}, compute("5", "5"), {"cpu": "5", "memory": "5"}, {}),
    ("req-and-overhead", needs(compute("1", "10")), compute("5", "5"),
     {"cpu": "6", "memory": "15"}, {}),
    ("all-req-lim-and-overhead", needs(compute("1", "10"), compute("2", "12")),
     compute("5", "5"), {"cpu": "6", "memory": "15"}, {"cpu": "7", "memory": "17"}),
    ("req-some-lim-and-overhead", needs(compute("1", "10"), compute("2")), compute("5", "5"),
     {"cpu": "6", "memory": "15"}, {"cpu": "7"}),
]


@pytest.mark.parametrize("resources, overhead, requests, limits",
                         [r[1:] for r in REQUESTS_AND_LIMITS],
                         ids=[r[0] for r in REQUESTS_AND_LIMITS])
def test_pod_requests_and_limits(resources, overhead, requests, limits):
    """staging/src/k8s.io/component-helpers/resource/helpers_test.go TestPodRequestsAndLimits
    (by cName): a limit alone asks for nothing in PodRequests (requests come from limits only
    through API defaulting); overhead is added to requests, and only to limits that are set."""
    spec = spec_pod([resources], overhead=overhead)["spec"]
    assert pod_requests(spec, api_defaulting=False) == {
        k: Quantity.parse(v) for k, v in requests.items()}
    assert pod_limits(spec, api_defaulting=False) == {
        k: Quantity.parse(v) for k, v in limits.items()}


def test_pod_resource_limits_one_unlimited_container():
    """staging/src/k8s.io/component-helpers/resource/helpers_test.go TestPodResourceLimits, "one
    limited and one unlimited container should result in the limited container's limits for the
    pod"."""
    spec = spec_pod([needs(limits=compute("2", "2Gi")), {}])["spec"]
    assert strings(pod_limits(spec)) == {"cpu": "2", "memory": "2Gi"}


# -- plugin/pkg/admission/resourcequota/admission_test.go -----------------------------------

def quota(name="quota", hard=None, used=None, scopes=None, selector=None):
    """A ResourceQuota with its status as the quota controller writes it."""
    spec = {}
    if scopes:
        spec["scopes"] = scopes
    if selector:
        spec["scopeSelector"] = {"matchExpressions": selector}
    return {"kind": "ResourceQuota", "metadata": {"name": name, "namespace": "test"},
            "spec": spec, "status": {"hard": hard or {}, "used": used or {}}}


def rq_pod(name, requests=None, limits=None, **spec):
    """validPod (resourcequota): one nameless container."""
    return {"metadata": {"name": name, "namespace": "test"},
            "spec": {"containers": [{"image": "foo:V0", "resources": needs(requests, limits)}],
                     **spec}}


COMPUTE_QUOTA = dict(hard={"cpu": "3", "memory": "100Gi", "pods": "5"},
                     used={"cpu": "1", "memory": "50Gi", "pods": "3"})


def test_admit_below_quota_limit():
    """plugin/pkg/admission/resourcequota/admission_test.go TestAdmitBelowQuotaLimit: admitted,
    and the quota's used becomes cpu 1100m, memory 52Gi, pods 4."""
    quotas = [quota(**COMPUTE_QUOTA)]
    pod = rq_pod("allowed-pod", compute("100m", "2Gi"))
    used = {}
    assert admit(pod, quotas, used) == (True, "")
    assert strings(used["quota"]) == {"cpu": "1100m", "memory": "52Gi", "pods": "4"}
    assert strings(charge({}, quotas[0], pod)["quota"]) == strings(used["quota"])


def test_admit_dry_run():
    """plugin/pkg/admission/resourcequota/admission_test.go TestAdmitDryRun: a dry run is
    checked, and rejected when too large, but not recorded."""
    quotas, used = [quota(**COMPUTE_QUOTA)], {}
    assert admit(rq_pod("allowed-pod", compute("100m", "2Gi")), quotas, used,
                 dry_run=True) == (True, "")
    assert used == {}
    allowed, _ = admit(rq_pod("too-large-pod", compute("100m", "60Gi")), quotas, used,
                       dry_run=True)
    assert not allowed


def test_admit_exceed_quota_limit():
    """plugin/pkg/admission/resourcequota/admission_test.go TestAdmitExceedQuotaLimit."""
    allowed, message = admit(rq_pod("not-allowed-pod", compute("3", "2Gi")),
                             [quota(**COMPUTE_QUOTA)])
    assert not allowed
    assert message == "exceeded quota: quota, requested: cpu=3, used: cpu=1, limited: cpu=3"


def test_admit_enforce_quota_constraints():
    """plugin/pkg/admission/resourcequota/admission_test.go TestAdmitEnforceQuotaConstraints: a
    quota on limits.memory rejects a pod whose container sets no memory limit."""
    limited = quota(hard={"cpu": "3", "memory": "100Gi", "limits.memory": "200Gi", "pods": "5"},
                    used={"cpu": "1", "memory": "50Gi", "limits.memory": "100Gi", "pods": "3"})
    pod = rq_pod("not-allowed-pod", compute("100m", "2Gi"), compute("200m"))
    assert admit(pod, [limited]) == (False,
                                     "failed quota: quota: must specify limits.memory for: ")


def test_admit_below_terminating_quota_limit():
    """plugin/pkg/admission/resourcequota/admission_test.go TestAdmitBelowTerminatingQuotaLimit:
    a pod with an active deadline is charged to the Terminating quota only."""
    quotas = [quota("quota-non-terminating", scopes=["NotTerminating"], **COMPUTE_QUOTA),
              quota("quota-terminating", scopes=["Terminating"], **COMPUTE_QUOTA)]
    pod = rq_pod("allowed-pod", compute("100m", "2Gi"), activeDeadlineSeconds=30)
    used = {}
    assert admit_copies(pod, quotas, used, 1) == (1, "")
    assert list(used) == ["quota-terminating"]
    assert strings(used["quota-terminating"]) == {"cpu": "1100m", "memory": "52Gi",
                                                  "pods": "4"}


def test_admit_below_best_effort_quota_limit():
    """plugin/pkg/admission/resourcequota/admission_test.go TestAdmitBelowBestEffortQuotaLimit.
    """
    quotas = [quota("quota-besteffort", {"pods": "5"}, {"pods": "3"}, scopes=["BestEffort"]),
              quota("quota-not-besteffort", {"pods": "5"}, {"pods": "3"},
                    scopes=["NotBestEffort"])]
    used = {}
    assert admit_copies(rq_pod("allowed-pod"), quotas, used, 1) == (1, "")
    assert {name: strings(u) for name, u in used.items()} == {"quota-besteffort": {"pods": "4"}}


def test_admit_best_effort_quota_limit_ignores_burstable():
    """plugin/pkg/admission/resourcequota/admission_test.go
    TestAdmitBestEffortQuotaLimitIgnoresBurstable."""
    best_effort = quota("quota-besteffort", {"pods": "5"}, {"pods": "3"}, scopes=["BestEffort"])
    pod = rq_pod("allowed-pod", compute("100m", "1Gi"))
    assert not quota_matches(best_effort, pod)
    used = {}
    assert admit_copies(pod, [best_effort], used, 1) == (1, "") and used == {}


def test_admit_when_unrelated_resource_exceeds_quota():
    """plugin/pkg/admission/resourcequota/admission_test.go
    TestAdmitWhenUnrelatedResourceExceedsQuota: services over their quota do not stop a pod."""
    over = quota(hard={"services": "3", "pods": "4"}, used={"services": "4", "pods": "1"})
    assert admit(rq_pod("allowed-pod"), [over]) == (True, "")


def test_admit_limited_scope_with_cover_quota_message():
    """plugin/pkg/admission/resourcequota/admission_test.go TestAdmitLimitedScopeWithCoverQuota,
    "quota fails, though covering quota for configured limited scope PriorityClassNameExists
    exists"."""
    covering = quota(hard={"memory": "10Gi"}, used={"memory": "1Gi"},
                     selector=[{"scopeName": "PriorityClass", "operator": "Exists"}])
    pod = rq_pod("not-allowed-pod", compute("3", "20Gi"), priorityClassName="fake-priority")
    allowed, message = admit(pod, [covering])
    assert not allowed
    assert forbidden_message("not-allowed-pod", [message]) == (
        'pods "not-allowed-pod" is forbidden: exceeded quota: quota, requested: memory=20Gi, '
        "used: memory=1Gi, limited: memory=10Gi")


# -- gpu-lab's traps ------------------------------------------------------------------------

def gpu_limit_range(**container_item):
    return {"kind": "LimitRange", "metadata": {"name": "defaults", "namespace": "t"},
            "spec": {"limits": [{"type": "Container", "max": {GPU: "2"}, **container_item},
                                {"type": "Pod", "max": {GPU: "2"}}]}}


def busybox(**spec):
    return {"metadata": {"name": "busybox"},
            "spec": {"containers": [{"name": "busybox", "image": "busybox"}], **spec}}


def gpu_quota(key="requests.nvidia.com/gpu", amount="1", **extra):
    return {"kind": "ResourceQuota", "metadata": {"name": "compute", "namespace": "t"},
            "spec": {"hard": {key: amount}, **extra}}


def test_gpu_max_without_default_gives_every_container_the_max():
    """A Container item with max nvidia.com/gpu 2 and no default: a busybox pod asks for two
    GPUs, and a GPU quota of 1 rejects it."""
    pod, errors = admit_pod(busybox(), [gpu_limit_range()])
    assert errors == []
    assert pod["spec"]["containers"][0]["resources"] == needs({GPU: "2"}, {GPU: "2"})
    assert pod["metadata"]["annotations"][ANNOTATION] == (
        "LimitRanger plugin set: nvidia.com/gpu request for container busybox; nvidia.com/gpu "
        "limit for container busybox")
    assert pod_requests(pod["spec"])[GPU] == 2
    assert admit(pod, [gpu_quota()]) == (
        False, "exceeded quota: compute, requested: requests.nvidia.com/gpu=2, used: "
               "requests.nvidia.com/gpu=0, limited: requests.nvidia.com/gpu=1")


def test_gpu_default_zero_keeps_cpu_pods_off_the_gpus():
    """The same LimitRange with default and defaultRequest nvidia.com/gpu 0: busybox asks for no
    GPU and the quota admits it without charging a GPU."""
    limits = gpu_limit_range(default={GPU: "0"}, defaultRequest={GPU: "0"})
    pod, errors = admit_pod(busybox(), [limits])
    assert errors == []
    assert pod["spec"]["containers"][0]["resources"] == needs({GPU: "0"}, {GPU: "0"})
    assert pod_requests(pod["spec"])[GPU] == 0
    used = {}
    assert admit_copies(pod, [gpu_quota()], used, 1) == (1, "")
    assert "requests.nvidia.com/gpu" not in used.get("compute", {})


def test_gpu_default_reaches_init_containers_and_sidecars():
    """Init containers get the default too; a sidecar's GPUs add to the app container's, so the
    Pod maximum rejects a pod that names no GPU at all."""
    spec = {"initContainers": [{"name": "log-shipper", "restartPolicy": "Always"}]}
    pod, errors = admit_pod(busybox(**spec), [gpu_limit_range()])
    assert pod["spec"]["initContainers"][0]["resources"] == needs({GPU: "2"}, {GPU: "2"})
    assert errors == ["maximum nvidia.com/gpu usage per Pod is 2, but limit is 4"]


def test_gpu_quota_keys_that_are_never_charged():
    """limits.nvidia.com/gpu and a bare nvidia.com/gpu are accepted but no pod is charged them:
    a quota holding only such a key covers no pod and admits any number of GPUs."""
    pod = rq_pod("greedy", {GPU: "8"}, {GPU: "8"})
    for key in ("limits.nvidia.com/gpu", "nvidia.com/gpu"):
        assert not quota_matches(gpu_quota(key, "1"), pod)
        used = {}
        assert admit_copies(pod, [gpu_quota(key, "1")], used, 4) == (4, "") and used == {}


def test_gpu_only_pod_is_best_effort():
    """Only cpu and memory decide QoS: a pod asking for nothing but GPUs is BestEffort, so a
    NotBestEffort-scoped GPU quota does not cover it."""
    pod = rq_pod("gpu-only", {GPU: "4"}, {GPU: "4"})
    assert matching_scopes(pod, [{"scopeName": "BestEffort"}])
    assert admit(pod, [gpu_quota(scopes=["NotBestEffort"])]) == (True, "")


def test_priority_class_not_in_covers_pods_without_a_class():
    """A PriorityClass NotIn quota matches a pod that names no priority class."""
    low_only = gpu_quota(scopeSelector={"matchExpressions": [
        {"scopeName": "PriorityClass", "operator": "NotIn", "values": ["production-high"]}]})
    assert quota_matches(low_only, rq_pod("plain", {GPU: "1"}, {GPU: "1"}))
    assert not quota_matches(low_only, rq_pod("high", {GPU: "1"}, {GPU: "1"},
                                              priorityClassName="production-high"))


def test_replica_set_third_replica_exceeds_the_quota():
    """Replicas are created one at a time, each charged before the next: with 2 GPUs of quota
    and one GPU per pod the third is rejected, the first two run."""
    used = {}
    created, message = admit_copies(rq_pod("infer", {GPU: "1"}, {GPU: "1"}),
                                    [gpu_quota(amount="2")], used, 3)
    assert created == 2
    assert message == ("exceeded quota: compute, requested: requests.nvidia.com/gpu=1, used: "
                       "requests.nvidia.com/gpu=2, limited: requests.nvidia.com/gpu=2")
    assert used["compute"]["requests.nvidia.com/gpu"] == Decimal(2)
