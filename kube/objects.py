"""ObjectSet: Kubernetes objects (dicts) indexed by kind and namespace."""

from __future__ import annotations

from typing import Iterable, Optional


def ref(obj: dict) -> str:
    """kind/namespace/name, or kind/name for cluster-scoped objects."""
    meta = obj.get("metadata", {})
    parts = [obj.get("kind", "?"), meta.get("namespace"), meta.get("name", "?")]
    return "/".join(p for p in parts if p)


class ObjectSet:
    def __init__(self, objects: Iterable[dict]):
        self.objects = list(objects)
        self._by_kind: dict[str, list[dict]] = {}
        for obj in self.objects:
            self._by_kind.setdefault(obj.get("kind", ""), []).append(obj)

    def of_kind(self, kind: str, namespace: Optional[str] = None) -> list[dict]:
        found = self._by_kind.get(kind, [])
        if namespace is None:
            return list(found)
        return [o for o in found if o.get("metadata", {}).get("namespace") == namespace]

    def get(self, kind: str, name: str, namespace: Optional[str] = None) -> Optional[dict]:
        for obj in self.of_kind(kind, namespace):
            if obj.get("metadata", {}).get("name") == name:
                return obj
        return None

    def namespace_labels(self, namespace: str) -> dict[str, str]:
        """A namespace's labels, with the name label the API server always sets."""
        obj = self.get("Namespace", namespace)
        labels = dict((obj or {}).get("metadata", {}).get("labels") or {})
        labels["kubernetes.io/metadata.name"] = namespace
        return labels

    def namespaces(self) -> list[str]:
        return [o["metadata"]["name"] for o in self.of_kind("Namespace")]

    def workload_pods(self) -> list[tuple[dict, dict, int]]:
        """(controller, pod built from its template, pods it runs) for Deployments and Jobs."""
        found = []
        for kind in ("Deployment", "Job"):
            for controller in self.of_kind(kind):
                spec = controller.get("spec") or {}
                template = spec.get("template") or {}
                pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {
                    **(template.get("metadata") or {}),
                    "namespace": controller["metadata"].get("namespace")},
                    "spec": template.get("spec") or {}}
                count = spec.get("replicas", 1) if kind == "Deployment" else \
                    spec.get("parallelism", 1)
                found.append((controller, pod, int(count)))
        return found
