"""What a real `pulumi up` (first and second) and `pulumi destroy` depend on, shown on the
registered resources and their options for every shipped stack: no cluster replacement on
the second `up`, nothing awaited that a fault keeps unready, no Prometheus object without
Prometheus, creation order, Workload Identity grants and valid GCP names."""

import re

import pytest

from lab.render import render
from model.names import ACCOUNT_ID, GCP_NAME
from tests.helpers import CLUSTER, one, render_with, stack_values

STACKS = ("dev", "pairing", "all-faults", "local")
RELEASE = "kubernetes:helm.sh/v3:Release"
NAMESPACE = "kubernetes:core/v1:Namespace"
WORKLOAD = "gpu-lab:workload:InferenceWorkload"


@pytest.fixture(scope="module", params=STACKS)
def stack(request):
    return request.param, render(stack_values(request.param), stack=request.param)


def key(resource) -> str:
    return f"{resource.type}::{resource.name}"


def test_second_up_does_not_replace_the_cluster(stack):
    name, rendering = stack
    clusters = rendering.of_type(CLUSTER)
    if name == "local":
        assert clusters == []
        return
    [cluster] = clusters
    # The default pool's node config is gone once the pool is removed; a diff there would
    # force a new cluster (the field is ForceNew in the provider).
    assert cluster.inputs["removeDefaultNodePool"] is True
    assert cluster.options["ignoreChanges"] == ["nodeConfig"]
    # The temporary default pool still runs as the least-privilege node account.
    assert cluster.inputs["nodeConfig"]["serviceAccount"].startswith("gpu-lab-")


def test_nothing_that_runs_or_fronts_a_workload_is_awaited(stack):
    _, rendering = stack
    workloads = rendering.of_type(WORKLOAD)
    children = [r for w in workloads for r in rendering.children(w)]
    assert children, "the stack has workloads"
    for child in children:
        annotations = child.inputs["metadata"].get("annotations") or {}
        assert annotations.get("pulumi.com/skipAwait") == "true", key(child)
    assert {c.inputs["kind"] for c in children} >= {"Service"}


# Faults that break Prometheus scraping need Prometheus (the model refuses them without it).
NEED_MONITORING = ("dcgm-metrics-missing", "tenant-observability-broken")


@pytest.mark.parametrize("name", ["dev", "local", "all-faults"])
def test_no_prometheus_objects_without_the_monitoring_add_on(name):
    values = stack_values(name)
    if "gpu-lab:faults" in values:
        values["gpu-lab:faults"] = [
            f for f in values["gpu-lab:faults"]
            if (f if isinstance(f, str) else f["id"]) not in NEED_MONITORING]
    addons = dict(values.get("gpu-lab:addons") or {})
    addons["monitoring"] = {"enabled": False}
    rendering = render({**values, "gpu-lab:addons": addons}, stack=name)
    assert [key(r) for r in rendering.resources if "monitoring.coreos.com" in r.type] == []
    assert [r.inputs.get("kind") for r in rendering.resources
            if r.inputs.get("apiVersion", "").startswith("monitoring.coreos.com")] == []
    for release in rendering.of_type(RELEASE):
        exporter = (release.inputs.get("values") or {}).get("dcgmExporter") or {}
        assert not (exporter.get("serviceMonitor") or {}).get("enabled"), key(release)


def test_gke_scrapes_kube_dns_not_coredns(stack):
    name, rendering = stack
    [monitoring] = [r for r in rendering.of_type(RELEASE)
                    if r.inputs["chart"] == "kube-prometheus-stack"]
    values = monitoring.inputs["values"]
    on_gke = name != "local"
    assert values["kubeDns"] == {"enabled": on_gke}
    assert values["coreDns"] == {"enabled": not on_gke}


def waits_for(rendering, resource) -> set[str]:
    """Everything the engine creates before this resource (dependencies, transitively)."""
    by_key = {key(r): r for r in rendering.resources}
    seen: set[str] = set()
    pending = list(resource.options.get("dependsOn", []))
    while pending:
        dep = pending.pop()
        if dep not in seen:
            seen.add(dep)
            pending.extend(by_key[dep].options.get("dependsOn", []) if dep in by_key else [])
    return seen


