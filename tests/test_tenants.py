"""Tenants rendered from the dev stack (plus tenant-c), proven isolated by the symptom checks."""

import itertools

import pytest

from kube import Endpoint, ObjectSet, Subject, can_i, egress_allowed, ingress_allowed
from kube.quota import make_pod, pod_admitted, quota_admits
from kube.rbac import cluster_wide_grants
from model import ConfigError, load_spec
from tests.helpers import render_with

TENANTS = ["tenant-a", "tenant-b", "tenant-c"]
RESOURCES = ["pods", "jobs", "secrets"]
VERBS = ["list", "get", "create", "delete"]


@pytest.fixture(scope="module")
def three():
    """The dev stack with tenant-c added: one list entry."""
    rendering = render_with(**{"gpu-lab:tenants": [{"name": "tenant-a", "gpus": 1},
                                                   {"name": "tenant-b", "gpus": 1},
                                                   "tenant-c"],
                               "gpu-lab:gpuPools": [{"name": "t4", "maxNodes": 3,
                                                     "spot": True}]})
    return rendering


@pytest.fixture(scope="module")
def objects(three):
    return ObjectSet(three.kubernetes_objects())


def members(objects, tenant):
    """Everyone the tenant's bindings name: its groups and its service accounts."""
    subjects = []
    for binding in objects.of_kind("RoleBinding", tenant):
        for entry in binding["subjects"]:
            if entry["kind"] == "Group":
                subjects.append(Subject.group(entry["name"]))
            elif entry["kind"] == "ServiceAccount":
                subjects.append(Subject.service_account(entry["namespace"], entry["name"]))
    assert subjects, f"{tenant} has no members"
    return subjects


def developers(tenant):
    return Subject.group(f"{tenant}-developers@example.com")


def test_dev_stack_has_tenant_a_and_b_with_one_gpu_each(dev):
    objects = ObjectSet(dev.kubernetes_objects())
    tenant_namespaces = [n["metadata"]["name"] for n in objects.of_kind("Namespace")
                         if n["metadata"]["labels"].get("gpu-lab/tenant") == "true"]
    assert sorted(tenant_namespaces) == ["tenant-a", "tenant-b"]
    for tenant in ("tenant-a", "tenant-b"):
        quota = objects.get("ResourceQuota", "compute", tenant)
        assert quota["spec"]["hard"]["requests.nvidia.com/gpu"] == "1"
    assert dev.outputs["tenants"] == ["tenant-a", "tenant-b"]


@pytest.mark.parametrize("tenant", TENANTS)
@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize("verb", VERBS)
def test_members_work_in_their_own_namespace(objects, tenant, resource, verb):
    for group in ("developers", "admins"):
        subject = Subject.group(f"{tenant}-{group}@example.com")
        assert can_i(objects, subject, verb, resource, tenant), (subject, verb, resource)


@pytest.mark.parametrize("own,other", list(itertools.permutations(TENANTS, 2)))
def test_no_member_reaches_another_tenant(objects, own, other):
    for subject in members(objects, own):
        for resource, verb in itertools.product(RESOURCES, VERBS):
            answer = can_i(objects, subject, verb, resource, other)
            assert not answer, f"{subject} can {verb} {resource} in {other}: {answer.reason}"


def test_nothing_tenant_related_is_bound_cluster_wide(objects):
    assert cluster_wide_grants(objects) == []
    for tenant in TENANTS:
        for subject in members(objects, tenant):
            assert not can_i(objects, subject, "list", "pods"), subject
            assert not can_i(objects, subject, "list", "namespaces"), subject


def test_developers_cannot_change_quotas_limits_or_rbac(objects):
    for tenant in TENANTS:
        dev = developers(tenant)
        for resource in ("resourcequotas", "limitranges", "rolebindings", "roles",
                         "networkpolicies"):
            assert not can_i(objects, dev, "update", resource, tenant), resource
            assert not can_i(objects, dev, "delete", resource, tenant), resource
        assert can_i(objects, dev, "get", "resourcequotas", tenant)
        assert can_i(objects, dev, "get", "pods/log", tenant)
        assert can_i(objects, dev, "create", "pods/exec", tenant)
        admin = Subject.group(f"{tenant}-admins@example.com")
        assert can_i(objects, admin, "create", "rolebindings", tenant)
        assert not can_i(objects, admin, "update", "resourcequotas", tenant)


