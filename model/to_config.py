"""LabSpec -> stack config: the flat mapping of full keys a Pulumi.<stack>.yaml file holds.

The inverse of `load_spec`: `load_spec(to_config(spec), stack=spec.stack)` gives the spec
back, field for field. Every value is written out, defaults included, so the config reads as
a complete description of the stack and does not depend on how defaults are derived; only
what is unset (None, an empty list or map) is left out. Keys that only select other settings
(presets) are not written: the spec already carries what they selected.
"""

from __future__ import annotations

from typing import Any

from model.frozen import thaw
from model.spec import (
    AddonsSpec, ClusterSpec, FirewallRuleSpec, GpuPoolSpec, LabSpec, NodePoolSpec,
    RoleBindingSpec, TenantSpec,
    WorkloadSpec,
)

NAMESPACE = "gpu-lab"


def to_config(spec: LabSpec) -> dict[str, Any]:
    """The stack config that loads back into `spec` (its platform, cluster, pools, tenants,
    workloads, add-ons, expiry and candidate login)."""
    config: dict[str, Any] = {}
    if spec.gcp.project:
        config["gcp:project"] = spec.gcp.project
    config["gcp:region"] = spec.gcp.region
    ours = {
        "platform": spec.platform,
        "cluster": _cluster(spec.cluster),
        "systemPool": _system_pool(spec.system_pool),
        "gpuPools": [_gpu_pool(pool, spec.platform) for pool in spec.gpu_pools],
        "addons": _addons(spec.addons),
        "tenants": [_tenant(tenant) for tenant in spec.tenants],
        "workloads": [_workload(workload) for workload in spec.workloads],
        "expiresAt": spec.expires_at,
        "candidate": _candidate(spec),
    }
    config.update({f"{NAMESPACE}:{key}": value for key, value in ours.items()
                   if value is not None})
    return config


def _set(**fields: Any) -> dict[str, Any]:
    """The fields that are set: None, () and {} mean unset and are left out."""
    return {key: value for key, value in fields.items()
            if value is not None and value != () and value != {} and value != []}


def _cluster(cluster: ClusterSpec) -> dict[str, Any]:
    net = cluster.network
    return _set(
        name=cluster.name,
        location=cluster.location,
        releaseChannel=cluster.release_channel,
        deletionProtection=cluster.deletion_protection,
        masterAuthorizedCidrs=list(cluster.master_authorized_cidrs),
        rbacSecurityGroup=cluster.rbac_security_group,
        kubeContext=cluster.kube_context,
        network=_set(subnetCidr=net.subnet_cidr, podsCidr=net.pods_cidr,
                     servicesCidr=net.services_cidr, masterCidr=net.master_cidr,
                     firewallRules=[_firewall_rule(rule) for rule in net.firewall_rules]),
    )


def _firewall_rule(rule: FirewallRuleSpec) -> dict[str, Any]:
    return _set(
        name=rule.name, direction=rule.direction, priority=rule.priority,
        allows=[_set(protocol=a.protocol, ports=list(a.ports)) for a in rule.allows],
        denies=[_set(protocol=d.protocol, ports=list(d.ports)) for d in rule.denies],
        sourceRanges=list(rule.source_ranges), destinationRanges=list(rule.destination_ranges),
        targetTags=list(rule.target_tags), description=rule.description,
    )


def _system_pool(pool: NodePoolSpec) -> dict[str, Any]:
    return {"name": pool.name, "machineType": pool.machine_type, "minNodes": pool.min_nodes,
            "maxNodes": pool.max_nodes, "diskSizeGb": pool.disk_size_gb, "spot": pool.spot}


