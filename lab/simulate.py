"""`lab simulate`: render a stack offline and ask the twin what the cluster would show: the
pods (`kubectl get pods -A`) and what Prometheus would show (`--query`, `--alerts`: the
targets and series of kube/prometheus_targets.py and kube/prometheus_series.py, evaluated
by Prometheus' own engine, kube/prometheus_engine.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional

from faults import build_spec
from kube.objects import ObjectSet
from kube.twin import PodView, simulate, simulate_cluster
from lab.render import PLACEHOLDER_PROJECT, Rendering, render


def simulate_rendering(spec, rendering: Rendering,
                       after: Optional[float] = None) -> list[PodView]:
    """The pods `after` seconds after they were created (None: once the cluster settles;
    kube/timeline.py)."""
    return simulate(spec, ObjectSet(rendering.check_objects()), after=after,
                    operator_pods=True)


def simulate_stack(values: Mapping[str, Any], stack: str,
                   after: Optional[float] = None) -> list[PodView]:
    values = dict(values)
    values.setdefault("gcp:project", PLACEHOLDER_PROJECT)
    spec = build_spec(values, stack=stack)
    return simulate_rendering(spec, render(values, stack=stack), after)


def table(views: list[PodView]) -> list[str]:
    """Like `kubectl get pods -A -o wide`, plus why for every pod that is not fine."""
    rows = [("NAMESPACE", "NAME", "STATUS", "RESTARTS", "NODE", "OWNER")]
    rows += [(v.namespace, v.pod or "(not created)", v.status, str(v.restarts),
              v.node or "<none>", v.owner) for v in views]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["   ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
             for row in rows]
    troubled = [v for v in views if v.status not in ("Running", "Completed")]
    if troubled:
        lines.append("")
        for view in troubled:
            lines.append(f"{view.namespace}/{view.pod or view.owner}: {view.reason}: "
                         f"{view.message}")
    running = sum(v.status in ("Running", "Completed") for v in views)
    lines.append(f"{len(views)} pods: {running} Running or Completed, "
                 f"{len(views) - running} not")
    return lines


# -- what Prometheus would show ------------------------------------------------------------

class NoPrometheus(ValueError):
    """The stack runs no Prometheus (gpu-lab:addons.monitoring.enabled is false)."""


@dataclass
class PrometheusView:
    """A stack as Prometheus sees it: its targets, their series and the alert rules."""
    targets: list
    series: list
    rule_groups: list[dict]


def _pods(spec, views: list[PodView], objects: ObjectSet) -> list[dict]:
    """The twin's pods as the API server holds them: the LimitRange's defaults in their
    containers (admission), an IP once bound to a node."""
    from kube import limitrange
    from kube.prometheus_platform import ip
    from lab.snapshot import twin_objects

    made, _ = twin_objects(views, objects)
    pods = []
    for pod in (o for o in made if o["kind"] == "Pod"):
        namespace = pod["metadata"]["namespace"]
        admitted, errors = limitrange.admit_pod(pod, objects.of_kind("LimitRange", namespace))
        pod = admitted if not errors and admitted else pod
        if pod["spec"].get("nodeName"):
            pod["status"]["podIP"] = ip(namespace, pod["metadata"]["name"])
        pods.append(pod)
    return pods


def _jobs(views: list[PodView], objects: ObjectSet) -> list[dict]:
    """Jobs with the status the Job controller gives them once the twin's pods settle."""
    jobs = []
    for job in objects.of_kind("Job"):
        meta = job["metadata"]
        mine = [v for v in views if v.owner == f"Job/{meta['name']}"
                and v.namespace == meta.get("namespace")]
        failed = sum(v.phase == "Failed" for v in mine)
        succeeded = sum(v.status == "Completed" for v in mine)
        active = sum(bool(v.pod) and v.phase not in ("Failed", "Succeeded") for v in mine)
        exceeded = any(v.status == "BackoffLimitExceeded" or any(
            "BackoffLimitExceeded" in e for e in v.events) for v in mine)
        conditions = []
        if exceeded:
            conditions.append({"type": "Failed", "status": "True",
                               "reason": "BackoffLimitExceeded"})
        elif mine and succeeded and not active:
            conditions.append({"type": "Complete", "status": "True"})
        jobs.append({**job, "status": {"failed": failed + sum(
            v.status == "BackoffLimitExceeded" for v in mine), "succeeded": succeeded,
            "active": active, "conditions": conditions}})
    return jobs