def test_job_submitter_creates_jobs_and_nothing_else(objects):
    for tenant in TENANTS:
        ci = Subject.service_account(tenant, "job-submitter")
        assert can_i(objects, ci, "create", "jobs", tenant)
        assert not can_i(objects, ci, "create", "pods", tenant)
        assert not can_i(objects, ci, "get", "secrets", tenant)
        workload = Subject.service_account(tenant, "workload")
        assert not can_i(objects, workload, "create", "jobs", tenant)


@pytest.mark.parametrize("tenant", TENANTS)
def test_quota_admits_within_the_gpu_allocation_and_rejects_above(objects, tenant):
    quota = objects.get("ResourceQuota", "compute", tenant)
    gpus = int(quota["spec"]["hard"]["requests.nvidia.com/gpu"])
    assert gpus >= 1
    assert quota_admits(objects, tenant, make_pod(gpus=gpus))
    above = quota_admits(objects, tenant, make_pod(gpus=gpus + 1))
    assert not above and "exceeded quota" in above.reason
    assert pod_admitted(objects, tenant, make_pod(gpus=1))


@pytest.mark.parametrize("tenant", TENANTS)
def test_default_deny_with_dns_internet_and_monitoring_holes(objects, tenant):
    deny = objects.get("NetworkPolicy", "default-deny", tenant)
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert egress_allowed(objects, tenant, Endpoint.dns())
    assert egress_allowed(objects, tenant, Endpoint.internet())
    assert not egress_allowed(objects, tenant, Endpoint(ip="10.10.0.2", port=10250))
    assert not egress_allowed(objects, tenant, Endpoint(ip="169.254.169.254", port=443))
    assert egress_allowed(objects, tenant, Endpoint(ip="169.254.169.252", port=988))
    assert ingress_allowed(objects, "monitoring", tenant, 8000)
    assert not ingress_allowed(objects, "monitoring", tenant, 5432)
    assert ingress_allowed(objects, tenant, tenant, 5432)


@pytest.mark.parametrize("own,other", list(itertools.permutations(TENANTS, 2)))
def test_tenants_cannot_talk_to_each_other(objects, own, other):
    assert not egress_allowed(objects, own, Endpoint(namespace=other, port=8000))
    assert not ingress_allowed(objects, own, other, 8000)


def test_namespace_labels_for_cost_and_pod_security(objects):
    labels = objects.get("Namespace", "tenant-c")["metadata"]["labels"]
    assert labels["tenant"] == "tenant-c"
    assert labels["team"] == "nlp-research"
    assert labels["cost-center"] == "cc-1003"
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"


