"""GkeCluster: the GKE control plane, its CPU system pool, node identity and a Kubernetes provider."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
import yaml
from pulumi_gcp import container, projects, serviceaccount

from components import node_settings
from components.network import PODS_RANGE, SERVICES_RANGE, Network
from model.names import account_id
from model.spec import GcpSpec, LabSpec

# The least a node's service account needs: GKE's node role (logs, metrics,
# metadata) and read access to Artifact Registry for images.
NODE_ROLES = ("roles/container.defaultNodeServiceAccount", "roles/artifactregistry.reader")


class GkeCluster(pulumi.ComponentResource):
    def __init__(self, name: str, spec: LabSpec, network: Network,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpu-lab:cluster:GkeCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        gcp, cluster, net = spec.gcp, spec.cluster, spec.cluster.network

        self.node_account = serviceaccount.Account(
            f"{name}-nodes", project=gcp.project,
            account_id=account_id(f"{cluster.name}-nodes"),
            display_name=f"gpu-lab {cluster.name} nodes", opts=child)
        self.node_account_roles = [
            projects.IAMMember(f"{name}-nodes-{role.split('/')[-1].replace('.', '-').lower()}",
                               project=gcp.project, role=role,
                               member=self.node_account.email.apply(
                                   lambda email: f"serviceAccount:{email}"),
                               opts=child)
            for role in NODE_ROLES
        ]

        optional: dict = {}
        if cluster.master_authorized_cidrs:
            optional["master_authorized_networks_config"] = \
                container.ClusterMasterAuthorizedNetworksConfigArgs(cidr_blocks=[
                    container.ClusterMasterAuthorizedNetworksConfigCidrBlockArgs(
                        cidr_block=cidr, display_name=f"allowed-{i}")
                    for i, cidr in enumerate(cluster.master_authorized_cidrs)])
        if cluster.rbac_security_group:
            # Google Groups nested in this group can be RoleBinding subjects.
            optional["authenticator_groups_config"] = \
                container.ClusterAuthenticatorGroupsConfigArgs(
                    security_group=cluster.rbac_security_group)

        self.cluster = container.Cluster(
            name, name=cluster.name, project=gcp.project, location=cluster.location,
            deletion_protection=cluster.deletion_protection,
            release_channel=container.ClusterReleaseChannelArgs(channel=cluster.release_channel),
            # Node pools are managed below; GKE insists on creating a default one first.
            remove_default_node_pool=True, initial_node_count=1,
            node_config=container.ClusterNodeConfigArgs(
                service_account=self.node_account.email,
                oauth_scopes=node_settings.NODE_OAUTH_SCOPES),
            network=network.vpc.id, subnetwork=network.subnet.id,
            networking_mode="VPC_NATIVE",
            ip_allocation_policy=container.ClusterIpAllocationPolicyArgs(
                cluster_secondary_range_name=PODS_RANGE,
                services_secondary_range_name=SERVICES_RANGE),
            # Dataplane V2 (Cilium) enforces NetworkPolicy without the Calico add-on.
            datapath_provider="ADVANCED_DATAPATH",
            workload_identity_config=container.ClusterWorkloadIdentityConfigArgs(
                workload_pool=f"{gcp.project}.svc.id.goog"),
            private_cluster_config=container.ClusterPrivateClusterConfigArgs(
                enable_private_nodes=True, enable_private_endpoint=False,
                master_ipv4_cidr_block=net.master_cidr),
            enable_shielded_nodes=True,
            logging_config=container.ClusterLoggingConfigArgs(
                enable_components=["SYSTEM_COMPONENTS", "WORKLOADS"]),
            # In-cluster Prometheus (kube-prometheus-stack) does the metrics the
            # candidate queries; Cloud Monitoring keeps the system view.
            monitoring_config=container.ClusterMonitoringConfigArgs(
                enable_components=["SYSTEM_COMPONENTS"],
                managed_prometheus=container.ClusterMonitoringConfigManagedPrometheusArgs(
                    enabled=False)),
            resource_labels={"gpu-lab-stack": _label_value(spec.stack),
                             **({"expires-at": _label_value(spec.expires_at.replace(":", ""))}
                                if spec.expires_at else {})},
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=self.node_account_roles,
                # node_config describes only the default pool GKE makes first and
                # remove_default_node_pool deletes; the API then reports no node config, and
                # since the field forces a new cluster, every later `pulumi up` would
                # replace the cluster. It matters at creation only.
                ignore_changes=["nodeConfig"]),
            **optional)

        pool = spec.system_pool
        self.system_pool = container.NodePool(
            f"{name}-{pool.name}", name=pool.name, project=gcp.project,
            cluster=self.cluster.name, location=cluster.location,
            initial_node_count=node_settings.initial_nodes_per_zone(cluster, pool.min_nodes, ()),
            autoscaling=node_settings.autoscaling(pool.min_nodes, pool.max_nodes, "BALANCED"),
            management=container.NodePoolManagementArgs(auto_repair=True, auto_upgrade=True),
            node_config=container.NodePoolNodeConfigArgs(
                machine_type=pool.machine_type, disk_size_gb=pool.disk_size_gb,
                disk_type="pd-balanced", spot=pool.spot, image_type="COS_CONTAINERD",
                labels={"gpu-lab/pool": pool.name, "gpu-lab/role": "system"},
                service_account=self.node_account.email,
                oauth_scopes=node_settings.NODE_OAUTH_SCOPES,
                metadata={"disable-legacy-endpoints": "true"},
                workload_metadata_config=node_settings.workload_identity_metadata(),
                shielded_instance_config=node_settings.shielded_nodes()),
            opts=child)

        self.kubeconfig = pulumi.Output.secret(pulumi.Output.all(
            self.cluster.name, self.cluster.endpoint,
            self.cluster.master_auth.cluster_ca_certificate,
        ).apply(lambda args: kubeconfig(gcp, *args)))
        self.provider = k8s.Provider(f"{name}-k8s", kubeconfig=self.kubeconfig,
                                     enable_server_side_apply=True, opts=child)

        self.register_outputs({"name": self.cluster.name, "endpoint": self.cluster.endpoint,
                               "kubeconfig": self.kubeconfig})


def kubeconfig(gcp: GcpSpec, cluster_name: str, endpoint: str, ca_certificate: str) -> str:
    """A kubeconfig that authenticates with gke-gcloud-auth-plugin in its application-default
    mode: kubectl, `lab verify` and `lab new` then act as the same identity the Pulumi GCP
    provider uses (`gcloud auth application-default login`), not gcloud's active account."""
    context = f"gke_{gcp.project}_{cluster_name}"
    return yaml.safe_dump({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": {
            "server": f"https://{endpoint}", "certificate-authority-data": ca_certificate}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
        "current-context": context,
        "users": [{"name": context, "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "gke-gcloud-auth-plugin",
            "args": ["--use_application_default_credentials"],
            "installHint": "gcloud components install gke-gcloud-auth-plugin",
            "provideClusterInfo": True,
        }}}],
    }, sort_keys=False)


def _label_value(text: str) -> str:
    """GCP label values: lowercase letters, digits, '-' and '_', at most 63 characters."""
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text.lower())[:63]