def test_namespaced_objects_wait_for_their_namespace(stack):
    _, rendering = stack
    namespaces = {r.inputs["metadata"]["name"]: key(r) for r in rendering.of_type(NAMESPACE)}
    checked = 0
    for resource in rendering.resources:
        namespace = (resource.inputs.get("metadata") or {}).get("namespace") \
            or (resource.inputs.get("namespace") if resource.type == RELEASE else None)
        if namespace in namespaces and resource.type != NAMESPACE:
            assert namespaces[namespace] in waits_for(rendering, resource), key(resource)
            checked += 1
    assert checked > 20


def test_workloads_wait_for_their_tenants_admission_objects(stack):
    """Pods created before the tenant's LimitRange and quota would get no defaults and be
    charged nothing."""
    _, rendering = stack
    controllers = [r for r in rendering.resources
                   if r.inputs.get("kind") in ("Deployment", "Job")]
    assert controllers
    for controller in controllers:
        tenant = controller.inputs["metadata"]["namespace"]
        deps = waits_for(rendering, controller)
        assert f"kubernetes:core/v1:LimitRange::lab-{tenant}-limits" in deps, key(controller)
        assert f"kubernetes:core/v1:ResourceQuota::lab-{tenant}-quota" in deps, key(controller)


def test_releases_on_gke_wait_for_the_system_pool(stack):
    name, rendering = stack
    if name == "local":
        return
    for release in rendering.of_type(RELEASE):
        assert "gcp:container/nodePool:NodePool::lab-gke-system" in \
            waits_for(rendering, release), key(release)


def test_critical_pods_quota_waits_for_its_namespace(stack):
    _, rendering = stack
    [quota] = [r for r in rendering.of_type("kubernetes:core/v1:ResourceQuota")
               if r.inputs["metadata"]["name"] == "gcp-critical-pods"]
    assert any(d.startswith(NAMESPACE) and "gpu-operator" in d
               for d in quota.options["dependsOn"])


def test_workload_identity_is_granted_not_just_annotated():
    email = "inference@ml-models.iam.gserviceaccount.com"
    values = stack_values("dev")
    tenants = [{"name": "tenant-a"}, {"name": "tenant-b"}]      # the default tenants
    tenants[0]["gcpServiceAccount"] = email
    rendering = render({**values, "gpu-lab:tenants": tenants}, stack="dev")
    [grant] = rendering.of_type("gcp:serviceaccount/iAMMember:IAMMember")
    assert grant.inputs == {
        "serviceAccountId": f"projects/ml-models/serviceAccounts/{email}",
        "role": "roles/iam.workloadIdentityUser",
        "member": "serviceAccount:gpu-lab-test.svc.id.goog[tenant-a/workload]",
    }
    [ksa] = [r for r in rendering.of_type("kubernetes:core/v1:ServiceAccount")
             if r.inputs["metadata"] == {**r.inputs["metadata"], "name": "workload",
                                         "namespace": "tenant-a"}]
    assert ksa.inputs["metadata"]["annotations"] == {"iam.gke.io/gcp-service-account": email}


def test_existing_clusters_get_no_workload_identity_grant():
    values = stack_values("local")
    tenants = [{"name": "tenant-a"}, {"name": "tenant-b"}]      # the default tenants
    tenants[0]["gcpServiceAccount"] = "inference@ml-models.iam.gserviceaccount.com"
    rendering = render({**values, "gpu-lab:tenants": tenants}, stack="local")
    assert not [r for r in rendering.resources if r.type.startswith("gcp:")]


def gcp_names(rendering):
    """Names that must be unique in the project (node pool and DNS record names are scoped
    to their cluster and zone)."""
    for resource in rendering.resources:
        if resource.type.startswith("gcp:") and "name" in resource.inputs \
                and "recordSet" not in resource.type and "nodePool" not in resource.type:
            yield resource.inputs["name"]