def prometheus_view(spec, rendering: Rendering, after: Optional[float] = None) -> PrometheusView:
    """The scrape targets, series and rules of a rendered stack, from what the twin says
    its pods do once the cluster settles, or `after` seconds in (the nodes the autoscaler
    kept, the pods PodGC left). Raises NoPrometheus when the stack has no monitoring."""
    from kube.nodes import nodes_from_spec
    from kube.prometheus_platform import (chart_monitors, chart_release, created_at_run_time,
                                          platform_objects)
    from kube.prometheus_rules import chart_rule_groups
    from kube.prometheus_series import ClusterState, series
    from kube.prometheus_targets import Discovery

    objects = ObjectSet(rendering.check_objects())
    release = chart_release(objects)
    if release is None:
        raise NoPrometheus("the stack runs no Prometheus (gpu-lab:addons.monitoring.enabled "
                           "is false)")
    views, nodes = simulate_cluster(spec, objects, nodes_from_spec(spec, objects), after)
    platform = platform_objects(spec, objects, nodes)
    all_nodes = [o for o in platform if o["kind"] == "Node"] + nodes
    rendered = [o for o in objects.objects if o.get("kind") not in ("Job",)]
    cluster = ObjectSet(rendered + _jobs(views, objects) + _pods(spec, views, objects) +
                        platform + chart_monitors(objects) + created_at_run_time(objects) +
                        nodes)
    values = (release.get("spec") or {}).get("values") or {}
    prometheus = (values.get("prometheus") or {}).get("prometheusSpec") or {}
    targets = Discovery(cluster, prometheus, release["metadata"]["name"]).targets()
    found = series(ClusterState(spec, cluster, all_nodes), targets)
    groups = [g for rule in cluster.of_kind("PrometheusRule")
              for g in (rule.get("spec") or {}).get("groups") or []]
    return PrometheusView(targets, found, groups + chart_rule_groups(values))


def prometheus_stack(values: Mapping[str, Any], stack: str,
                     after: Optional[float] = None) -> PrometheusView:
    values = dict(values)
    values.setdefault("gcp:project", PLACEHOLDER_PROJECT)
    spec = build_spec(values, stack=stack)
    return prometheus_view(spec, render(values, stack=stack), after)


def query(view: PrometheusView, expr: str) -> list[dict]:
    """An instant query at the settled time, by Prometheus' own engine (with the rules
    evaluated when the query reads what they write: ALERTS, ALERTS_FOR_STATE)."""
    from kube.prometheus_engine import query as run_query

    rules = view.rule_groups if "ALERTS" in expr else ()
    return run_query({"stack": view.series}, expr, rules)["stack"]


def alerts(view: PrometheusView) -> list[dict]:
    """The alerts firing at the settled time, by Prometheus' own rule manager."""
    from kube.prometheus_engine import firing_alerts

    return firing_alerts(view.rule_groups, {"stack": view.series})["stack"]


def _labels(metric: dict) -> str:
    name = metric.get("__name__", "")
    rest = ", ".join(f'{k}="{v}"' for k, v in sorted(metric.items()) if k != "__name__")
    return f"{name}{{{rest}}}"


def _value(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def query_lines(result: list[dict]) -> list[str]:
    """One line per series, like the expression browser's table; no data: say so."""
    if not result:
        return ["no data"]
    return [f"{_labels(r['metric'])} {_value(r['value'])}" for r in result]


def alert_lines(firing: list[dict]) -> list[str]:
    if not firing:
        return ["no alerts firing"]
    return [f"{a['alert']} {_labels(a['labels']).lstrip()}" for a in firing]
