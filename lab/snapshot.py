"""Snapshots: a cluster's state in a file, to grade later or elsewhere.

A snapshot is what `kubectl get ... -A -o yaml` prints: a `kind: List` (or any `...List`)
with `items`, or several YAML documents, each a List or one object. Pods carry their
status, Events are objects like any other, Nodes are read when present. Container logs,
which kubectl get does not print, may ride along as items of gpu-lab's own kind `PodLog`
(`lab report` writes them for the failing containers whose previous logs it read):

    apiVersion: gpu-lab/v1
    kind: PodLog
    metadata: {namespace: tenant-a, name: batch-7x2k}
    container: install-deps
    log: "exec /usr/local/bin/python: exec format error"

`twin_objects` turns what the twin says pods do (kube/twin.py PodViews) into the Pods,
Events and logs a cluster would show for them, so a state computed offline can be written
as a snapshot or served as a cluster.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Optional

import yaml

from kube.nodes import nodes_from_spec
from kube.objects import ObjectSet
from kube.symptoms import Context
from model.spec import LabSpec

# libyaml's safe loader and dumper when PyYAML has them (snapshots run to megabytes).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
LOG_KIND = "PodLog"
TAKEN_AT = "gpu-lab/taken-at"
Logs = dict[tuple[str, str, str], str]


class SnapshotError(ValueError):
    """The file is not a snapshot that can be read; says why."""


def _items(document: Any, where: str) -> list[dict]:
    if document is None:
        return []
    if not isinstance(document, dict):
        raise SnapshotError(f"{where}: a YAML document must be a Kubernetes object or a List")
    if "items" in document and str(document.get("kind", "List")).endswith("List"):
        items = document.get("items") or []
        if not isinstance(items, list):
            raise SnapshotError(f"{where}: items must be a list")
        return [item for item in items]
    return [document]


def parse(text: str, source: str = "snapshot") -> tuple[list[dict], Logs, Optional[datetime]]:
    """(objects, logs, when it was taken) from a snapshot's text: YAML (`kubectl get -o
    yaml`, one or more documents) or JSON (`-o json`), which JSON's own parser reads
    several times faster."""
    try:
        documents = [json.loads(text)] if text.lstrip()[:1] in ("{", "[") else None
    except ValueError:
        documents = None                # YAML in flow style, say: the YAML parser decides
    try:
        if documents is None:
            documents = list(yaml.load_all(text, Loader=_LOADER))
    except yaml.YAMLError as err:
        raise SnapshotError(f"{source}: not valid YAML: {err}") from None
    objects: list[dict] = []
    logs: Logs = {}
    taken: Optional[datetime] = None
    for number, document in enumerate(documents, 1):
        where = f"{source} (document {number})"
        if isinstance(document, dict):
            stamp = ((document.get("metadata") or {}).get("annotations") or {}).get(TAKEN_AT)
            taken = _when(stamp) or taken
        for item in _items(document, where):
            if not isinstance(item, dict) or not item.get("kind") or \
                    not isinstance(item.get("metadata"), dict):
                raise SnapshotError(f"{where}: every item needs a kind and metadata "
                                    f"(got {str(item)[:60]!r})")
            if item["kind"] == LOG_KIND:
                meta = item["metadata"]
                logs[(meta.get("namespace"), meta.get("name"), item.get("container"))] = \
                    str(item.get("log") or "")
            else:
                objects.append(item)
    if not objects:
        raise SnapshotError(f"{source}: holds no Kubernetes objects")
    return objects, logs, taken or _latest_event(objects)


def _when(stamp: Any) -> Optional[datetime]:
    if isinstance(stamp, datetime):
        return stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)
    if not stamp:
        return None
    try:
        return datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return None


def _latest_event(objects: list[dict]) -> Optional[datetime]:
    """Without a recorded time, the snapshot is as recent as its newest Event."""
    stamps = [_when(o.get("lastTimestamp") or o.get("eventTime")) for o in objects
              if o.get("kind") == "Event"]
    stamps = [s for s in stamps if s is not None]
    return max(stamps) if stamps else None


def read(path: Path) -> tuple[list[dict], Logs, Optional[datetime]]:
    try:
        text = Path(path).read_text()
    except OSError as err:
        raise SnapshotError(f"cannot read {path}: {err.strerror or err}") from None
    return parse(text, str(path))


def context(spec: LabSpec, objects: list[dict], logs: Logs,
            taken: Optional[datetime] = None) -> Context:
    """The judged state of a snapshot: its objects, its nodes (or, when it has none, the
    nodes the spec's pools would have), its pods, events and logs as runtime evidence."""
    nodes = [o for o in objects if o.get("kind") == "Node"]
    rest = ObjectSet([o for o in objects if o.get("kind") != "Node"])
    observed_nodes = bool(nodes)
    if not nodes:
        nodes = nodes_from_spec(spec, rest)
    return Context(spec=spec, objects=rest, nodes=nodes, observed=True, logs=dict(logs),
                   now=taken, nodes_observed=observed_nodes)


def dump(objects: Iterable[dict], logs: Optional[Logs] = None,
         taken: Optional[datetime] = None, as_json: bool = False) -> str:
    """A snapshot file's text: one `kind: List` with the objects and their logs, in YAML
    (or JSON, as `kubectl get -o json` writes it)."""
    items = list(objects)
    for (namespace, name, container), text in sorted((logs or {}).items()):
        items.append({"apiVersion": "gpu-lab/v1", "kind": LOG_KIND,
                      "metadata": {"namespace": namespace, "name": name},
                      "container": container, "log": text})
    metadata: dict[str, Any] = {"resourceVersion": ""}
    if taken is not None:
        metadata["annotations"] = {TAKEN_AT: taken.astimezone(timezone.utc).isoformat()}
    document = {"apiVersion": "v1", "kind": "List", "metadata": metadata, "items": items}
    if as_json:
        return json.dumps(document, indent=1) + "\n"
    return yaml.dump(document, Dumper=_DUMPER, sort_keys=False, width=100)


def write(path: Path, objects: Iterable[dict], logs: Optional[Logs] = None,
          taken: Optional[datetime] = None) -> Path:
    """The snapshot in `path`: JSON when its name ends in .json, else YAML."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump(objects, logs, taken, as_json=path.suffix == ".json"))
    return path


# -- what the twin says, as a cluster shows it ---------------------------------------------

def _uid(*parts: str) -> str:
    digest = hashlib.sha256("/".join(parts).encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def _exit_code(message: str, default: int = 1) -> int:
    found = re.search(r"(?:exited with code|Exit Code) (\d+)", message)
    return int(found.group(1)) if found else default


def _event(namespace: str, involved: dict, text: str, index: int, at: str) -> dict:
    kind, reason, source, message = (text.split(" ", 3) + ["", "", "", ""])[:4]
    return {"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{involved['name']}.{index:04d}", "namespace": namespace},
            "involvedObject": {**involved, "namespace": namespace},
            "type": kind, "reason": reason, "source": {"component": source},
            "message": message, "count": 1, "lastTimestamp": at}


def _container_states(view, template: dict) -> tuple[str, list[dict], list[dict]]:
    """(phase, init container statuses, container statuses) for what the twin says."""
    init = [c["name"] for c in template.get("initContainers") or []]
    main = [c["name"] for c in template.get("containers") or []]
    images = {c["name"]: c.get("image", "") for c in
              (template.get("initContainers") or []) + (template.get("containers") or [])}
    status = view.status
    failing_init = status.startswith("Init:")
    said = list(view.logs)
    culprit = said[-1] if said else (init[0] if failing_init and init else main[0])
    completed = {"terminated": {"exitCode": 0, "reason": "Completed"}}
    initializing = {"waiting": {"reason": "PodInitializing"}}

    def entry(name: str, state: dict, ready: bool = False, last: Optional[dict] = None,
              restarts: int = 0) -> dict:
        found = {"name": name, "image": images.get(name, ""), "imageID": "", "ready": ready,
                 "restartCount": restarts, "started": "running" in state, "state": state}
        if last:
            found["lastState"] = last
        return found

    def failed(name: str) -> dict:
        if "ImagePullBackOff" in status:
            return entry(name, {"waiting": {"reason": "ImagePullBackOff",
                                            "message": view.message}})
        if "CrashLoopBackOff" in status:
            return entry(name, {"waiting": {"reason": "CrashLoopBackOff", "message":
                                            f"back-off 5m0s restarting failed container={name}"}},
                         last={"terminated": {"exitCode": _exit_code(view.message),
                                              "reason": "Error"}},
                         restarts=view.restarts)
        return entry(name, {"terminated": {"exitCode": _exit_code(view.message),
                                           "reason": "Error"}})

    if failing_init:
        at = init.index(culprit) if culprit in init else len(init)
        inits = [entry(n, completed, ready=True) if i < at else
                 failed(n) if i == at else entry(n, initializing) for i, n in enumerate(init)]
        mains = [entry(n, initializing) for n in main]
        phase = "Failed" if status == "Init:Error" else "Pending"
        return phase, inits, mains
    inits = [entry(n, completed, ready=True) for n in init]
    if status == "Running":
        return "Running", inits, [entry(n, {"running": {"startedAt": "2026-01-01T00:00:00Z"}},
                                        ready=True) for n in main]
    if status == "Completed":
        return "Succeeded", inits, [entry(n, completed) for n in main]
    mains = [failed(n) if n == culprit else entry(n, {"running": {}}, ready=True)
             for n in main]
    phase = {"Error": "Failed", "CrashLoopBackOff": "Running"}.get(status, "Pending")
    return phase, inits, mains


def twin_objects(views: list, objects: ObjectSet,
                 at: str = "2026-01-01T00:00:00Z") -> tuple[list[dict], Logs]:
    """The Pods and Events a cluster would show for the twin's PodViews, and the previous
    logs of their failed containers."""
    made: list[dict] = []
    logs: Logs = {}
    for view in views:
        kind, name = view.owner.split("/", 1)
        controller = objects.get(kind, name, view.namespace) or {}
        template = (controller.get("spec") or {}).get("template") or {}
        owner_kind = "ReplicaSet" if kind == "Deployment" else "Job"
        owner_name = f"{name}-{view.pod.rsplit('-', 2)[-2]}" if view.pod and \
            kind == "Deployment" else (f"{name}-rs" if kind == "Deployment" else name)
        if view.pod is None:
            involved = {"kind": owner_kind, "name": owner_name}
            made += [_event(view.namespace, involved, text, i, at)
                     for i, text in enumerate(view.events)]
            continue
        spec = dict(template.get("spec") or {})
        if view.node:
            spec["nodeName"] = view.node
        status: dict[str, Any] = {"qosClass": "Guaranteed"}
        if view.status == "Pending" and not view.node:
            status.update(phase="Pending", conditions=[{
                "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": view.message}])
        else:
            phase, inits, mains = _container_states(view, spec)
            status.update(phase=phase, conditions=[{"type": "PodScheduled", "status": "True"}],
                          initContainerStatuses=inits, containerStatuses=mains)
            for entry in inits + mains:
                state = entry.get("lastState") or entry["state"]
                code = (state.get("terminated") or {}).get("exitCode")
                if code and entry["name"] in view.logs:
                    logs[(view.namespace, view.pod, entry["name"])] = view.logs[entry["name"]]
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": view.pod, "namespace": view.namespace,
                            "labels": dict((template.get("metadata") or {}).get("labels") or {}),
                            "ownerReferences": [{"apiVersion": "apps/v1" if kind == "Deployment"
                                                 else "batch/v1", "kind": owner_kind,
                                                 "name": owner_name, "controller": True,
                                                 "uid": _uid(view.namespace, owner_name)}]},
               "spec": spec, "status": status}
        made.append(pod)
        made += [_event(view.namespace, {"kind": "Pod", "name": view.pod}, text, i, at)
                 for i, text in enumerate(view.events)]
    return made, logs
