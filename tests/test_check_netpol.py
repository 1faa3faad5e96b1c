"""egress_allowed / ingress_allowed against hand-written NetworkPolicies."""

from kube import Endpoint, ObjectSet, egress_allowed, ingress_allowed


def policy(name, namespace, spec):
    return {"kind": "NetworkPolicy", "metadata": {"name": name, "namespace": namespace},
            "spec": spec}


def namespace(name, **labels):
    return {"kind": "Namespace", "metadata": {"name": name, "labels": labels}}


DENY_ALL = {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_no_policy_means_open():
    objects = ObjectSet([])
    assert egress_allowed(objects, "a", Endpoint.internet())
    assert ingress_allowed(objects, "b", "a", 80)


def test_default_deny_blocks_both_ways():
    objects = ObjectSet([policy("deny", "a", DENY_ALL)])
    assert not egress_allowed(objects, "a", Endpoint.internet())
    assert not egress_allowed(objects, "a", Endpoint.dns())
    assert not ingress_allowed(objects, "b", "a", 80)
    assert ingress_allowed(objects, "a", "b", 80)   # b has no policy


def test_ingress_only_policy_does_not_isolate_egress():
    objects = ObjectSet([policy("ingress", "a", {"podSelector": {}})])
    assert egress_allowed(objects, "a", Endpoint.internet())
    assert not ingress_allowed(objects, "b", "a", 80)


def test_ip_block_with_except():
    objects = ObjectSet([policy("deny", "a", DENY_ALL), policy("internet", "a", {
        "podSelector": {}, "policyTypes": ["Egress"],
        "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}]}]})])
    assert egress_allowed(objects, "a", Endpoint.internet())
    assert not egress_allowed(objects, "a", Endpoint(ip="10.1.2.3", port=443))
    # Pods are matched by selectors, not by an ipBlock.
    assert not egress_allowed(objects, "a", Endpoint(namespace="b", port=443))


def test_ports_and_protocols():
    objects = ObjectSet([policy("deny", "a", DENY_ALL), policy("web", "a", {
        "podSelector": {}, "policyTypes": ["Egress"],
        "egress": [{"ports": [{"protocol": "TCP", "port": 443},
                              {"protocol": "TCP", "port": 8000, "endPort": 8100}]}]})])
    assert egress_allowed(objects, "a", Endpoint.internet(port=443))
    assert egress_allowed(objects, "a", Endpoint.internet(port=8080))
    assert not egress_allowed(objects, "a", Endpoint.internet(port=80))
    assert not egress_allowed(objects, "a", Endpoint(ip="1.1.1.1", port=443, protocol="UDP"))


def test_namespace_and_pod_selectors():
    objects = ObjectSet([namespace("monitoring", team="platform"), namespace("b"),
                         policy("deny", "a", DENY_ALL), policy("scrape", "a", {
                             "podSelector": {"matchLabels": {"app": "infer"}},
                             "ingress": [{"from": [{"namespaceSelector": {
                                 "matchLabels": {"team": "platform"}}}],
                                 "ports": [{"port": 8000}]}]})])
    assert ingress_allowed(objects, "monitoring", "a", 8000, to_labels={"app": "infer"})
    assert not ingress_allowed(objects, "monitoring", "a", 8000, to_labels={"app": "db"})
    assert not ingress_allowed(objects, "monitoring", "a", 9000, to_labels={"app": "infer"})
    assert not ingress_allowed(objects, "b", "a", 8000, to_labels={"app": "infer"})


def test_pod_selector_alone_means_the_policy_namespace():
    objects = ObjectSet([policy("deny", "a", DENY_ALL), policy("same", "a", {
        "podSelector": {}, "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"podSelector": {}}]}]})])
    assert ingress_allowed(objects, "a", "a", 80)
    assert not ingress_allowed(objects, "b", "a", 80)


def test_name_label_is_implicit():
    objects = ObjectSet([policy("deny", "a", DENY_ALL), policy("dns", "a", {
        "podSelector": {}, "policyTypes": ["Egress"],
        "egress": [{"to": [{"namespaceSelector": {"matchLabels": {
            "kubernetes.io/metadata.name": "kube-system"}}}]}]})])
    answer = egress_allowed(objects, "a", Endpoint.dns())
    assert answer and "NetworkPolicy/a/dns" in answer.reason


def test_match_expressions():
    objects = ObjectSet([policy("deny", "a", DENY_ALL), policy("not-b", "a", {
        "podSelector": {}, "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"namespaceSelector": {"matchExpressions": [
            {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["b"]}]}}]}]})])
    assert ingress_allowed(objects, "c", "a", 80)
    assert not ingress_allowed(objects, "b", "a", 80)
