"""A small stand-in for the Kubernetes API server, on a loopback port: serves the list
endpoints `lab verify` reads from a set of objects, previous container logs, and answers
SubjectAccessReviews with gpu-lab's own RBAC check (the real API server would ask its
authorizer); and, for `lab reset`, the namespaced lists (with label and field selectors) and
deletes of what it cleans, recording each delete. Enough to drive the real Kubernetes client
end to end in tests."""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from kube.objects import ObjectSet
from kube.rbac import Subject, can_i

LISTS = {
    "/api/v1/namespaces": "Namespace", "/api/v1/nodes": "Node", "/api/v1/pods": "Pod",
    "/api/v1/events": "Event", "/api/v1/resourcequotas": "ResourceQuota",
    "/api/v1/limitranges": "LimitRange", "/api/v1/serviceaccounts": "ServiceAccount",
    "/apis/rbac.authorization.k8s.io/v1/roles": "Role",
    "/apis/rbac.authorization.k8s.io/v1/rolebindings": "RoleBinding",
    "/apis/rbac.authorization.k8s.io/v1/clusterroles": "ClusterRole",
    "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings": "ClusterRoleBinding",
    "/apis/networking.k8s.io/v1/networkpolicies": "NetworkPolicy",
    "/apis/apps/v1/deployments": "Deployment", "/apis/batch/v1/jobs": "Job",
    "/apis/monitoring.coreos.com/v1/podmonitors": "PodMonitor",
    "/apis/monitoring.coreos.com/v1/servicemonitors": "ServiceMonitor",
}
LOG = re.compile(r"/api/v1/namespaces/([^/]+)/pods/([^/]+)/log")
# Namespaced collections: (API group, plural) -> kind.
NAMESPACED = {
    ("", "pods"): "Pod", ("", "services"): "Service", ("", "configmaps"): "ConfigMap",
    ("", "secrets"): "Secret", ("", "serviceaccounts"): "ServiceAccount",
    ("", "persistentvolumeclaims"): "PersistentVolumeClaim",
    ("", "replicationcontrollers"): "ReplicationController",
    ("apps", "deployments"): "Deployment", ("apps", "replicasets"): "ReplicaSet",
    ("apps", "statefulsets"): "StatefulSet", ("batch", "jobs"): "Job",
    ("batch", "cronjobs"): "CronJob", ("autoscaling", "horizontalpodautoscalers"):
    "HorizontalPodAutoscaler", ("rbac.authorization.k8s.io", "roles"): "Role",
    ("rbac.authorization.k8s.io", "rolebindings"): "RoleBinding",
    ("networking.k8s.io", "networkpolicies"): "NetworkPolicy",
    ("monitoring.coreos.com", "podmonitors"): "PodMonitor",
    ("monitoring.coreos.com", "servicemonitors"): "ServiceMonitor",
    ("monitoring.coreos.com", "prometheusrules"): "PrometheusRule",
}
IN_NAMESPACE = re.compile(r"/(?:api/v1|apis/([^/]+)/[^/]+)/namespaces/([^/]+)/([^/]+)"
                          r"(?:/([^/]+))?")


def _selected(obj: dict, query: str) -> bool:
    """labelSelector (k=v, k!=v, k) and fieldSelector (metadata.name, metadata.namespace)."""
    params = urllib.parse.parse_qs(query)
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    for term in ",".join(params.get("labelSelector", [])).split(","):
        if not term:
            continue
        key, op, value = re.match(r"([^!=]+)(!=|==|=)?(.*)", term).groups()
        if op is None and key not in labels:
            return False
        if op in ("=", "==") and labels.get(key) != value:
            return False
        if op == "!=" and labels.get(key) == value:
            return False
    for term in ",".join(params.get("fieldSelector", [])).split(","):
        if term:
            field, _, value = term.partition("=")
            if meta.get(field.removeprefix("metadata.")) != value:
                return False
    return True


class FakeKubeAPI:
    def __init__(self, objects: list[dict], logs: dict[tuple[str, str, str], str]):
        self.objects = ObjectSet(objects)
        self.logs = logs
        self.reviews: list[dict] = []
        self.deleted: list[tuple[str, str, str, dict]] = []   # kind, namespace, name, options
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):     # keep test output quiet
                pass

            def _send(self, code: int, body, content_type="application/json"):
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _namespaced(self, path: str):
                """(kind, namespace, name) of a namespaced path it serves, else None."""
                match = IN_NAMESPACE.fullmatch(path)
                if not match:
                    return None
                group, namespace, plural, name = match.groups()
                kind = NAMESPACED.get((group or "", plural))
                return (kind, namespace, name) if kind else None

            def do_GET(self):
                path, _, query = self.path.partition("?")
                if path in LISTS:
                    kind = LISTS[path]
                    self._send(200, {"kind": f"{kind}List", "apiVersion": "v1",
                                     "metadata": {}, "items": [
                                         o for o in api.objects.of_kind(kind)
                                         if _selected(o, query)]})
                    return
                found = None if LOG.fullmatch(path) else self._namespaced(path)
                if found and found[2] is None:
                    kind, namespace, _ = found
                    self._send(200, {"kind": f"{kind}List", "apiVersion": "v1",
                                     "metadata": {}, "items": [
                                         o for o in api.objects.of_kind(kind, namespace)
                                         if _selected(o, query)]})
                    return
                match = LOG.fullmatch(path)
                if match:
                    container = re.search(r"container=([^&]+)", query).group(1)
                    text = api.logs.get((match.group(1), match.group(2), container))
                    if text is None:
                        self._send(400, {"kind": "Status", "code": 400,
                                         "message": "previous terminated container not found"})
                    else:
                        self._send(200, text.encode(), "text/plain")
                    return
                self._send(404, {"kind": "Status", "code": 404, "message": "not found"})

            def do_DELETE(self):
                path, _, query = self.path.partition("?")
                found = self._namespaced(path)
                length = int(self.headers.get("Content-Length") or 0)
                # DeleteOptions: in the body, or as query parameters (the Python client)
                options = json.loads(self.rfile.read(length) or b"{}") if length else {}
                options.update({k: v[-1] for k, v in urllib.parse.parse_qs(query).items()})
                target = found and found[2] and api.objects.get(*[found[0], found[2],
                                                                   found[1]])
                if not target:
                    self._send(404, {"kind": "Status", "apiVersion": "v1", "code": 404,
                                     "status": "Failure", "reason": "NotFound",
                                     "message": "not found"})
                    return
                api.objects = ObjectSet([o for o in api.objects.objects if o is not target])
                api.deleted.append((found[0], found[1], found[2], options))
                self._send(200, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                 "status": "Success"})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if not body.get("kind") or not body.get("apiVersion"):
                    self._send(400, {"kind": "Status", "code": 400,
                                     "message": "Object 'Kind' is missing"})
                    return
                api.reviews.append(body)
                spec = body["spec"]
                attributes = spec["resourceAttributes"]
                resource = attributes["resource"] + (f"/{attributes['subresource']}"
                                                     if attributes.get("subresource") else "")
                answer = can_i(api.objects, Subject(spec.get("user", ""),
                                                    tuple(spec.get("groups") or ())),
                               attributes["verb"], resource, attributes.get("namespace"),
                               api_group=attributes.get("group", ""))
                self._send(201, {**body, "status": {"allowed": answer.allowed,
                                                    "reason": answer.reason}})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeKubeAPI":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def kubeconfig(self) -> dict:
        return {"apiVersion": "v1", "kind": "Config",
                "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
                "users": [{"name": "admin", "user": {"token": "t"}}],
                "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "admin"}}],
                "current-context": "fake"}