def _gpu_pool(pool: GpuPoolSpec, platform: str) -> dict[str, Any]:
    fields = {
        "name": pool.name, "accelerator": pool.accelerator, "machineType": pool.machine_type,
        "gpusPerNode": pool.gpus_per_node, "minNodes": pool.min_nodes,
        "maxNodes": pool.max_nodes, "diskSizeGb": pool.disk_size_gb, "spot": pool.spot,
    }
    # zones exist on gke only, nodes on existing only: each is refused on the other.
    if platform == "gke":
        fields["zones"] = list(pool.zones)
    else:
        fields["nodes"] = list(pool.nodes)
    fields.update({"driverVersion": pool.driver_version,
                   "gkeDevicePlugin": pool.gke_device_plugin,
                   "gpuOperator": pool.gpu_operator})
    if pool.node_labels:
        fields["labels"] = dict(pool.node_labels)
    return fields


def _addons(addons: AddonsSpec) -> dict[str, Any]:
    op, mon = addons.gpu_operator, addons.monitoring
    return {
        "gpuOperator": {"enabled": op.enabled, "version": op.chart_version,
                        "devicePlugin": op.device_plugin, "dcgmExporter": op.dcgm_exporter,
                        "serviceMonitor": op.service_monitor,
                        "timeSlicing": op.time_slicing_replicas,
                        "migStrategy": op.mig_strategy, "fakeVersion": op.fake_chart_version},
        "monitoring": {"enabled": mon.enabled, "version": mon.chart_version,
                       "retention": mon.retention, "alertmanager": mon.alertmanager},
    }


def _tenant(tenant: TenantSpec) -> dict[str, Any]:
    fields = _set(
        name=tenant.name, team=tenant.team, costCenter=tenant.cost_center,
        # The whole spec.hard, in place of the gpus, cpu, memory and maxPods shorthands.
        quota={"hard": dict(tenant.quota_hard)},
        priorityGpuQuotas=dict(tenant.gpu_priority_quotas),
        maxGpusPerPod=tenant.max_gpus_per_pod, priorityClass=tenant.priority_class,
        gcpServiceAccount=tenant.gcp_service_account,
        podSecurity=tenant.pod_security,
    )
    # Empty group, binding and egress lists are written too: unset, they would mean the
    # defaults.
    fields["adminGroups"] = list(tenant.admin_groups)
    fields["developerGroups"] = list(tenant.developer_groups)
    fields["roleBindings"] = [_role_binding(b) for b in tenant.role_bindings]
    fields["egress"] = thaw(tenant.egress)
    return fields


def _role_binding(binding: RoleBindingSpec) -> dict[str, Any]:
    return _set(name=binding.name, roleKind=binding.role_kind, role=binding.role,
                groups=list(binding.groups), users=list(binding.users),
                serviceAccounts=list(binding.service_accounts))


def _workload(workload: WorkloadSpec) -> dict[str, Any]:
    endpoint = workload.pod_metrics_endpoint
    fields = _set(
        tenant=workload.tenant, name=workload.name, kind=workload.kind, pool=workload.pool,
        replicas=workload.replicas, gpus=workload.gpus, gpuMemoryGb=workload.gpu_memory_gb,
        image=workload.image,
        imageArchitecture=workload.image_architecture, customImage=workload.custom_image,
        batches=workload.batches, batchSize=workload.batch_size, seqLen=workload.seq_len,
        hidden=workload.hidden, layers=workload.layers, cpu=workload.cpu,
        memory=workload.memory, args=list(workload.args),
        env=[{"name": name, "value": value} for name, value in workload.env],
        podMetricsEndpoint={"port": endpoint.port, "path": endpoint.path,
                            "interval": endpoint.interval},
        monitorSelector=dict(workload.monitor_selector),
    )
    # Written even when empty: unset, it would mean the default constraints.
    fields["topologySpreadConstraints"] = thaw(workload.topology_spread_constraints)
    if workload.affinity:
        fields["affinity"] = thaw(workload.affinity)
    return fields


def _candidate(spec: LabSpec) -> dict[str, Any] | None:
    fields = _set(login=spec.candidate_login or None, tenant=spec.candidate_tenant)
    return fields or None