def test_limit_range_defaults_and_gpu_maximum(objects):
    limits = objects.get("LimitRange", "defaults", "tenant-a")["spec"]["limits"]
    container = next(item for item in limits if item["type"] == "Container")
    # An explicit GPU default of 0: without it the API server would copy the max into
    # default and defaultRequest, and every container would ask for GPUs.
    assert container["defaultRequest"] == {"cpu": "250m", "memory": "512Mi",
                                           "nvidia.com/gpu": "0"}
    assert container["default"] == {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": "0"}
    assert container["max"] == {"nvidia.com/gpu": "1"}
    assert any(item["type"] == "Pod" and item["max"] == {"nvidia.com/gpu": "1"}
               for item in limits)


def test_priority_classes_are_created_once(three):
    classes = three.of_type("kubernetes:scheduling.k8s.io/v1:PriorityClass")
    by_name = {c.inputs["metadata"]["name"]: c.inputs for c in classes}
    assert sorted(by_name) == ["experiment-low", "production-high", "training-medium"]
    assert by_name["experiment-low"]["preemptionPolicy"] == "Never"
    assert by_name["production-high"]["preemptionPolicy"] == "PreemptLowerPriority"
    assert by_name["production-high"]["value"] > by_name["training-medium"]["value"] \
        > by_name["experiment-low"]["value"]
    assert not any(c.inputs.get("globalDefault") for c in classes)


def test_service_accounts_and_workload_identity():
    rendering = render_with(**{"gpu-lab:tenants": [
        {"name": "tenant-a", "gcpServiceAccount": "inference@proj.iam.gserviceaccount.com"},
        "tenant-b"]})
    objects = ObjectSet(rendering.kubernetes_objects())
    workload_a = objects.get("ServiceAccount", "workload", "tenant-a")
    assert workload_a["metadata"]["annotations"] == {
        "iam.gke.io/gcp-service-account": "inference@proj.iam.gserviceaccount.com"}
    assert workload_a["automountServiceAccountToken"] is False
    assert "annotations" not in objects.get("ServiceAccount", "workload", "tenant-b")["metadata"] \
        or not objects.get("ServiceAccount", "workload", "tenant-b")["metadata"]["annotations"]
    assert objects.get("ServiceAccount", "job-submitter", "tenant-b") is not None


def test_limiting_gpus_is_a_config_change():
    rendering = render_with(**{"gpu-lab:tenants": [{"name": "tenant-a", "gpus": 2},
                                                   {"name": "tenant-b", "gpus": 0}]})
    objects = ObjectSet(rendering.kubernetes_objects())
    assert objects.get("ResourceQuota", "compute", "tenant-a")["spec"]["hard"][
        "requests.nvidia.com/gpu"] == "2"
    assert not quota_admits(objects, "tenant-b", make_pod(gpus=1))


def test_priority_scoped_gpu_quota():
    rendering = render_with(**{"gpu-lab:tenants": [
        {"name": "tenant-a", "gpus": 2, "priorityGpuQuotas": {"production-high": 1}}]})
    objects = ObjectSet(rendering.kubernetes_objects())
    assert quota_admits(objects, "tenant-a", make_pod(gpus=1, priority_class="production-high"))
    assert not quota_admits(objects, "tenant-a",
                            make_pod(gpus=2, priority_class="production-high"))
    assert quota_admits(objects, "tenant-a", make_pod(gpus=2, priority_class="training-medium"))


def test_tenant_resources_use_the_cluster_provider(three):
    for resource in three.resources:
        if resource.type.startswith("kubernetes:"):
            assert resource.provider and "pulumi:providers:kubernetes::lab-gke-k8s" \
                in resource.provider, resource.name


# -- validation ------------------------------------------------------------------------

BASE = {"gcp:project": "demo"}


def problems(tenants, **more):
    with pytest.raises(ConfigError) as caught:
        load_spec({**BASE, "gpu-lab:tenants": tenants, **more})
    return [str(p) for p in caught.value.problems]


def test_tenant_name_must_be_a_dns_label():
    assert problems(["Tenant_A"]) == [
        "gpu-lab:tenants[0].name: got 'Tenant_A'; must be a DNS-1123 label: lowercase letters, "
        "digits and '-', starting and ending with a letter or digit"]


def test_tenant_names_are_unique():
    assert problems(["tenant-a", {"name": "tenant-a", "gpus": 0}]) == [
        "gpu-lab:tenants[1].name: got 'tenant-a'; must be unique"]


@pytest.mark.parametrize("reserved", ["kube-system", "kube-public", "default", "gpu-operator",
                                      "monitoring"])
def test_reserved_namespaces(reserved):
    [message] = problems([reserved])
    assert message.startswith(f"gpu-lab:tenants[0].name: got {reserved!r}; is a namespace "
                              "the platform owns")


def test_gpu_quota_must_be_a_non_negative_integer():
    assert problems([{"name": "tenant-a", "gpus": -1}]) == [
        "gpu-lab:tenants[0].gpus: got -1; must be an integer >= 0"]
    assert problems([{"name": "tenant-a", "gpus": 1.5}]) == [
        "gpu-lab:tenants[0].gpus: got 1.5; must be an integer, not a number"]


def test_cpu_and_memory_must_be_quantities():
    assert problems([{"name": "tenant-a", "cpu": "eight", "memory": "32 GB"}]) == [
        "gpu-lab:tenants[0].cpu: got 'eight'; must be a Kubernetes quantity such as 500m, 4, 16Gi",
        "gpu-lab:tenants[0].memory: got '32 GB'; must be a Kubernetes quantity such as 500m, 4, "
        "16Gi"]


def test_gpu_quota_above_what_the_pools_can_supply():
    [message] = problems([{"name": "tenant-a", "gpus": 5}],
                         **{"gpu-lab:gpuPools": [{"name": "t4", "maxNodes": 2,
                                                  "gpusPerNode": 2}]})
    assert message == ("gpu-lab:tenants[0].gpus: got 5; exceeds what the GPU pools can ever "
                       "supply: 4 GPUs (maxNodes x gpusPerNode summed over gpuPools)")


def test_unknown_priority_class_and_tenant_field():
    assert problems([{"name": "tenant-a", "priorityClass": "urgent", "gpu": 1}]) == [
        "gpu-lab:tenants[0].priorityClass: got 'urgent'; must be one of production-high, "
        "training-medium, experiment-low",
        "gpu-lab:tenants[0].gpu: got 1; unknown field (did you mean 'gpus'?); known fields: "
        "adminGroups, costCenter, cpu, developerGroups, egress, gcpServiceAccount, gpus, "
        "maxGpusPerPod, maxPods, memory, name, podSecurity, priorityClass, priorityGpuQuotas, "
        "quota, roleBindings, team"]


def test_new_tenant_gets_the_defaults():
    spec = load_spec({**BASE, "gpu-lab:tenants": ["team-x"]})
    tenant = spec.tenant("team-x")
    assert (tenant.team, tenant.cost_center, tenant.gpus) == ("team-x", "unassigned", 1)
    assert tenant.developer_groups == ("team-x-developers@example.com",)


# -- the quota's spec.hard and the egress rules, as config -----------------------------------

FULL_HARD = {"requests.nvidia.com/gpu": "2", "requests.cpu": "4", "limits.cpu": "6",
             "requests.memory": "16Gi", "limits.memory": "24Gi", "pods": "30",
             "persistentvolumeclaims": "5", "services": "3", "services.loadbalancers": "0",
             "services.nodeports": "0", "count/jobs.batch": "50"}


def compute_quota(objects, tenant):
    return objects.get("ResourceQuota", "compute", tenant)["spec"]["hard"]


def test_quota_hard_is_the_resource_quota_spec_hard():
    rendering = render_with(**{"gpu-lab:tenants": [{"name": "tenant-a", "quota": {
        "hard": FULL_HARD}}, "tenant-b"], "gpu-lab:gpuPools": [{"name": "t4", "maxNodes": 3}]})
    objects = ObjectSet(rendering.kubernetes_objects())
    assert compute_quota(objects, "tenant-a") == FULL_HARD
    # Two GPUs are admitted, a third is refused; the CPU requests and limits are separate.
    assert quota_admits(objects, "tenant-a", make_pod(gpus=2))
    assert not quota_admits(objects, "tenant-a", make_pod(gpus=3))


def test_the_shorthands_write_the_quota_every_tenant_had():
    """gpus, cpu, memory and maxPods set the quota's entries of their resources; the rest
    are the defaults."""
    spec = load_spec({**BASE, "gpu-lab:tenants": [
        {"name": "tenant-a", "gpus": 2, "cpu": 16, "memory": "64Gi", "maxPods": 40},
        "tenant-c"], "gpu-lab:gpuPools": [{"name": "t4", "maxNodes": 3}]})
    assert dict(spec.tenant("tenant-a").quota_hard) == {
        "requests.nvidia.com/gpu": "2", "requests.cpu": "16", "limits.cpu": "16",
        "requests.memory": "64Gi", "limits.memory": "64Gi", "pods": "40",
        "persistentvolumeclaims": "10", "services": "10", "services.loadbalancers": "0",
        "services.nodeports": "0"}
    assert spec.tenant("tenant-a").gpus == 2
    assert dict(spec.tenant("tenant-c").quota_hard)["limits.memory"] == "16Gi"


def test_quota_hard_and_the_shorthands_combine_for_different_resources():
    spec = load_spec({**BASE, "gpu-lab:tenants": [
        {"name": "tenant-a", "gpus": 2, "quota": {"hard": {"limits.cpu": "12", "pods": 5}}}],
        "gpu-lab:gpuPools": [{"name": "t4", "maxNodes": 3}]})
    hard = dict(spec.tenant("tenant-a").quota_hard)
    # limits.cpu alone: the cpu default does not add requests.cpu back.
    assert hard["requests.nvidia.com/gpu"] == "2" and hard["limits.cpu"] == "12"
    assert "requests.cpu" not in hard and hard["pods"] == "5"


def test_a_gpu_quota_under_limits_admits_pods_beyond_it():
    """What the config says is what the cluster gets: the API server charges pods only
    requests.nvidia.com/gpu, so a quota that names limits.nvidia.com/gpu admits more."""
    rendering = render_with(**{"gpu-lab:tenants": [
        {"name": "tenant-a", "quota": {"hard": {"limits.nvidia.com/gpu": "1"}}}, "tenant-b"]})
    objects = ObjectSet(rendering.kubernetes_objects())
    assert compute_quota(objects, "tenant-a")["limits.nvidia.com/gpu"] == "1"
    assert "requests.nvidia.com/gpu" not in compute_quota(objects, "tenant-a")
    assert quota_admits(objects, "tenant-a", make_pod(gpus=1), copies=2)
    assert not quota_admits(objects, "tenant-b", make_pod(gpus=1), copies=2)


@pytest.mark.parametrize("tenant,message", [
    ({"gpus": 2, "quota": {"hard": {"requests.nvidia.com/gpu": "2"}}},
     "gpu-lab:tenants[0].gpus: got 2; gpu-lab:tenants[0].quota.hard.requests.nvidia.com/gpu "
     "sets the same quota: give one of the two"),
    ({"cpu": "4", "quota": {"hard": {"limits.cpu": "4"}}},
     "gpu-lab:tenants[0].cpu: got '4'; gpu-lab:tenants[0].quota.hard.limits.cpu sets the same "
     "quota: give one of the two"),
    ({"maxPods": 10, "quota": {"hard": {"count/pods": "10"}}},
     "gpu-lab:tenants[0].maxPods: got 10; gpu-lab:tenants[0].quota.hard.count/pods sets the "
     "same quota: give one of the two"),
    ({"quota": {"hard": {"limit.nvidia.com/gpu": "1"}}},
     "gpu-lab:tenants[0].quota.hard.limit.nvidia.com/gpu: got '1'; a quota entry for "
     "nvidia.com/gpu is one of requests.nvidia.com/gpu, limits.nvidia.com/gpu, nvidia.com/gpu "
     "(did you mean 'limits.nvidia.com/gpu'?)"),
    ({"quota": {"hard": {"request.cpu": "1"}}},
     "gpu-lab:tenants[0].quota.hard.request.cpu: got '1'; must be a ResourceQuota resource "
     "name: one of pods, services, replicationcontrollers, resourcequotas, secrets, "
     "configmaps, persistentvolumeclaims, services.nodeports, services.loadbalancers, cpu, "
     "memory, ephemeral-storage, requests.cpu, requests.memory, requests.storage, "
     "requests.ephemeral-storage, limits.cpu, limits.memory, limits.ephemeral-storage (did you "
     "mean 'requests.cpu'?), or a name with a domain such as requests.nvidia.com/gpu or "
     "count/jobs.batch"),
    ({"quota": {"hard": {"requests.memory": "32 GB"}}},
     "gpu-lab:tenants[0].quota.hard.requests.memory: got '32 GB'; must be a Kubernetes quantity "
     "such as 500m, 4, 16Gi"),
    ({"quota": {"hard": {"requests.nvidia.com/gpu": "1.5"}}},
     "gpu-lab:tenants[0].quota.hard.requests.nvidia.com/gpu: got '1.5'; must be a whole number "
     "of GPUs"),
    ({"quota": {"hard": {"requests.nvidia.com/gpu": 9}}},
     "gpu-lab:tenants[0].quota.hard.requests.nvidia.com/gpu: got '9'; exceeds what the GPU "
     "pools can ever supply: 2 GPUs (maxNodes x gpusPerNode summed over gpuPools)"),
    ({"quota": {"hard": {}, "scopes": ["BestEffort"]}},
     "gpu-lab:tenants[0].quota.scopes: got ['BestEffort']; unknown field; known fields: hard"),
])
def test_quota_problems_name_the_keys(tenant, message):
    assert problems([{"name": "tenant-a", **tenant}],
                    **{"gpu-lab:gpuPools": [{"name": "t4", "maxNodes": 2}]}) == [message]


def test_egress_rules_default_to_the_internet_and_the_metadata_server(objects):
    for tenant in TENANTS:
        policy = objects.get("NetworkPolicy", "allow-internet-egress", tenant)
        assert policy["spec"]["egress"][0] == {"to": [{"ipBlock": {
            "cidr": "0.0.0.0/0",
            "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"]}}]}
        assert egress_allowed(objects, tenant, Endpoint.internet())
        assert egress_allowed(objects, tenant, Endpoint(ip="169.254.169.254", port=80))
        assert not egress_allowed(objects, tenant, Endpoint(ip="10.20.0.7", port=8000))


