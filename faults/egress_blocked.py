"""A tenant cannot reach registries or external services: a GCP egress deny on its nodes,
and a NetworkPolicy set without internet egress."""

from faults import edit, parts
from faults.base import Fault, Param, Unmet
from faults.evidence import stopped
from kube.images import NGC_PYTORCH
from model.spec import FirewallProtocolSpec, FirewallRuleSpec


def deny_egress(tag: str) -> FirewallRuleSpec:
    """The firewall rule that denies all egress from the nodes with this network tag."""
    return FirewallRuleSpec(
        name=f"deny-egress-{tag}", direction="EGRESS", priority=1000,
        denies=(FirewallProtocolSpec(protocol="all"),), destination_ranges=("0.0.0.0/0",),
        target_tags=(tag,),
        description=f"Egress policy for {tag} nodes")


def inject(spec, tenant):
    edit.find_tenant(spec, tenant)
    pools = {w.pool for w in spec.workloads if w.tenant == tenant}
    gpu_pools = {p.name for p in spec.gpu_pools}
    if not pools:
        raise Unmet("tenant", tenant, "needs workloads on GPU pools of its own (the firewall "
                    "rule denies egress for whole nodes)")
    elsewhere = sorted(f"{w.tenant}/{w.name}" for w in spec.workloads
                       if w.tenant == tenant and w.pool not in gpu_pools)
    if elsewhere:
        raise Unmet("tenant", tenant, f"{', '.join(elsewhere)} run(s) on a pool without GPUs "
                    f"(the firewall rule denies egress for whole nodes): give {tenant}'s "
                    "workloads GPU pools of their own")
    shared = sorted({f"{w.tenant}/{w.name}" for w in spec.workloads
                     if w.pool in pools and w.tenant != tenant})
    if shared:
        raise Unmet("tenant", tenant, f"its pool(s) {', '.join(sorted(pools))} also run "
                    f"{', '.join(shared)}: give {tenant}'s workloads a pool of their own")
    # The tenant's egress NetworkPolicy loses its rules (and so is not made at all).
    spec = edit.tenant(spec, tenant, egress=())
    rules = spec.cluster.network.firewall_rules
    named = {rule.name for rule in rules}
    added = (deny_egress(spec.pool(name).network_tag) for name in sorted(pools))
    rules += tuple(rule for rule in added if rule.name not in named)
    # The nodes must stay healthy: their GPU stack comes from GKE (driver and device plugin
    # from Google's registries, reached through Private Google Access) instead of the GPU
    # Operator, whose images are on nvcr.io. Without this the nodes would advertise no GPUs
    # and the tenant's pods would wait for GPUs instead of failing their pulls.
    # The tenant runs NVIDIA's NGC PyTorch image: GKE's containerd would fetch Docker Hub
    # images from Google's mirror when it caches them, so only a registry Google does not
    # mirror fails for certain.
    for job in [w for w in spec.workloads if w.tenant == tenant and not w.custom_image]:
        spec = edit.workload(spec, f"{tenant}/{job.name}", image=NGC_PYTORCH)
    for name in sorted(pools):
        pool = edit.find_pool(spec, name)
        driver = "LATEST" if pool.driver_version == "INSTALLATION_DISABLED" else pool.driver_version
        spec = edit.pool(spec, name, gpu_operator=False, gke_device_plugin=True,
                         driver_version=driver)
    return edit.network(spec, firewall_rules=rules)


# The probe, as a manifest: the tenant's namespace enforces Pod Security `restricted`, which
# refuses the pod a bare `kubectl run` makes (no securityContext), and kubectl's --overrides
# replaces the containers list unless --override-type=strategic. curlimages/curl names its
# USER (curl_user) instead of giving a uid, so runAsNonRoot needs a runAsUser for the kubelet
# to check. Block-style YAML: the text is a str.format template.
PROBE = """apiVersion: v1
kind: Pod
metadata:
  name: probe
spec:
  restartPolicy: Never
  securityContext:
    runAsNonRoot: true
    runAsUser: 100        # the image's user is a name, which runAsNonRoot cannot verify
    seccompProfile:
      type: RuntimeDefault
  containers:
  - name: probe
    image: curlimages/curl
    args: [curl, -m, "5", https://pypi.org]
    securityContext:
      allowPrivilegeEscalation: false
      capabilities:
        drop: [ALL]
"""


