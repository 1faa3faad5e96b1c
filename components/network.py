"""Network: the VPC the cluster lives in, NAT for private nodes, and the firewall it needs."""

from __future__ import annotations

import pulumi
from pulumi_gcp import compute, dns

from model.names import gcp_name
from model.spec import ClusterSpec, GcpSpec

PODS_RANGE = "pods"
SERVICES_RANGE = "services"
# Ports the control plane calls on nodes for admission webhooks and aggregated APIs
# (GKE itself only opens 443 and 10250 to private nodes): Prometheus operator
# webhook 10250/8443, GPU Operator 8443, metrics-server 10250/4443, cert-style 9443.
CONTROL_PLANE_TO_NODE_PORTS = ["443", "4443", "8443", "9443", "10250"]
# private.googleapis.com: Google APIs over Private Google Access, never via the internet.
GOOGLE_APIS_VIP = "199.36.153.8/30"
GOOGLE_APIS_ADDRESSES = ["199.36.153.8", "199.36.153.9", "199.36.153.10", "199.36.153.11"]
# Domains whose names resolve to that VIP inside the VPC (APIs, GCS, registries).
GOOGLE_DOMAINS = ("googleapis.com", "gcr.io", "pkg.dev")


class Network(pulumi.ComponentResource):
    def __init__(self, name: str, gcp: GcpSpec, cluster: ClusterSpec,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpu-lab:network:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        net = cluster.network

        self.vpc = compute.Network(
            f"{name}-vpc", name=gcp_name(f"{cluster.name}-vpc"), project=gcp.project,
            auto_create_subnetworks=False, routing_mode="REGIONAL", opts=child)

        self.subnet = compute.Subnetwork(
            f"{name}-subnet", name=gcp_name(f"{cluster.name}-nodes"), project=gcp.project,
            region=gcp.region, network=self.vpc.id, ip_cidr_range=net.subnet_cidr,
            # Private nodes reach Google APIs (Artifact Registry, GCS) without NAT.
            private_ip_google_access=True,
            secondary_ip_ranges=[
                compute.SubnetworkSecondaryIpRangeArgs(range_name=PODS_RANGE,
                                                       ip_cidr_range=net.pods_cidr),
                compute.SubnetworkSecondaryIpRangeArgs(range_name=SERVICES_RANGE,
                                                       ip_cidr_range=net.services_cidr),
            ],
            opts=child)

        # Cloud NAT for the private nodes (they have no external IPs).
        self.router = compute.Router(
            f"{name}-router", name=gcp_name(f"{cluster.name}-router"), project=gcp.project,
            region=gcp.region, network=self.vpc.id, opts=child)
        self.nat = compute.RouterNat(
            f"{name}-nat", name=gcp_name(f"{cluster.name}-nat"), project=gcp.project,
            region=gcp.region, router=self.router.name,
            nat_ip_allocate_option="AUTO_ONLY",
            source_subnetwork_ip_ranges_to_nat="ALL_SUBNETWORKS_ALL_IP_RANGES",
            log_config=compute.RouterNatLogConfigArgs(enable=True, filter="ERRORS_ONLY"),
            opts=child)

        self.allow_internal = compute.Firewall(
            f"{name}-allow-internal", name=gcp_name(f"{cluster.name}-allow-internal"),
            project=gcp.project, network=self.vpc.id, direction="INGRESS",
            source_ranges=[net.subnet_cidr, net.pods_cidr, net.services_cidr],
            allows=[compute.FirewallAllowArgs(protocol="tcp"),
                    compute.FirewallAllowArgs(protocol="udp"),
                    compute.FirewallAllowArgs(protocol="icmp")],
            description="Node, pod and service traffic inside the cluster.",
            opts=child)
        self.allow_control_plane = compute.Firewall(
            f"{name}-allow-control-plane", name=gcp_name(f"{cluster.name}-allow-control-plane"),
            project=gcp.project, network=self.vpc.id, direction="INGRESS",
            source_ranges=[net.master_cidr],
            allows=[compute.FirewallAllowArgs(protocol="tcp",
                                              ports=CONTROL_PLANE_TO_NODE_PORTS)],
            description="The GKE control plane calling webhooks and aggregated APIs on nodes.",
            opts=child)

        # Google APIs (GCS for the GPU driver, Artifact Registry, gcr.io, logging) resolve to
        # the Private Google Access VIP.
        self.google_zones = []
        self.google_records = []
        for domain in GOOGLE_DOMAINS:
            zone_name = gcp_name(f"{cluster.name}-{domain.replace('.', '-')}")
            zone = dns.ManagedZone(
                f"{name}-zone-{domain.replace('.', '-')}", name=zone_name, project=gcp.project,
                dns_name=f"{domain}.", visibility="private",
                description=f"{domain} through Private Google Access",
                private_visibility_config=dns.ManagedZonePrivateVisibilityConfigArgs(
                    networks=[dns.ManagedZonePrivateVisibilityConfigNetworkArgs(
                        network_url=self.vpc.id)]),
                opts=child)
            self.google_zones.append(zone)
            apex = "private.googleapis.com." if domain == "googleapis.com" else f"{domain}."
            self.google_records += [
                dns.RecordSet(f"{name}-zone-{domain.replace('.', '-')}-a", project=gcp.project,
                              managed_zone=zone.name, name=apex, type="A", ttl=300,
                              rrdatas=GOOGLE_APIS_ADDRESSES, opts=child),
                dns.RecordSet(f"{name}-zone-{domain.replace('.', '-')}-cname",
                              project=gcp.project, managed_zone=zone.name, name=f"*.{domain}.",
                              type="CNAME", ttl=300, rrdatas=[apex], opts=child),
            ]

        # Node-to-cluster traffic and Google APIs, at priority 900.
        self.allow_internal_egress = compute.Firewall(
            f"{name}-allow-internal-egress", name=gcp_name(f"{cluster.name}-allow-internal-egress"),
            project=gcp.project, network=self.vpc.id, direction="EGRESS", priority=900,
            destination_ranges=[*net.internal_cidrs, GOOGLE_APIS_VIP],
            allows=[compute.FirewallAllowArgs(protocol="all")],
            description="Nodes reach each other, pods, services, the control plane and "
                        "Google APIs (Private Google Access).",
            opts=child)
        # The stack's own rules (cluster.network.firewallRules).
        self.firewall_rules = [
            compute.Firewall(
                f"{name}-{rule.name}", name=gcp_name(f"{cluster.name}-{rule.name}"),
                project=gcp.project, network=self.vpc.id, direction=rule.direction,
                priority=rule.priority,
                source_ranges=list(rule.source_ranges) or None,
                destination_ranges=list(rule.destination_ranges) or None,
                target_tags=list(rule.target_tags) or None,
                allows=[compute.FirewallAllowArgs(protocol=a.protocol, ports=list(a.ports) or None)
                        for a in rule.allows] or None,
                denies=[compute.FirewallDenyArgs(protocol=d.protocol, ports=list(d.ports) or None)
                        for d in rule.denies] or None,
                description=rule.description,
                opts=child)
            for rule in net.firewall_rules
        ]

        self.register_outputs({"vpc": self.vpc.id, "subnet": self.subnet.id})