def test_egress_rules_are_the_tenants_network_policy_egress():
    rendering = render_with(**{"gpu-lab:tenants": [
        {"name": "tenant-a", "egress": [
            {"to": [{"ipBlock": {"cidr": "203.0.113.0/24", "except": ["203.0.113.128/25"]}}],
             "ports": [{"port": 443}]}]},
        {"name": "tenant-b", "egress": []}]})
    objects = ObjectSet(rendering.kubernetes_objects())
    policy = objects.get("NetworkPolicy", "allow-internet-egress", "tenant-a")
    assert policy["spec"]["egress"] == [
        {"to": [{"ipBlock": {"cidr": "203.0.113.0/24", "except": ["203.0.113.128/25"]}}],
         "ports": [{"protocol": "TCP", "port": 443}]}]
    assert egress_allowed(objects, "tenant-a", Endpoint(ip="203.0.113.7", port=443))
    assert not egress_allowed(objects, "tenant-a", Endpoint(ip="203.0.113.200", port=443))
    assert not egress_allowed(objects, "tenant-a", Endpoint.internet())
    # No rules: no policy, and nothing beyond DNS and the namespace itself.
    assert objects.get("NetworkPolicy", "allow-internet-egress", "tenant-b") is None
    assert not egress_allowed(objects, "tenant-b", Endpoint.internet())
    assert egress_allowed(objects, "tenant-b", Endpoint.dns())


