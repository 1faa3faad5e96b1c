"""Reads what `lab verify` needs from a live cluster with the Kubernetes Python client.

Objects come back as the API server serializes them (camelCase, like kubectl get -o json),
so the same checks run on them as on rendered objects. RBAC questions go to the API server
itself (SubjectAccessReview), which also knows built-in and aggregated roles.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from typing import Any, Optional

from kube.answer import Answer
from kube.objects import ObjectSet
from kube.rbac import Subject, parse_resource
from kube.symptoms import Context
from model.spec import LabSpec

# (kind, apiVersion, client API class, list method) for every kind the checks read.
CORE_KINDS = [
    ("Namespace", "v1", "CoreV1Api", "list_namespace"),
    ("Node", "v1", "CoreV1Api", "list_node"),
    ("Pod", "v1", "CoreV1Api", "list_pod_for_all_namespaces"),
    ("Event", "v1", "CoreV1Api", "list_event_for_all_namespaces"),
    ("ResourceQuota", "v1", "CoreV1Api", "list_resource_quota_for_all_namespaces"),
    ("LimitRange", "v1", "CoreV1Api", "list_limit_range_for_all_namespaces"),
    ("ServiceAccount", "v1", "CoreV1Api", "list_service_account_for_all_namespaces"),
    ("Role", "rbac.authorization.k8s.io/v1", "RbacAuthorizationV1Api",
     "list_role_for_all_namespaces"),
    ("RoleBinding", "rbac.authorization.k8s.io/v1", "RbacAuthorizationV1Api",
     "list_role_binding_for_all_namespaces"),
    ("ClusterRole", "rbac.authorization.k8s.io/v1", "RbacAuthorizationV1Api",
     "list_cluster_role"),
    ("ClusterRoleBinding", "rbac.authorization.k8s.io/v1", "RbacAuthorizationV1Api",
     "list_cluster_role_binding"),
    ("NetworkPolicy", "networking.k8s.io/v1", "NetworkingV1Api",
     "list_network_policy_for_all_namespaces"),
    ("Deployment", "apps/v1", "AppsV1Api", "list_deployment_for_all_namespaces"),
    ("Job", "batch/v1", "BatchV1Api", "list_job_for_all_namespaces"),
]
CUSTOM_KINDS = [("PodMonitor", "podmonitors"), ("ServiceMonitor", "servicemonitors")]
FAILING = ("CrashLoopBackOff", "Error", "StartError", "RunContainerError")


def _failed_log(status: dict) -> Optional[bool]:
    """Which log tells why a container failed: the previous one (it restarted: True), its
    own (it ended with an error and stays so, restartPolicy Never: False), or none."""
    state, last = status.get("state") or {}, status.get("lastState") or {}
    if (state.get("waiting") or {}).get("reason") in FAILING or last.get("terminated"):
        return True
    if (state.get("terminated") or {}).get("exitCode"):
        return False
    return None


def collect(api_client: Any) -> tuple[list[dict], dict[tuple[str, str, str], str]]:
    """(objects, logs of failing containers) from the cluster `api_client` talks to."""
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    objects: list[dict] = []
    for kind, api_version, api_name, method in CORE_KINDS:
        items = getattr(getattr(client, api_name)(api_client), method)().items
        for item in items:
            objects.append({**api_client.sanitize_for_serialization(item), "kind": kind,
                            "apiVersion": api_version})
    custom = client.CustomObjectsApi(api_client)
    for kind, plural in CUSTOM_KINDS:
        try:
            listed = custom.list_cluster_custom_object("monitoring.coreos.com", "v1", plural)
        except ApiException as err:
            if err.status != 404:      # no Prometheus operator: nothing scrapes anything
                raise
            continue
        objects += [{**item, "kind": kind} for item in listed.get("items", [])]

    logs: dict[tuple[str, str, str], str] = {}
    core = client.CoreV1Api(api_client)
    for pod in (o for o in objects if o["kind"] == "Pod"):
        meta, status = pod["metadata"], pod.get("status") or {}
        for container in (status.get("initContainerStatuses") or []) + \
                (status.get("containerStatuses") or []):
            previous = _failed_log(container)
            if previous is None:
                continue
            try:
                logs[(meta["namespace"], meta["name"], container["name"])] = \
                    core.read_namespaced_pod_log(meta["name"], meta["namespace"],
                                                 container=container["name"],
                                                 previous=previous, tail_lines=20)
            except ApiException:
                pass        # no previous container yet: the status says enough
    return objects, logs


def sar_authorizer(api_client: Any):
    """Answers can-i questions with the API server's own authorizer, each question once
    (one reading of the cluster asks the same ones for many checks)."""
    from kubernetes import client

    api = client.AuthorizationV1Api(api_client)
    answered: dict[tuple, Answer] = {}

    def authorize(subject: Subject, verb: str, resource: str, namespace: str) -> Answer:
        question = (subject.user, tuple(subject.groups), verb, resource, namespace)
        if question not in answered:
            answered[question] = ask(subject, verb, resource, namespace)
        return answered[question]

    def ask(subject: Subject, verb: str, resource: str, namespace: str) -> Answer:
        group, base, subresource = parse_resource(resource, None)
        attributes = {"verb": verb, "group": group, "resource": base}
        if namespace:
            attributes["namespace"] = namespace
        if subresource:
            attributes["subresource"] = subresource
        # Plain JSON both ways: the client's model classes cost more than the round trip.
        # (The API server refuses bodies without apiVersion and kind.)
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                  "spec": {"user": subject.user, "groups": list(subject.groups),
                           "resourceAttributes": attributes}}
        response = api.create_subject_access_review(review, _preload_content=False)
        status = json.loads(response.data).get("status") or {}
        allowed = bool(status.get("allowed"))
        reason = status.get("reason") or ("allowed" if allowed else "no RBAC rule allows it")
        return Answer(allowed,
                      f"the API server says {'yes' if allowed else 'no'} to {subject} "
                      f"{verb} {resource} {f'in {namespace}' if namespace else 'cluster-wide'}: "
                      f"{reason}")
    return authorize


def prometheus_has(url: str, query: str, timeout: float = 5.0) -> Optional[bool]:
    """Does `query` return any series? None when Prometheus cannot be reached."""
    address = f"{url.rstrip('/')}/api/v1/query?{urllib.parse.urlencode({'query': query})}"
    try:
        with urllib.request.urlopen(address, timeout=timeout) as response:
            body = json.load(response)
    except (OSError, ValueError):
        return None
    return bool(body.get("data", {}).get("result"))


def live_context(spec: LabSpec, api_client: Any, prometheus_url: Optional[str] = None,
                 collected: Optional[tuple[list[dict], dict]] = None) -> Context:
    """The cluster as `lab verify` judges it (`collected`: what collect() already read)."""
    objects, logs = collected if collected is not None else collect(api_client)
    nodes = [o for o in objects if o["kind"] == "Node"]
    return Context(spec=spec, objects=ObjectSet(objects), nodes=nodes,
                   authorizer=sar_authorizer(api_client), live=True, logs=logs,
                   prometheus=(lambda q: prometheus_has(prometheus_url, q))
                   if prometheus_url else None, now=datetime.now(timezone.utc))