def details(spec, tenant):
    pools = sorted({w.pool for w in spec.workloads if w.tenant == tenant})
    return {"pools": ", ".join(pools),
            "tag": ", ".join(spec.pool(p).network_tag for p in pools if p in
                             {q.name for q in spec.gpu_pools}),
            "cluster": spec.cluster.name}


FAULT = Fault(
    id="egress-blocked",
    title="{tenant} cannot reach registries or the internet",
    part=parts.SCENARIO_7,
    layer="cloud",
    params=(Param("tenant", "tenant", "tenant-c", "the newly added tenant that is cut off"),),
    task="The newly added tenant {tenant} cannot pull images or reach external services. Find "
         "out why and fix the infrastructure code.",
    symptom="kubectl get pods -n {tenant} -o wide   # Init:ImagePullBackOff (Init:ErrImagePull "
            "between retries), on a {pools} node that is Ready and advertises its GPU\n"
            "kubectl describe pod -n {tenant} <pod>\n"
            "Failed to pull image ...: dial tcp ...:443: i/o timeout\n"
            "kubectl create -n {tenant} -f - <<EOF   # a probe pod that Pod Security restricted "
            "admits\n" + PROBE + "EOF\n"
            "kubectl logs -n {tenant} probe   # lands on another node, pulls, then: Connection "
            "timed out\n"
            "kubectl get networkpolicy -n {tenant}   # no allow-internet-egress, unlike the other "
            "tenants",
    hints=("Timeouts, not refusals: something drops the packets. Is it inside the cluster, or "
           "in front of the nodes?",
           "Compare {tenant}'s NetworkPolicies with another tenant's, then look at the VPC "
           "firewall rules for the nodes {tenant} runs on (pool {pools}).",
           "Two layers: {tenant} has no allow-internet-egress NetworkPolicy, and the firewall "
           "rule {cluster}-deny-egress-{tag} denies all egress from its nodes (image pulls "
           "come from the node, so the NetworkPolicy alone would not break them; Google APIs "
           "still work through Private Google Access, which is why the nodes stay healthy)."),
    fix="Restore {tenant}'s internet egress rule (drop its `egress: []`, or give it the "
        "egress rules the other tenants have: 0.0.0.0/0 except the private ranges, and the "
        "metadata server), which brings back its allow-internet-egress NetworkPolicy, and drop "
        "the deny-egress firewall rule for pool {pools} (targetTags {tag}) from "
        "cluster.network.firewallRules (Cloud NAT already provides the way out); apply the "
        "change, then delete the failing pods. The first pull of the NGC PyTorch image takes a "
        "few minutes (it is large).",
    look_for="Separates node-level traffic (image pulls by the kubelet/containerd) from pod "
             "traffic (pip in an init container); inspects both NetworkPolicies and GCP "
             "firewall rules with target tags; knows private nodes need Cloud NAT; fixes it in "
             "Pulumi, not in the console.",
    check="tenant-egress-blocked",
    inject=inject,
    targets=lambda spec, tenant: {f"egress:{tenant}"} | {
        f"workload:{w}" for w in _workloads(spec, tenant)},
    pod_status="Init:ImagePullBackOff",
    edits=lambda spec, tenant: {f"egress:{tenant}"} | {
        f"image:{w}" for w in _workloads(spec, tenant)} | {
        f"gpu-stack:{p}" for p in _pools(spec, tenant)},
    # Its workloads' pods wait on their pulls: that status, and nothing they would do.
    evidence=lambda spec, tenant: {f"status Init:ImagePullBackOff of {w}"
                                   for w in _workloads(spec, tenant)},
    hides=lambda spec, tenant: stopped(*_workloads(spec, tenant)),
    platforms=("gke",),
    platform_note="a GCP firewall rule denies its nodes' egress, and an existing cluster has "
                  "no VPC for gpu-lab to change",
    details=details,
)


def _workloads(spec, tenant) -> list[str]:
    return [f"{w.tenant}/{w.name}" for w in spec.workloads if w.tenant == tenant]


def _pools(spec, tenant) -> set[str]:
    return {w.pool for w in spec.workloads if w.tenant == tenant} - {spec.system_pool.name}