@pytest.mark.parametrize("stack_name", [
    "a" * 60, "interview-" + "x" * 50 + "-", "candidate-with-a-very-long-name-2026-11-24-afternoon"])
def test_long_stack_names_give_valid_gcp_names(stack_name):
    rendering = render(stack_values("all-faults"), stack=stack_name)
    names = list(gcp_names(rendering))
    assert len(names) > 10
    for name in names:
        assert len(name) <= 63 and GCP_NAME.fullmatch(name), name
    [account] = rendering.of_type("gcp:serviceaccount/account:Account")
    assert ACCOUNT_ID.fullmatch(account.inputs["accountId"]), account.inputs["accountId"]


def test_long_stack_names_that_share_a_prefix_do_not_collide():
    prefix = "candidate-" + "y" * 40
    first = render(stack_values("dev"), stack=prefix + "-monday")
    second = render(stack_values("dev"), stack=prefix + "-tuesday")
    assert set(gcp_names(first)).isdisjoint(gcp_names(second))
    accounts = [one(r, "gcp:serviceaccount/account:Account").inputs["accountId"]
                for r in (first, second)]
    assert accounts[0] != accounts[1]


def test_kubeconfig_authenticates_with_application_default_credentials(stack):
    name, rendering = stack
    if name == "local":
        return
    import yaml
    kubeconfig = yaml.safe_load(rendering.outputs["kubeconfig"]["$secret"])
    [user] = kubeconfig["users"]
    assert user["user"]["exec"]["command"] == "gke-gcloud-auth-plugin"
    assert user["user"]["exec"]["args"] == ["--use_application_default_credentials"]


def test_pairing_without_monitoring_is_refused_before_anything_is_registered():
    """pairing bakes in faults that need Prometheus; without it the model says so."""
    from model import ConfigError
    values = {**stack_values("pairing"), "gpu-lab:addons": {"monitoring": {"enabled": False}}}
    with pytest.raises(ConfigError, match="needs gpu-lab:addons.monitoring.enabled"):
        render(values, stack="pairing")


def test_gpu_pools_spread_over_the_zones_that_offer_their_gpu(stack):
    from model.gpu_catalog import CATALOG
    name, rendering = stack
    pools = rendering.of_type("gcp:container/nodePool:NodePool")
    if name == "local":
        assert pools == []
        return
    gpu_pools = [p for p in pools if p.inputs["nodeConfig"].get("guestAccelerators")]
    assert gpu_pools
    for pool in gpu_pools:
        accelerator = pool.inputs["nodeConfig"]["guestAccelerators"][0]["type"]
        offered = set(CATALOG[accelerator].zones_in("us-central1"))
        assert len(offered) >= 2
        assert set(pool.inputs["nodeLocations"]) <= offered, pool.name
        # Spot pools take capacity from any zone that has it.
        if pool.inputs["nodeConfig"]["spot"]:
            assert pool.inputs["autoscaling"]["locationPolicy"] == "ANY"


def test_nothing_in_the_cluster_outlives_the_nodes_it_runs_on(stack):
    """Pulumi destroys a resource before what it depends on. Every namespace, Helm release
    and workload waits for every node pool, so `pulumi destroy` removes them (and their pods)
    while the nodes still run; a pod left on a deleted node holds its namespace in
    Terminating past the provider's wait."""
    name, rendering = stack
    pools = {key(r) for r in rendering.of_type("gcp:container/nodePool:NodePool")}
    if name == "local":
        assert not pools
        return
    assert len(pools) >= 2
    runs = [r for r in rendering.resources
            if r.type in (RELEASE, "kubernetes:apps/v1:Deployment", "kubernetes:batch/v1:Job")]
    homes = {r.inputs.get("namespace") or r.inputs["metadata"]["namespace"] for r in runs}
    on_nodes = runs + [r for r in rendering.of_type(NAMESPACE)
                       if r.inputs["metadata"]["name"] in homes]
    assert len(on_nodes) > 6
    for resource in on_nodes:
        assert pools <= waits_for(rendering, resource), (key(resource),
                                                         pools - waits_for(rendering, resource))