@pytest.mark.parametrize("egress,message", [
    ([{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["0.0.0.0/0"]}}]}],
     "gpu-lab:tenants[0].egress[0].to[0].ipBlock.except: got '0.0.0.0/0'; must lie inside "
     "0.0.0.0/0 and be smaller"),
    ([{"to": [{"ipBlock": {"cidr": "10.0.0.1/8"}}]}],
     "gpu-lab:tenants[0].egress[0].to[0].ipBlock.cidr: got '10.0.0.1/8'; has host bits set: "
     "the network is 10.0.0.0/8"),
    ([{"to": [{"namespaceSelector": {}}]}],
     "gpu-lab:tenants[0].egress[0].to[0].ipBlock: is not set; every peer is an ipBlock: "
     "{cidr, except}"),
    ([{"ports": [{"protocol": "tcp", "port": 443}]}],
     "gpu-lab:tenants[0].egress[0].ports[0].protocol: got 'tcp'; must be one of TCP, UDP, "
     "SCTP"),
    ([{"ports": [{"port": 70000}]}],
     "gpu-lab:tenants[0].egress[0].ports[0].port: got 70000; must be a port number (1-65535) or "
     "a container port name"),
    ("all", "gpu-lab:tenants[0].egress: got 'all'; must be a list, not a string"),
])
def test_egress_problems_name_the_keys(egress, message):
    found = problems([{"name": "tenant-a", "egress": egress}])
    assert message in found, found
