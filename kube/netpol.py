"""egress_allowed / ingress_allowed: what NetworkPolicies let through, with Kubernetes semantics.

A pod is isolated in a direction when any policy selecting it lists that direction in
policyTypes (Ingress is implied; Egress is implied when the policy has egress rules).
An isolated pod may send or receive only what some selecting policy's rule allows;
a rule with no peers allows every peer and a rule with no ports allows every port.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Mapping, Optional

from kube.answer import Answer
from kube.objects import ObjectSet, ref
from kube.selectors import selector_matches


@dataclass(frozen=True)
class Endpoint:
    """The other side of a connection: a pod (namespace + labels) or an IP, and a port."""
    namespace: Optional[str] = None
    labels: Mapping[str, str] = field(default_factory=dict)
    ip: Optional[str] = None
    port: Optional[int] = None
    protocol: str = "TCP"

    @classmethod
    def internet(cls, ip: str = "142.250.80.46", port: int = 443) -> "Endpoint":
        return cls(ip=ip, port=port)

    @classmethod
    def dns(cls) -> "Endpoint":
        return cls(namespace="kube-system", labels={"k8s-app": "kube-dns"}, port=53,
                   protocol="UDP")

    def __str__(self) -> str:
        where = self.ip or f"pods {dict(self.labels) or '(any)'} in {self.namespace}"
        return f"{where} port {self.port}/{self.protocol}" if self.port else where


def policy_types(policy: dict) -> list[str]:
    spec = policy.get("spec", {})
    if spec.get("policyTypes"):
        return spec["policyTypes"]
    return ["Ingress"] + (["Egress"] if spec.get("egress") else [])


def _selecting(objects: ObjectSet, namespace: str, labels: Mapping[str, str],
               direction: str) -> list[dict]:
    return [p for p in objects.of_kind("NetworkPolicy", namespace)
            if direction in policy_types(p)
            and selector_matches(p.get("spec", {}).get("podSelector"), dict(labels))]


def _ports_match(ports: Optional[list], port: Optional[int], protocol: str) -> bool:
    if not ports:
        return True
    for entry in ports:
        if entry.get("protocol", "TCP") != protocol:
            continue
        wanted = entry.get("port")
        if wanted is None:
            return True
        if port is None or isinstance(wanted, str):
            continue  # named ports need the pod spec; treated as not matching a number
        if wanted <= port <= entry.get("endPort", wanted):
            return True
    return False


def _peer_matches(objects: ObjectSet, peer: dict, policy_namespace: str,
                  other: Endpoint) -> bool:
    if "ipBlock" in peer:
        if other.ip is None:
            return False
        address = ipaddress.ip_address(other.ip)
        block = peer["ipBlock"]
        return (address in ipaddress.ip_network(block["cidr"]) and
                not any(address in ipaddress.ip_network(c) for c in block.get("except") or []))
    if other.namespace is None:
        return False   # pod and namespace selectors only ever match pods
    ns_selector = peer.get("namespaceSelector")
    if ns_selector is None:
        same_namespace = other.namespace == policy_namespace
        return same_namespace and selector_matches(peer.get("podSelector"), dict(other.labels))
    return (selector_matches(ns_selector, objects.namespace_labels(other.namespace)) and
            selector_matches(peer.get("podSelector"), dict(other.labels)))


def _allowed(objects: ObjectSet, policies: list[dict], direction: str, other: Endpoint,
             port: Optional[int], protocol: str) -> Optional[dict]:
    """The first policy with a rule that lets `other` through, or None."""
    rules_key, peers_key = ("egress", "to") if direction == "Egress" else ("ingress", "from")
    for policy in policies:
        namespace = policy.get("metadata", {}).get("namespace")
        for rule in policy.get("spec", {}).get(rules_key) or []:
            if not _ports_match(rule.get("ports"), port, protocol):
                continue
            peers = rule.get(peers_key)
            if not peers or any(_peer_matches(objects, peer, namespace, other) for peer in peers):
                return policy
    return None


def egress_allowed(objects: ObjectSet, namespace: str, destination: Endpoint,
                   pod_labels: Mapping[str, str] = {}) -> Answer:
    """May a pod in `namespace` (with these labels) open a connection to `destination`?"""
    policies = _selecting(objects, namespace, pod_labels, "Egress")
    if not policies:
        return Answer(True, f"no NetworkPolicy isolates egress from {namespace}")
    allowing = _allowed(objects, policies, "Egress", destination, destination.port,
                        destination.protocol)
    if allowing:
        return Answer(True, f"{ref(allowing)} allows egress from {namespace} to {destination}")
    names = ", ".join(p["metadata"]["name"] for p in policies)
    return Answer(False, f"egress from {namespace} is isolated (policies: {names}) and no "
                         f"rule allows {destination}")


def ingress_allowed(objects: ObjectSet, from_namespace: str, to_namespace: str,
                    port: Optional[int] = None, from_labels: Mapping[str, str] = {},
                    to_labels: Mapping[str, str] = {}, protocol: str = "TCP") -> Answer:
    """May a pod in `from_namespace` connect to a pod in `to_namespace` on `port`?
    (The receiving side only; the sender's egress is egress_allowed.)"""
    policies = _selecting(objects, to_namespace, to_labels, "Ingress")
    if not policies:
        return Answer(True, f"no NetworkPolicy isolates ingress to {to_namespace}")
    source = Endpoint(namespace=from_namespace, labels=dict(from_labels))
    allowing = _allowed(objects, policies, "Ingress", source, port, protocol)
    what = f"from {from_namespace} to {to_namespace}" + (f" port {port}" if port else "")
    if allowing:
        return Answer(True, f"{ref(allowing)} allows ingress {what}")
    names = ", ".join(p["metadata"]["name"] for p in policies)
    return Answer(False, f"ingress to {to_namespace} is isolated (policies: {names}) and no "
                         f"rule allows ingress {what}")
